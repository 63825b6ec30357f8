"""An in-memory ``CinderCloud`` (Cinder + Nova attachments) for fast driver tests.

Like CPO's sanity fake cloud: volumes, snapshots, backups and attachments in dicts, with the
same not-found/conflict behaviour as the real APIs seen through ``osk8s_core.errors``. An
``on_attach`` hook lets the node side see the disk appear under a fake ``/dev``.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from osk8s_cinder_csi.cloud import BackupInfo, NewVolume, Page, SnapshotInfo, VolumeInfo
from osk8s_core import errors
from osk8s_core.grpc.csi import InvalidToken


@dataclass
class FakeCinderCloud:
    servers: set[str] = field(default_factory=set)
    zone: str = "nova"
    on_attach: Callable[[str, str], None] | None = None
    volumes: dict[str, VolumeInfo] = field(default_factory=dict)
    snapshots: dict[str, SnapshotInfo] = field(default_factory=dict)
    backups: dict[str, BackupInfo] = field(default_factory=dict)
    created: list[NewVolume] = field(default_factory=list)
    attach_calls: int = 0
    waits: list[str] = field(default_factory=list)
    """Volume ids ``wait_volume_available`` was called for."""
    detach_calls: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _clock: Callable[[], float] = time.time
    _devices: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _new_id(self) -> str:
        return str(uuid.uuid4())

    def find_volumes(self, name: str) -> list[VolumeInfo]:
        with self._lock:
            return [v for v in self.volumes.values() if v.name == name]

    def get_volume(self, volume_id: str) -> VolumeInfo:
        with self._lock:
            if volume_id not in self.volumes:
                raise errors.NotFound(f"volume {volume_id} not found")
            return self.volumes[volume_id]

    def create_volume(self, spec: NewVolume) -> VolumeInfo:
        with self._lock:
            self.created.append(spec)
            if spec.snapshot_id and spec.snapshot_id not in self.snapshots:
                raise errors.NotFound("snapshot not found")
            volume = VolumeInfo(
                id=self._new_id(),
                name=spec.name,
                size_gb=spec.size_gb,
                status="available",
                availability_zone=spec.availability_zone or self.zone,
                snapshot_id=spec.snapshot_id,
                source_volume_id=spec.source_volume_id,
                backup_id=spec.backup_id,
            )
            self.volumes[volume.id] = volume
            return volume

    def wait_volume_available(self, volume_id: str) -> VolumeInfo:
        """The volume becomes ``available`` (the fake backend is instant); an ``error`` volume
        raises ResourceError as the real wait does."""
        with self._lock:
            volume = self.get_volume(volume_id)
            self.waits.append(volume_id)
            if volume.status == "error":
                raise errors.ResourceError(f"volume {volume_id} went into status error")
            if volume.status == "creating":
                volume = replace(volume, status="available")
                self.volumes[volume_id] = volume
            return volume

    def delete_volume(self, volume_id: str) -> None:
        with self._lock:
            volume = self.volumes.get(volume_id)
            if volume is not None and volume.attached_servers:
                raise errors.BadRequest("volume is in use")
            self.volumes.pop(volume_id, None)

    def list_volumes(self, *, limit: int, marker: str) -> Page:
        with self._lock:
            ordered = sorted(self.volumes.values(), key=lambda v: v.id)
        start = 0
        if marker:
            ids = [v.id for v in ordered]
            if marker not in ids:
                raise InvalidToken(f"marker {marker} not found")
            start = ids.index(marker) + 1
        page = ordered[start : start + limit] if limit else ordered[start:]
        more = limit and start + limit < len(ordered)
        return Page(volumes=tuple(page), next_marker=page[-1].id if more and page else "")

    def expand_volume(self, volume_id: str, size_gb: int, *, in_use: bool) -> VolumeInfo:
        with self._lock:
            volume = replace(self.get_volume(volume_id), size_gb=size_gb)
            self.volumes[volume_id] = volume
            return volume

    def server_exists(self, server_id: str) -> bool:
        return server_id in self.servers

    def attach(self, server_id: str, volume_id: str) -> str:
        with self._lock:
            self.attach_calls += 1
            volume = self.get_volume(volume_id)
            if server_id in volume.attached_servers:
                return volume.attachment_devices[server_id]
            device = f"/dev/vd{chr(ord('a') + next(self._devices))}"
            self.volumes[volume_id] = replace(
                volume,
                status="in-use",
                attached_servers=(*volume.attached_servers, server_id),
                attachment_devices={**volume.attachment_devices, server_id: device},
            )
        if self.on_attach is not None:
            self.on_attach(server_id, volume_id)
        return device

    def detach(self, server_id: str, volume_id: str) -> None:
        with self._lock:
            self.detach_calls += 1
            volume = self.get_volume(volume_id)
            servers = tuple(s for s in volume.attached_servers if s != server_id)
            devices = {k: v for k, v in volume.attachment_devices.items() if k != server_id}
            self.volumes[volume_id] = replace(
                volume,
                status="in-use" if servers else "available",
                attached_servers=servers,
                attachment_devices=devices,
            )

    def find_snapshots(self, name: str) -> list[SnapshotInfo]:
        with self._lock:
            return [s for s in self.snapshots.values() if s.name == name]

    def get_snapshot(self, snapshot_id: str) -> SnapshotInfo:
        with self._lock:
            if snapshot_id not in self.snapshots:
                raise errors.NotFound(f"snapshot {snapshot_id} not found")
            return self.snapshots[snapshot_id]

    def create_snapshot(
        self, name: str, volume_id: str, *, metadata: Mapping[str, str], force: bool
    ) -> SnapshotInfo:
        with self._lock:
            volume = self.get_volume(volume_id)
            if volume.status == "in-use" and not force:
                raise errors.BadRequest("volume is in-use; force needed")
            snapshot = SnapshotInfo(
                id=self._new_id(),
                name=name,
                volume_id=volume_id,
                size_gb=volume.size_gb,
                status="available",
                created_at=self._clock(),
            )
            self.snapshots[snapshot.id] = snapshot
            return snapshot

    def delete_snapshot(self, snapshot_id: str) -> None:
        with self._lock:
            self.snapshots.pop(snapshot_id, None)

    def list_snapshots(
        self, *, volume_id: str = "", limit: int = 0, marker: str = ""
    ) -> tuple[list[SnapshotInfo], str]:
        with self._lock:
            ordered = sorted(
                (s for s in self.snapshots.values() if not volume_id or s.volume_id == volume_id),
                key=lambda s: s.id,
            )
        start = 0
        if marker:
            ids = [s.id for s in ordered]
            if marker not in ids:
                raise InvalidToken(f"marker {marker} not found")
            start = ids.index(marker) + 1
        page = ordered[start : start + limit] if limit else ordered[start:]
        more = limit and start + limit < len(ordered)
        return page, page[-1].id if more and page else ""

    def find_backups(self, name: str) -> list[BackupInfo]:
        with self._lock:
            return [b for b in self.backups.values() if b.name == name]

    def get_backup(self, backup_id: str) -> BackupInfo:
        with self._lock:
            if backup_id not in self.backups:
                raise errors.NotFound(f"backup {backup_id} not found")
            return self.backups[backup_id]

    def create_backup(
        self, name: str, volume_id: str, snapshot_id: str, *, availability_zone: str, timeout: float
    ) -> BackupInfo:
        with self._lock:
            snapshot = self.get_snapshot(snapshot_id)
            backup = BackupInfo(
                id=self._new_id(),
                name=name,
                volume_id=volume_id,
                size_gb=snapshot.size_gb,
                status="available",
                created_at=self._clock(),
            )
            self.backups[backup.id] = backup
            return backup

    def delete_backup(self, backup_id: str) -> None:
        with self._lock:
            self.backups.pop(backup_id, None)
