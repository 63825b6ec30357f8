"""Cinder snapshots: create (idempotent by name), get, find, list, delete, waits.

Labels ``snapshot_create``/``_get``/``_list``/``_delete`` as CPO's cinder CSI. A snapshot
name is the CSI snapshot name: the same name on another source volume is ALREADY_EXISTS.
Thin layer over the block-storage v3 proxy; backups live in ``backups``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from osk8s_core.openstack.filters import named
from osk8s_core.openstack.idempotency import create_once, require_match, single
from osk8s_core.openstack.waiting import Waiter

if TYPE_CHECKING:
    from openstack.block_storage.v3._proxy import Proxy as BlockStorage
    from openstack.block_storage.v3.snapshot import Snapshot
    from openstack.connection import Connection

    from osk8s_core.openstack.client import OpenStackClient


class Snapshots:
    """Cinder snapshots of the client's project."""

    def __init__(
        self, client: OpenStackClient[Connection], *, waiter: Waiter | None = None
    ) -> None:
        self._client = client
        self._waiter = waiter if waiter is not None else Waiter()

    @property
    def _api(self) -> BlockStorage:
        return cast("BlockStorage", self._client.service("block_storage"))

    def get(self, snapshot_id: str) -> Snapshot:
        return self._client.call("snapshot_get", self._api.get_snapshot, snapshot_id)

    def query(self, **filters: Any) -> list[Snapshot]:
        """Snapshots matching Cinder's filters (``name``, ``volume_id``, ``status``...)."""
        return self._client.call("snapshot_list", lambda: list(self._api.snapshots(**filters)))

    def find_by_name(self, name: str) -> Snapshot | None:
        return single(named(self.query(name=name), name), what=f"snapshots named {name!r}")

    def create(
        self,
        name: str,
        volume_id: str,
        *,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        force: bool = False,
        wait: bool = True,
    ) -> Snapshot:
        """Snapshot ``volume_id`` as ``name``, or return the snapshot an earlier call made.

        Idempotent by name: found with the same source volume is returned, another source
        is AlreadyExists; a lost create answer is resolved by looking the name up again.
        ``force`` snapshots an in-use volume (CPO ``force-create``). ``wait``: until available.
        """
        attrs: dict[str, Any] = {"name": name, "volume_id": volume_id, "force": force}
        if description is not None:
            attrs["description"] = description
        if metadata:
            attrs["metadata"] = dict(metadata)
        what = f"snapshot {name!r}"
        snapshot = create_once(
            find=lambda: self.find_by_name(name),
            create=lambda: self._client.call(
                "snapshot_create", self._api.create_snapshot, idempotent=False, **attrs
            ),
            check=lambda found: require_match(found, {"volume_id": volume_id}, what=what),
        )
        return self.wait_available(snapshot.id) if wait else snapshot

    def wait_available(self, snapshot_id: str) -> Snapshot:
        return self._waiter.until(
            lambda: self.get(snapshot_id),
            target="available",
            failure=("error",),
            describe=f"snapshot {snapshot_id}",
        )

    def delete(self, snapshot_id: str, *, wait: bool = False) -> None:
        """Delete; an already deleted snapshot is success. ``wait``: until it is gone."""
        self._client.call(
            "snapshot_delete", self._api.delete_snapshot, snapshot_id, ignore_missing=True
        )
        if wait:
            self._waiter.until_gone(
                lambda: self.get(snapshot_id),
                describe=f"snapshot {snapshot_id} deletion",
                failure=("error_deleting",),
            )
