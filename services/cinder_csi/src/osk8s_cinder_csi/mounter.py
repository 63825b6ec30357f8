"""The one narrow interface for mount, format, resize and stats, and its real implementation.

``Mounter`` is what the node service needs from the host. ``SystemMounter`` runs the usual
tools (mount, umount, blkid, mkfs.*, resize2fs, xfs_growfs, findmnt, blockdev) through an
injected ``Runner`` so tests can check the exact commands without root; ``fakes.FakeMounter``
records calls instead. Nothing here knows CSI or OpenStack.
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


def run(argv: Sequence[str], *, check: bool = True) -> str:
    # Bounded: a hung mkfs or mount must not hang the RPC thread forever.
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=120, check=check)
    return done.stdout


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
        existing = self._run(["blkid", "-p", "-s", "TYPE", "-o", "value", device], check=False)
        if not existing.strip():
            # Same flags as Kubernetes' SafeFormatAndMount.
            force = "-f" if fs_type == "xfs" else "-F"
            extra = ["-m0"] if fs_type.startswith("ext") else []
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
        fs_type = self._run(["blkid", "-p", "-s", "TYPE", "-o", "value", device]).strip()
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
