"""Manila share snapshots: create (idempotent by name), get, find, delete, waits.

Labels ``share_snapshot_create``/``_get``/``_list``/``_delete``. A snapshot name is the CSI
snapshot name: the same name on another source share is AlreadyExists. Cinder snapshots live
in ``snapshots``; this module knows only the shared-file-system proxy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from osk8s_core.openstack.filters import named
from osk8s_core.openstack.idempotency import create_once, require_match, single
from osk8s_core.openstack.waiting import Waiter

if TYPE_CHECKING:
    from openstack.connection import Connection
    from openstack.shared_file_system.v2._proxy import Proxy as SharesApi
    from openstack.shared_file_system.v2.share_snapshot import ShareSnapshot

    from osk8s_core.openstack.client import OpenStackClient


class ShareSnapshots:
    """Manila share snapshots of the client's project."""

    def __init__(
        self, client: OpenStackClient[Connection], *, waiter: Waiter | None = None
    ) -> None:
        self._client = client
        self._waiter = waiter if waiter is not None else Waiter()

    @property
    def _api(self) -> SharesApi:
        return cast("SharesApi", self._client.service("shared_file_system"))

    def get(self, snapshot_id: str) -> ShareSnapshot:
        return self._client.call("share_snapshot_get", self._api.get_share_snapshot, snapshot_id)

    def query(self, **filters: Any) -> list[ShareSnapshot]:
        return self._client.call(
            "share_snapshot_list", lambda: list(self._api.share_snapshots(**filters))
        )

    def find_by_name(self, name: str) -> ShareSnapshot | None:
        return single(named(self.query(name=name), name), what=f"share snapshots named {name!r}")

    def create(
        self, name: str, share_id: str, *, description: str | None = None, wait: bool = True
    ) -> ShareSnapshot:
        """Snapshot ``share_id`` as ``name``, or return the snapshot an earlier call made
        (same source share); another source is AlreadyExists; a lost answer is resolved by
        looking the name up again. ``wait``: until ``available``."""
        attrs: dict[str, Any] = {"name": name, "share_id": share_id}
        if description is not None:
            attrs["description"] = description
        snapshot = create_once(
            find=lambda: self.find_by_name(name),
            create=lambda: self._client.call(
                "share_snapshot_create", self._api.create_share_snapshot, idempotent=False, **attrs
            ),
            check=lambda found: require_match(
                found, {"share_id": share_id}, what=f"share snapshot {name!r}"
            ),
        )
        return self.wait_available(snapshot.id) if wait else snapshot

    def wait_available(self, snapshot_id: str) -> ShareSnapshot:
        return self._waiter.until(
            lambda: self.get(snapshot_id),
            target="available",
            failure=("error",),
            describe=f"share snapshot {snapshot_id}",
        )

    def delete(self, snapshot_id: str, *, wait: bool = False) -> None:
        """Delete; one already gone is success. ``wait``: until it is gone."""
        self._client.call(
            "share_snapshot_delete",
            lambda: self._api.delete_share_snapshot(snapshot_id, ignore_missing=True),
        )
        if wait:
            self._waiter.until_gone(
                lambda: self.get(snapshot_id),
                describe=f"share snapshot {snapshot_id} deletion",
                failure=("error_deleting",),
            )
