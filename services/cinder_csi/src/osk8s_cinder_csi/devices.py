"""Find the block device of an attached Cinder volume on this node.

Matches CPO: ``/dev/disk/by-id`` candidates (virtio, QEMU SCSI, WWN) polled with a SCSI host
rescan and ``udevadm trigger`` between polls, then the metadata ``devices`` list (serial ==
volume id -> ``/dev/disk/by-path/*-<bus>-<address>``). It only looks: no mount, no format.
"""

from __future__ import annotations

import contextlib
import glob
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from osk8s_core.errors import MetadataError
from osk8s_core.metadata import Device


class Rescanner(Protocol):
    def rescan_all(self) -> None:
        """Make the kernel and udev notice new disks."""
        ...


class SystemRescanner:
    """SCSI host scan + ``udevadm trigger`` (best effort: failures are ignored)."""

    def __init__(self, *, sys_root: str = "/sys") -> None:
        self._sys = sys_root

    def rescan_all(self) -> None:
        for scan in glob.glob(f"{self._sys}/class/scsi_host/host*/scan"):
            try:
                with open(scan, "w", encoding="ascii") as handle:
                    handle.write("- - -")
            except OSError:
                continue
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(["udevadm", "trigger"], capture_output=True, timeout=30, check=False)


def candidates(volume_id: str) -> list[str]:
    """``/dev/disk/by-id`` names a hypervisor gives the volume (virtio cuts serials at 20)."""
    short = volume_id[:20]
    return [
        f"virtio-{short}",
        f"virtio-{volume_id}",
        f"scsi-0QEMU_QEMU_HARDDISK_{short}",
        f"scsi-0QEMU_QEMU_HARDDISK_{volume_id}",
        f"wwn-0x{volume_id.replace('-', '')}",
    ]


class DeviceFinder:
    def __init__(
        self,
        *,
        rescanner: Rescanner,
        metadata_devices: Callable[[], Sequence[Device]],
        dev_root: str = "/dev",
        attempts: int = 15,
        interval: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rescanner = rescanner
        self._metadata_devices = metadata_devices
        self._by_id = Path(dev_root) / "disk" / "by-id"
        self._by_path = Path(dev_root) / "disk" / "by-path"
        self._attempts = attempts
        self._interval = interval
        self._sleep = sleep

    def find(self, volume_id: str) -> str:
        """The device path, or "" when the volume cannot be found on this node."""
        for attempt in range(self._attempts):
            found = self._by_serial(volume_id) or self._from_metadata(volume_id)
            if found:
                return found
            if attempt + 1 < self._attempts:
                self._rescanner.rescan_all()
                self._sleep(self._interval)
        return ""

    def _by_serial(self, volume_id: str) -> str:
        for name in candidates(volume_id):
            path = self._by_id / name
            if os.path.exists(path):
                return str(path)
        return ""

    def _from_metadata(self, volume_id: str) -> str:
        try:
            devices = self._metadata_devices()
        except MetadataError:  # only a fallback: the by-id poll goes on
            return ""
        for device in devices:
            if device.type == "disk" and device.serial == volume_id and device.address:
                matches = sorted(glob.glob(f"{self._by_path}/*-{device.bus}-{device.address}"))
                if matches:
                    return matches[0]
        return ""
