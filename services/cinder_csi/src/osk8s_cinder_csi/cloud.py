"""The narrow view of one OpenStack cloud that the controller consumes, and its value types.

``CinderCloud`` is what CreateVolume & co. need from Cinder and Nova, in plain frozen values
(no openstacksdk objects leak into the controller). ``Clouds`` picks one by the CSI secret key
``cloud``. Implementations: ``openstack_cloud.OpenStackCinderCloud`` (real) and test fakes.
No CSI semantics (sizes, idempotency rules, status codes) live here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from osk8s_core.grpc.csi import InvalidArgument


def _no_meta() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class VolumeInfo:
    id: str
    name: str
    size_gb: int
    status: str
    availability_zone: str = ""
    attached_servers: tuple[str, ...] = ()
    """Server ids of the volume's attachments (published nodes)."""
    attachment_devices: Mapping[str, str] = field(default_factory=_no_meta)
    """Server id -> device Nova reported (publish context ``DevicePath``)."""
    snapshot_id: str = ""
    source_volume_id: str = ""
    backup_id: str = ""
    multiattach: bool = False


@dataclass(frozen=True)
class SnapshotInfo:
    id: str
    name: str
    volume_id: str
    size_gb: int
    status: str
    created_at: float = 0.0
    """Seconds since the epoch."""


@dataclass(frozen=True)
class BackupInfo:
    id: str
    name: str
    volume_id: str
    size_gb: int
    status: str
    created_at: float = 0.0


@dataclass(frozen=True)
class NewVolume:
    """What CreateVolume asks Cinder for (after CSI parameters were interpreted)."""

    name: str
    size_gb: int
    volume_type: str = ""
    availability_zone: str = ""
    description: str = ""
    metadata: Mapping[str, str] = field(default_factory=_no_meta)
    snapshot_id: str = ""
    source_volume_id: str = ""
    backup_id: str = ""
    scheduler_hints: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One page of a list call; ``next_marker`` empty on the last page."""

    volumes: tuple[VolumeInfo, ...]
    next_marker: str = ""


class CinderCloud(Protocol):
    """Cinder + Nova operations of one cloud; each raises ``osk8s_core.errors`` types."""

    def find_volumes(self, name: str) -> list[VolumeInfo]: ...
    def get_volume(self, volume_id: str) -> VolumeInfo: ...
    def create_volume(self, spec: NewVolume) -> VolumeInfo:
        """Create (find-first, never a duplicate) and wait until available."""
        ...

    def wait_volume_available(self, volume_id: str) -> VolumeInfo:
        """Wait until available/in-use: WaitTimeout past the budget, ResourceError on error."""
        ...

    def delete_volume(self, volume_id: str) -> None:
        """Delete and wait until Cinder no longer has it (a volume already ``deleting`` is
        waited for); gone already is success; BadRequest when Cinder refuses (snapshots)."""
        ...

    def list_volumes(self, *, limit: int, marker: str) -> Page:
        """InvalidToken when ``marker`` is unknown."""
        ...

    def expand_volume(self, volume_id: str, size_gb: int, *, in_use: bool) -> VolumeInfo: ...
    def server_exists(self, server_id: str) -> bool: ...
    def attach(self, server_id: str, volume_id: str) -> str:
        """Attach (idempotent) and wait until attached; returns the device path hint."""
        ...

    def detach(self, server_id: str, volume_id: str) -> None:
        """Detach (idempotent) and wait until the server no longer has it."""
        ...

    def find_snapshots(self, name: str) -> list[SnapshotInfo]: ...
    def get_snapshot(self, snapshot_id: str) -> SnapshotInfo: ...
    def create_snapshot(
        self, name: str, volume_id: str, *, metadata: Mapping[str, str], force: bool
    ) -> SnapshotInfo:
        """Create (find-first) and wait until available."""
        ...

    def delete_snapshot(self, snapshot_id: str) -> None:
        """Delete and wait until gone (one already ``deleting`` is waited for)."""
        ...

    def list_snapshots(
        self, *, volume_id: str = "", limit: int = 0, marker: str = ""
    ) -> tuple[list[SnapshotInfo], str]:
        """``available`` snapshots, one page; returns (snapshots, next marker)."""
        ...

    def find_backups(self, name: str) -> list[BackupInfo]: ...
    def get_backup(self, backup_id: str) -> BackupInfo: ...
    def create_backup(
        self, name: str, volume_id: str, snapshot_id: str, *, availability_zone: str, timeout: float
    ) -> BackupInfo:
        """Create a backup of ``snapshot_id`` and wait up to ``timeout`` s until available."""
        ...

    def delete_backup(self, backup_id: str) -> None: ...


class Clouds:
    """The clouds of ``--cloud-name``, by name (``""`` is the plain ``[Global]``)."""

    def __init__(self, clouds: Mapping[str, CinderCloud]) -> None:
        if not clouds:
            raise ValueError("at least one cloud is needed")
        self._clouds = dict(clouds)

    def pick(self, secrets: Mapping[str, str]) -> CinderCloud:
        """Matches CPO: the secret key ``cloud`` names the cloud; absent means ``""``."""
        name = secrets.get("cloud", "")
        cloud = self._clouds.get(name)
        if cloud is None:
            raise InvalidArgument(f"cloud {name!r} from the secrets is not configured")
        return cloud

    def names(self) -> list[str]:
        """Sorted names: the order ListVolumes pages through (as CPO)."""
        return sorted(self._clouds)

    def get(self, name: str) -> CinderCloud | None:
        return self._clouds.get(name)

    def __iter__(self) -> Iterator[tuple[str, CinderCloud]]:
        return iter(sorted(self._clouds.items()))
