"""Cinder backups: create (idempotent by name), get, find, list, delete, waits.

Labels ``backup_create``/``_get``/``_list``/``_delete`` as CPO's cinder CSI, which uses a
backup as a "snapshot" of VolumeSnapshotClass type ``backup``. Needs a cinder-backup service
in the cloud; without one Cinder refuses the create. Thin layer over the v3 proxy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from osk8s_core.openstack.filters import named
from osk8s_core.openstack.idempotency import create_once, require_match, single
from osk8s_core.openstack.waiting import Waiter

if TYPE_CHECKING:
    from openstack.block_storage.v3._proxy import Proxy as BlockStorage
    from openstack.block_storage.v3.backup import Backup
    from openstack.connection import Connection

    from osk8s_core.openstack.client import OpenStackClient


class Backups:
    """Cinder backups of the client's project."""

    def __init__(
        self, client: OpenStackClient[Connection], *, waiter: Waiter | None = None
    ) -> None:
        self._client = client
        self._waiter = waiter if waiter is not None else Waiter()

    @property
    def _api(self) -> BlockStorage:
        return cast("BlockStorage", self._client.service("block_storage"))

    def get(self, backup_id: str) -> Backup:
        return self._client.call("backup_get", self._api.get_backup, backup_id)

    def query(self, **filters: Any) -> list[Backup]:
        return self._client.call("backup_list", lambda: list(self._api.backups(**filters)))

    def find_by_name(self, name: str) -> Backup | None:
        return single(named(self.query(name=name), name), what=f"backups named {name!r}")

    def create(
        self,
        name: str,
        volume_id: str,
        *,
        snapshot_id: str | None = None,
        availability_zone: str | None = None,
        description: str | None = None,
        wait: bool = True,
    ) -> Backup:
        """Back up ``volume_id`` (from ``snapshot_id`` when given) as ``name``.

        Idempotent by name like snapshots: the same name from another volume is
        AlreadyExists, and a lost answer is resolved by looking the name up again.
        """
        attrs: dict[str, Any] = {"name": name, "volume_id": volume_id}
        optional = {
            "snapshot_id": snapshot_id,
            "availability_zone": availability_zone,
            "description": description,
        }
        attrs.update({k: v for k, v in optional.items() if v is not None})
        what = f"backup {name!r}"
        backup = create_once(
            find=lambda: self.find_by_name(name),
            create=lambda: self._client.call(
                "backup_create", self._api.create_backup, idempotent=False, **attrs
            ),
            check=lambda found: require_match(found, {"volume_id": volume_id}, what=what),
        )
        return self.wait_available(backup.id) if wait else backup

    def wait_available(self, backup_id: str) -> Backup:
        return self._waiter.until(
            lambda: self.get(backup_id),
            target="available",
            failure=("error",),
            describe=f"backup {backup_id}",
        )

    def delete(self, backup_id: str, *, wait: bool = False) -> None:
        self._client.call("backup_delete", self._api.delete_backup, backup_id, ignore_missing=True)
        if wait:
            self._waiter.until_gone(
                lambda: self.get(backup_id),
                describe=f"backup {backup_id} deletion",
                failure=("error_deleting",),
            )
