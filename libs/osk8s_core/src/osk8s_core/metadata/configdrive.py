"""Read instance metadata from the OpenStack config drive (label ``config-2``).

Either from a directory where the drive is already mounted, or by finding the device
(``/dev/disk/by-label/config-2``, else ``blkid``) and mounting it read-only into a temp dir,
iso9660 first then vfat, as CPO does. Device discovery and mounting go through the narrow
``BlockDevices`` protocol so tests fake them; this module never writes to the drive.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from osk8s_core.errors import MetadataError
from osk8s_core.metadata.model import META_DATA_PATH, InstanceMetadata, parse_meta_data

SOURCE = "configDrive"
LABEL = "config-2"
FILESYSTEMS = ("iso9660", "vfat")
"""Tried in this order; vfat config drives are deprecated but still exist."""


class BlockDevices(Protocol):
    """The host operations reading a config drive needs."""

    def find_by_label(self, label: str) -> str | None:
        """Device path with this filesystem label per ``blkid``, or None."""
        ...

    def mount_readonly(self, device: str, target: Path, fstype: str) -> None:
        """Mount ``device`` read-only on ``target``; raise OSError on failure."""
        ...

    def unmount(self, target: Path) -> None: ...


@dataclass(frozen=True)
class SystemBlockDevices:
    """``BlockDevices`` on the real host: blkid, mount and umount binaries."""

    timeout: float = 30.0
    """Seconds any one command may take (a hung device must not hang start-up forever)."""

    def find_by_label(self, label: str) -> str | None:
        result = self._run(["blkid", "-l", "-t", f"LABEL={label}", "-o", "device"])
        device = result.stdout.strip()
        return device or None

    def mount_readonly(self, device: str, target: Path, fstype: str) -> None:
        self._run(["mount", "-t", fstype, "-o", "ro", device, str(target)])

    def unmount(self, target: Path) -> None:
        self._run(["umount", str(target)])

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        try:
            result = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise OSError(f"{argv[0]} failed: {exc}") from exc
        if result.returncode != 0:
            raise OSError(f"{argv[0]} exited {result.returncode}: {result.stderr.strip()[:200]}")
        return result


@dataclass(frozen=True)
class ConfigDriveSource:
    """Metadata from the config drive; ``fetch()`` raises MetadataError when unavailable."""

    devices: BlockDevices
    mounted_dir: Path | None = None
    """A directory where the drive is already mounted (e.g. by cloud-init); tried first."""
    by_label_dir: Path = Path("/dev/disk/by-label")
    """Where udev links devices by label (a test points this at a temp dir)."""
    temp_root: Path | None = None
    """Parent of the temporary mount point; None means the system temp dir."""

    name = SOURCE

    def fetch(self) -> InstanceMetadata:
        if self.mounted_dir is not None:
            document = self.mounted_dir / META_DATA_PATH
            if document.is_file():
                return self._parse(document)
        return self._parse_from_device(self._find_device())

    def _find_device(self) -> str:
        link = self.by_label_dir / LABEL
        if link.exists():
            return str(link)
        try:
            device = self.devices.find_by_label(LABEL)
        except OSError as exc:
            raise MetadataError(f"{SOURCE}: unable to run blkid: {exc}") from exc
        if not device:
            raise MetadataError(f"{SOURCE}: no device labelled {LABEL}")
        return device

    def _parse_from_device(self, device: str) -> InstanceMetadata:
        target = Path(tempfile.mkdtemp(prefix="configdrive", dir=self.temp_root))
        try:
            self._mount(device, target)
            try:
                return self._parse(target / META_DATA_PATH)
            finally:
                with contextlib.suppress(OSError):
                    # A stuck mount must not hide the metadata we already read.
                    self.devices.unmount(target)
        finally:
            # rmdir, never rmtree: if the unmount failed, the drive's files stay untouched.
            with contextlib.suppress(OSError):
                target.rmdir()

    def _mount(self, device: str, target: Path) -> None:
        errors: list[str] = []
        for fstype in FILESYSTEMS:
            try:
                self.devices.mount_readonly(device, target, fstype)
                return
            except OSError as exc:
                errors.append(f"{fstype}: {exc}")
        raise MetadataError(f"{SOURCE}: error mounting {device}: {'; '.join(errors)}")

    def _parse(self, document: Path) -> InstanceMetadata:
        try:
            raw = document.read_bytes()
        except OSError as exc:
            raise MetadataError(f"{SOURCE}: error reading {META_DATA_PATH}: {exc}") from exc
        return parse_meta_data(raw, source=SOURCE)
