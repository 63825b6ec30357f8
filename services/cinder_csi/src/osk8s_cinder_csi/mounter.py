"""The one narrow interface for mount, format, resize and stats, and its real implementation.

``Mounter`` is what the node service needs from the host. ``SystemMounter`` runs the usual
tools (mount, umount, blkid, mkfs.*, resize2fs, xfs_growfs, findmnt, blockdev) through an
injected ``Runner``; the tests run it for real on loop devices (as root) and use a recording
fake of ``Mounter`` elsewhere. Formatting follows Kubernetes' safe-format rules
(``probe_disk``): only a disk on which blkid finds nothing at all is formatted.
Nothing here knows CSI or OpenStack.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class FsStats:
    total_bytes: int
    available_bytes: int
    used_bytes: int
    total_inodes: int
    free_inodes: int
    used_inodes: int


class DiskNotBlank(Exception):
    """The device holds something other than the requested filesystem: never formatted."""


BLKID_NOTHING_FOUND = 2
"""blkid's exit status when the device carries no recognised signature at all."""
EXT_FAMILY = frozenset({"ext2", "ext3", "ext4"})
"""The ext4 driver mounts all three: an ext3 disk staged as ext4 is not a mismatch."""


@dataclass(frozen=True)
class DiskContent:
    """What ``blkid -p`` says is on a device: a filesystem type and/or a partition table."""

    fs_type: str = ""
    partition_table: str = ""

    @property
    def blank(self) -> bool:
        return not self.fs_type and not self.partition_table


def parse_blkid_export(text: str) -> DiskContent:
    """``blkid -o export`` lines (``KEY=value``) -> ``DiskContent``."""
    values = dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")
    )
    return DiskContent(fs_type=values.get("TYPE", ""), partition_table=values.get("PTTYPE", ""))


def check_can_mount(device: str, content: DiskContent, fs_type: str) -> bool:
    """True when ``device`` must be formatted first (blank); False when it already holds
    ``fs_type``; DiskNotBlank otherwise (partition table, another filesystem)."""
    if content.blank:
        return True
    if not content.fs_type:
        raise DiskNotBlank(
            f"{device} has a {content.partition_table} partition table and no filesystem: "
            f"refusing to format it as {fs_type} (its data would be lost)"
        )
    same = content.fs_type == fs_type or {content.fs_type, fs_type} <= EXT_FAMILY
    if not same:
        raise DiskNotBlank(
            f"{device} already holds a {content.fs_type} filesystem, not the requested "
            f"{fs_type}: refusing to format or mount it as {fs_type}"
        )
    return False


class Mounter(Protocol):
    def is_mounted(self, path: str) -> bool: ...
    def format_and_mount(
        self, device: str, target: str, fs_type: str, options: Sequence[str]
    ) -> None:
        """Make a filesystem when the device is blank, then mount it."""
        ...

    def bind_mount(self, source: str, target: str, *, read_only: bool) -> None: ...
    def unmount(self, target: str) -> None: ...
    def device_of(self, mount_path: str) -> str:
        """The source device of a mount point ("" when not a mount point)."""
        ...

    def resize_fs(self, device: str, mount_path: str) -> None: ...
    def device_size(self, device: str) -> int: ...
    def fs_stats(self, path: str) -> FsStats: ...
    def rescan(self, device: str) -> None:
        """Ask the kernel to re-read the device's size."""
        ...


class Runner(Protocol):
    def __call__(self, argv: Sequence[str], *, check: bool = True) -> str:
        """Run ``argv``; its stdout. CalledProcessError when ``check`` and it fails."""
        ...


class CommandFailed(subprocess.CalledProcessError):
    """A host tool failed; its message carries the tool's stderr (what an operator needs)."""

    def __str__(self) -> str:
        detail = (self.stderr or "").strip() if isinstance(self.stderr, str) else ""
        return f"{' '.join(map(str, self.cmd))} failed (exit {self.returncode})" + (
            f": {detail}" if detail else ""
        )


def run(argv: Sequence[str], *, check: bool = True) -> str:
    # Bounded: a hung mkfs or mount must not hang the RPC thread forever.
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=120, check=False)
    if check and done.returncode != 0:
        raise CommandFailed(done.returncode, list(argv), done.stdout, done.stderr)
    return done.stdout


