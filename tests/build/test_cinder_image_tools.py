"""The cinder image's OS tools do real work: format, mount, resize on loop devices (root).

`scripts/images.py validate` runs upstream's csi-deps-check (`-V` of each tool); this goes one
step further, as the node plugin does on a host: inside the cinder image (chroot, its own dash
as /bin/sh, its own PATH), on a loop device the test makes: mkfs.ext4, blkid, mount, findmnt,
umount, then grow the disk, e2fsck and resize2fs; the same for mkfs.xfs, mount and xfs_growfs
(mounted, as upstream grows xfs); btrfs is formatted and read back. Everything happens in a
private mount namespace, so no mount can outlive it; the loop devices and their files are
removed by name afterwards. Reuses the root filesystem `validate` unpacked (.images/).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

MIB = 1 << 20
SIZE, GROWN = 320 * MIB, 480 * MIB  # mkfs.xfs needs at least 300 MiB


def _required() -> bool:
    return any(
        os.environ.get(v) == "1" for v in ("OSK8S_REQUIRE_TESTCLOUD", "OSK8S_REQUIRE_IMAGES")
    )


@pytest.fixture(scope="module")
def rootfs(load_script: Callable[[str], ModuleType]) -> Path:
    if os.geteuid() != 0:
        (pytest.fail if _required() else pytest.skip)("needs root (losetup, mount, chroot)")
    images = load_script("scripts/images.py")
    image = images.Image("cinder_csi")
    if not (image.out / "image.digest").exists():
        (pytest.fail if _required() else pytest.skip)("cinder image not built (make images)")
    path, failed = images.unpack(image, f"{image.layout}:{image.tag()}")
    assert not failed, failed
    return Path(path)


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    backing = Path(f"/tmp/osk8s-image-tools-{uuid.uuid4().hex}.img")
    with open(backing, "wb") as handle:
        handle.truncate(SIZE)
    device = subprocess.run(
        ["losetup", "-f", "--show", str(backing)], check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        yield device, backing
    finally:
        subprocess.run(["losetup", "-d", device], check=False)
        backing.unlink()


def in_image(rootfs: Path, script: str) -> subprocess.CompletedProcess[str]:
    """`script` run by the image's /bin/sh (dash) in the image, host /dev, private mounts."""
    setup = "\n".join(
        [
            "set -e",
            f"mount --bind /dev {shlex.quote(str(rootfs / 'dev'))}",
            f"mkdir -p {shlex.quote(str(rootfs / 'mnt' / 'vol'))}",
            "exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "
            f"chroot {shlex.quote(str(rootfs))} /bin/sh -ec {shlex.quote(script)}",
        ]
    )
    return subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--pid",
            "--fork",
            f"--mount-proc={rootfs / 'proc'}",
            "sh",
            "-c",
            setup,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def grow(device: str, backing: Path) -> None:
    with open(backing, "r+b") as handle:
        handle.truncate(GROWN)
    subprocess.run(["losetup", "-c", device], check=True)


def blocks(output: str, marker: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith(marker))
    return int(line.split()[-1])


def test_ext4_format_mount_and_resize(rootfs: Path, loop: tuple[str, Path]) -> None:
    device, backing = loop
    made = in_image(
        rootfs,
        f"mkfs.ext4 -F -q {device}\n"
        f"blkid -p -s TYPE -o value {device}\n"
        f"mount -t ext4 {device} /mnt/vol\n"
        "findmnt -n -o SOURCE,FSTYPE /mnt/vol\n"
        "umount /mnt/vol\n"
        f"echo size $(blockdev --getsize64 {device})\n",
    )
    assert made.returncode == 0, made.stderr
    assert "ext4" in made.stdout.splitlines()[0]
    assert f"{device} ext4" in made.stdout
    assert blocks(made.stdout, "size") == SIZE
    grow(device, backing)
    grown = in_image(
        rootfs,
        f"e2fsck -f -p {device}\n"
        f"resize2fs {device}\n"
        f"echo size $(blockdev --getsize64 {device})\n"
        f"dumpe2fs -h {device}\n",
    )
    assert grown.returncode == 0, grown.stderr
    assert blocks(grown.stdout, "size") == GROWN
    block_size = blocks(grown.stdout, "Block size:")
    assert blocks(grown.stdout, "Block count:") * block_size >= GROWN - 4 * MIB


def test_xfs_format_mount_and_grow_online(rootfs: Path, loop: tuple[str, Path]) -> None:
    device, backing = loop
    made = in_image(rootfs, f"mkfs.xfs -f -q {device}\nblkid -p -s TYPE -o value {device}\n")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "xfs"
    grow(device, backing)
    grown = in_image(
        rootfs,
        f"mount -t xfs {device} /mnt/vol\n"
        "xfs_growfs /mnt/vol >/dev/null\n"
        "xfs_io -c statfs /mnt/vol\n"
        "umount /mnt/vol\n"
        f"xfs_repair -n {device}\n",
    )
    assert grown.returncode == 0, grown.stderr
    geometry = dict(
        line.split(" = ", 1) for line in grown.stdout.splitlines() if line.startswith("geom.")
    )
    assert int(geometry["geom.datablocks"]) * int(geometry["geom.bsize"]) == GROWN


def test_btrfs_format_is_readable(rootfs: Path, loop: tuple[str, Path]) -> None:
    device, _ = loop
    made = in_image(rootfs, f"mkfs.btrfs -f -q {device}\nbtrfs filesystem show {device}\n")
    assert made.returncode == 0, made.stderr
    assert "uuid" in made.stdout.lower()
