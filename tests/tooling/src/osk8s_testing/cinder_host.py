"""In-memory stand-ins for a cinder CSI node's host: a ``Mounter`` that records calls and a
device rescanner that counts.

Test tooling, never shipped: used by the node tests, the conformance suite when not root (as
CPO's sanity tests use a fake mounter) and the demo. The fake keeps a mount table and
formatted devices so repeated calls behave as on a host; it never touches the real system
beyond the directories/files the node service itself makes. The real host path is tested
with ``SystemMounter`` on loop devices (tests/services/cinder_csi/test_cinder_node_host.py).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from osk8s_cinder_csi.mounter import FsStats

GIB = 1 << 30


@dataclass
class FakeMounter:
    """Records every call as a tuple in ``calls``; ``mounts`` maps target -> source."""

    device_bytes: int = 10 * GIB
    calls: list[tuple[str, ...]] = field(default_factory=list)
    mounts: dict[str, str] = field(default_factory=dict)
    formatted: dict[str, str] = field(default_factory=dict)
    """device -> filesystem type."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _record(self, *call: str) -> None:
        with self._lock:
            self.calls.append(call)

    def is_mounted(self, path: str) -> bool:
        return path in self.mounts

    def format_and_mount(
        self, device: str, target: str, fs_type: str, options: Sequence[str]
    ) -> None:
        self._record("format_and_mount", device, target, fs_type, ",".join(options))
        self.formatted.setdefault(device, fs_type)
        self.mounts[target] = device

    def bind_mount(self, source: str, target: str, *, read_only: bool) -> None:
        self._record("bind_mount", source, target, "ro" if read_only else "rw")
        self.mounts[target] = source

    def unmount(self, target: str) -> None:
        self._record("unmount", target)
        self.mounts.pop(target, None)

    def device_of(self, mount_path: str) -> str:
        source = self.mounts.get(mount_path, "")
        # A publish bind mount points at the staging path: follow it to the device.
        return self.mounts.get(source, source)

    def resize_fs(self, device: str, mount_path: str) -> None:
        self._record("resize_fs", device, mount_path)

    def device_size(self, device: str) -> int:
        return self.device_bytes

    def fs_stats(self, path: str) -> FsStats:
        return FsStats(
            total_bytes=self.device_bytes,
            available_bytes=self.device_bytes // 2,
            used_bytes=self.device_bytes // 2,
            total_inodes=1000,
            free_inodes=900,
            used_inodes=100,
        )

    def rescan(self, device: str) -> None:
        self._record("rescan", device)


@dataclass
class CountingRescanner:
    """A ``devices.Rescanner`` that counts rescans (tests)."""

    count: int = 0

    def rescan_all(self) -> None:
        self.count += 1
