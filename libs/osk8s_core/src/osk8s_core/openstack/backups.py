"""Cinder backups: create (idempotent by name), get, find, list, delete, waits.

Labels ``backup_create``/``_get``/``_list``/``_delete`` as CPO's cinder CSI, which uses a
backup as a "snapshot" of VolumeSnapshotClass type ``backup``. Needs a cinder-backup service
in the cloud; without one Cinder refuses the create. Thin layer over the v3 proxy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from osk8s_core.openstack.source_copies import CopyKind, SourceCopies

if TYPE_CHECKING:
    from openstack.block_storage.v3.backup import Backup


class Backups(SourceCopies["Backup"]):
    """Cinder backups of the client's project."""

    kind = CopyKind(
        service="block_storage", resource="backup", noun="backup", source_key="volume_id"
    )

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
        return self._create_once(name, volume_id, attrs, wait=wait)
