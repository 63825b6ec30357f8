"""openstacksdk Cinder objects -> the frozen values of ``cloud`` (no API calls here).

Kept apart so the controller never sees sdk objects and the conversions are testable with
plain namespaces.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from osk8s_cinder_csi.cloud import BackupInfo, SnapshotInfo, VolumeInfo


def _epoch(value: object) -> float:
    if not isinstance(value, str) or not value:
        return 0.0
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return 0.0
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def volume_info(volume: Any) -> VolumeInfo:
    attachments = [a for a in (volume.attachments or []) if isinstance(a, dict)]
    servers = tuple(str(a.get("server_id", "")) for a in attachments if a.get("server_id"))
    devices = {
        str(a["server_id"]): str(a.get("device") or "") for a in attachments if a.get("server_id")
    }
    return VolumeInfo(
        id=volume.id,
        name=volume.name or "",
        size_gb=int(volume.size or 0),
        status=volume.status or "",
        availability_zone=volume.availability_zone or "",
        attached_servers=servers,
        attachment_devices=devices,
        snapshot_id=volume.snapshot_id or "",
        source_volume_id=volume.source_volume_id or "",
        backup_id=getattr(volume, "backup_id", None) or "",
        multiattach=bool(volume.is_multiattach),
    )


def snapshot_info(snapshot: Any) -> SnapshotInfo:
    return SnapshotInfo(
        id=snapshot.id,
        name=snapshot.name or "",
        volume_id=snapshot.volume_id or "",
        size_gb=int(snapshot.size or 0),
        status=snapshot.status or "",
        created_at=_epoch(snapshot.created_at),
    )


def backup_info(backup: Any) -> BackupInfo:
    return BackupInfo(
        id=backup.id,
        name=backup.name or "",
        volume_id=backup.volume_id or "",
        size_gb=int(backup.size or 0),
        status=backup.status or "",
        created_at=_epoch(backup.created_at),
    )