def probe_disk(runner: Runner, device: str) -> DiskContent:
    """What is on ``device``, by Kubernetes mount-utils' rule: ``blkid -p`` exit 2 means
    nothing was found (blank); exit 0 lists TYPE/PTTYPE; any other exit is an error, and an
    error never counts as blank (DiskNotBlank: we refuse rather than format)."""
    argv = ["blkid", "-p", "-s", "TYPE", "-s", "PTTYPE", "-o", "export", device]
    try:
        out = runner(argv)
    except subprocess.CalledProcessError as exc:
        if exc.returncode == BLKID_NOTHING_FOUND:
            return DiskContent()
        detail = (exc.stderr or "").strip() if isinstance(exc.stderr, str) else ""
        raise DiskNotBlank(
            f"cannot tell what is on {device} (blkid exit {exc.returncode}"
            + (f": {detail}" if detail else "")
            + "): refusing to format it"
        ) from exc
    content = parse_blkid_export(out)
    if content.blank:
        # Exit 0 yet neither TYPE nor PTTYPE: something blkid half-recognised. Not blank.
        raise DiskNotBlank(f"blkid found unrecognised content on {device}: refusing to format it")
    return content


class SystemMounter:
    """``Mounter`` over the host's tools; needs root and the tools in PATH."""

    def __init__(self, *, runner: Runner = run, mountinfo: str = "/proc/self/mountinfo") -> None:
        self._run = runner
        self._mountinfo = mountinfo

    def is_mounted(self, path: str) -> bool:
        real = os.path.realpath(path)
        try:
            with open(self._mountinfo, encoding="utf-8") as handle:
                return any(_mount_point(line) == real for line in handle)
        except OSError:
            return False

    def format_and_mount(
        self, device: str, target: str, fs_type: str, options: Sequence[str]
    ) -> None:
        """Format only a blank device (DiskNotBlank for a partition table, another
        filesystem or an unreadable probe), then mount it."""
        if check_can_mount(device, probe_disk(self._run, device), fs_type):
            # Same flags as Kubernetes' SafeFormatAndMount.
            force = "-f" if fs_type == "xfs" else "-F"
            extra = ["-m0"] if fs_type in EXT_FAMILY else []
            self._run([f"mkfs.{fs_type}", force, *extra, device])
        opts = ["-o", ",".join(options)] if options else []
        self._run(["mount", "-t", fs_type, *opts, device, target])

    def bind_mount(self, source: str, target: str, *, read_only: bool) -> None:
        self._run(["mount", "--bind", source, target])
        if read_only:
            # A bind mount ignores "ro" until remounted.
            self._run(["mount", "-o", "remount,bind,ro", target])

    def unmount(self, target: str) -> None:
        self._run(["umount", target])

    def device_of(self, mount_path: str) -> str:
        out = self._run(["findmnt", "-o", "SOURCE", "--noheadings", "--target", mount_path])
        return out.strip().splitlines()[0] if out.strip() else ""

    def resize_fs(self, device: str, mount_path: str) -> None:
        # The mounted filesystem's type, from the mount table (the disk is in use: no probe).
        out = self._run(["findmnt", "-n", "-o", "FSTYPE", "--target", mount_path])
        fs_type = out.strip().splitlines()[0] if out.strip() else ""
        if fs_type == "xfs":
            self._run(["xfs_growfs", "-d", mount_path])
        else:
            self._run(["resize2fs", device])

    def device_size(self, device: str) -> int:
        return int(self._run(["blockdev", "--getsize64", device]).strip() or 0)

    def fs_stats(self, path: str) -> FsStats:
        st = os.statvfs(path)
        total = st.f_blocks * st.f_frsize
        available = st.f_bavail * st.f_frsize
        return FsStats(
            total_bytes=total,
            available_bytes=available,
            used_bytes=total - st.f_bfree * st.f_frsize,
            total_inodes=st.f_files,
            free_inodes=st.f_ffree,
            used_inodes=st.f_files - st.f_ffree,
        )

    def rescan(self, device: str) -> None:
        name = os.path.basename(os.path.realpath(device))
        path = f"/sys/block/{name}/device/rescan"
        if os.path.exists(path):
            with open(path, "w", encoding="ascii") as handle:
                handle.write("1")


def _mount_point(line: str) -> str:
    fields = line.split()
    # mountinfo: id parent major:minor root mount-point ...; spaces are escaped as \040.
    return fields[4].replace("\\040", " ") if len(fields) > 4 else ""
