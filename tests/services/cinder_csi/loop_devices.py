"""Loop devices standing in for attached Cinder volumes on this host (root only).

``LoopHost`` makes sparse backing files named ``/tmp/osk8s-csi-test-<uuid>.img``, attaches
each with ``losetup -f --show`` and remembers the device it got; ``close`` unmounts every
mount point under the test's own base directory (deepest first) and detaches exactly the loop
devices it created, found again by their backing file, then removes the files. Nothing else
on the host is touched. ``require_root`` skips when not root, with the reason, except in CI
(``OSK8S_REQUIRE_TESTCLOUD=1``), where not being root is a failure: the node path must be
tested there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TOOLS = ("losetup", "blkid", "mount", "umount", "findmnt", "mkfs.ext4", "resize2fs")
XFS_TOOLS = ("mkfs.xfs", "xfs_growfs")
MIB = 1 << 20


def require_root(*, xfs: bool = False) -> None:
    """Skip (or, in CI, fail) unless this process can make loop devices and mount."""
    reason = ""
    if os.geteuid() != 0:
        reason = "needs root: loop devices and mounts stand in for attached volumes"
    else:
        missing = [t for t in (*TOOLS, *(XFS_TOOLS if xfs else ())) if not shutil.which(t)]
        if missing:
            # Root but no tools is a broken set-up, not a reason to skip (make test installs
            # xfsprogs): fail loudly everywhere.
            pytest.fail(f"host tools missing: {', '.join(missing)} (apt-get install xfsprogs)")
    if reason:
        if os.environ.get("OSK8S_REQUIRE_TESTCLOUD") == "1":
            pytest.fail(f"{reason} (CI runs as root: OSK8S_REQUIRE_TESTCLOUD=1)")
        pytest.skip(reason)


def _run(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    return done.stdout


@dataclass
class Loop:
    file: Path
    device: str

    def grow(self, size_bytes: int) -> None:
        """Grow the backing file and tell the kernel (what a Cinder extend does to a disk)."""
        os.truncate(self.file, size_bytes)
        _run("losetup", "-c", self.device)

    def size(self) -> int:
        return int(_run("blockdev", "--getsize64", self.device).strip())


@dataclass
class LoopHost:
    base: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="osk8s-csi-host-", dir="/tmp"))
    )
    loops: list[Loop] = field(default_factory=list)

    def make(self, size_bytes: int = 320 * MIB) -> Loop:
        """A blank loop device over a new sparse file (320 MiB: mkfs.xfs' minimum is 300)."""
        image = Path(f"/tmp/osk8s-csi-test-{uuid.uuid4().hex}.img")
        with open(image, "wb") as handle:
            handle.truncate(size_bytes)
        try:
            device = _run("losetup", "-f", "--show", str(image)).strip()
        except subprocess.CalledProcessError:
            image.unlink()
            raise
        loop = Loop(file=image, device=device)
        self.loops.append(loop)
        return loop

    def mounts(self) -> list[str]:
        """Mount points under ``base`` (ours only), deepest first."""
        found = []
        with open("/proc/self/mountinfo", encoding="utf-8") as handle:
            for line in handle:
                point = line.split()[4].replace("\\040", " ")
                if point == str(self.base) or point.startswith(f"{self.base}/"):
                    found.append(point)
        return sorted(found, key=len, reverse=True)

    def close(self) -> list[str]:
        """Unmount ours, detach ours, remove ours; the problems met (empty when clean)."""
        problems = []
        for point in self.mounts():
            done = subprocess.run(["umount", point], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                # Busy (a failed test left a file open): detach it lazily so the loop device
                # can still go, and report it.
                lazy = subprocess.run(
                    ["umount", "-l", point], capture_output=True, text=True, check=False
                )
                problems.append(
                    f"umount {point}: {done.stderr.strip()}"
                    + ("" if lazy.returncode == 0 else f"; umount -l: {lazy.stderr.strip()}")
                )
        for loop in self.loops:
            # Detach by backing file: the device name is only trusted if it still maps to it.
            attached = _run("losetup", "-j", str(loop.file)).splitlines()
            for line in attached:
                device = line.split(":", 1)[0]
                done = subprocess.run(
                    ["losetup", "-d", device], capture_output=True, text=True, check=False
                )
                if done.returncode != 0:
                    problems.append(f"losetup -d {device}: {done.stderr.strip()}")
            loop.file.unlink(missing_ok=True)
        if not self.mounts():
            shutil.rmtree(self.base, ignore_errors=True)
        return problems
