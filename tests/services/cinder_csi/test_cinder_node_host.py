"""The node service on the real host path: SystemMounter + loop devices, over gRPC (root).

Loop devices stand in for attached Cinder volumes, found through a by-id folder the test
controls. Covers: NodeStage formats a blank disk (ext4, xfs) and mounts it, and never formats
a disk that may hold data (partition table, another filesystem: the original data is still
there afterwards); NodePublish bind-mounts (rw, read-only, block mode); NodeExpandVolume grows
the filesystem after the backing file grows; NodeGetVolumeStats reports real numbers;
unpublish/unstage leave no mount behind. Every loop device and mount a test made is removed
in a finalizer, by name (``loop_devices.LoopHost``).
"""

from __future__ import annotations

import errno
import os
import struct
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from osk8s_cinder_csi.mounter import SystemMounter
from osk8s_core.proto.csi import csi_pb2
from osk8s_testing.csi.requests import cap

from .cinder_harness import Driver, start
from .loop_devices import MIB, Loop, LoopHost, require_root

BYTES = csi_pb2.VolumeUsage.BYTES
INODES = csi_pb2.VolumeUsage.INODES
ROM = csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_READER_ONLY


@pytest.fixture
def host(request: pytest.FixtureRequest) -> Iterator[LoopHost]:
    require_root(xfs=True)
    loops = LoopHost()
    yield loops
    problems = loops.close()
    assert problems == [], problems
    assert loops.mounts() == []


@pytest.fixture
def drv(host: LoopHost) -> Iterator[Driver]:
    with start(None, mounter=SystemMounter(), base=host.base) as driver:
        yield driver


def fs_type_of(device: str) -> str:
    out = subprocess.run(
        ["blkid", "-p", "-s", "TYPE", "-o", "value", device],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip()


def stage(drv: Driver, vid: str, staging: Path, fs: str = "ext4") -> None:
    drv.node.NodeStageVolume(
        csi_pb2.NodeStageVolumeRequest(
            volume_id=vid, staging_target_path=str(staging), volume_capability=cap(fs=fs)
        )
    )


def publish(
    drv: Driver, vid: str, staging: Path, target: Path, *, readonly: bool = False, **kw: object
) -> None:
    drv.node.NodePublishVolume(
        csi_pb2.NodePublishVolumeRequest(
            volume_id=vid,
            staging_target_path=str(staging),
            target_path=str(target),
            volume_capability=kw.pop("capability", None) or cap(fs="ext4"),  # type: ignore[arg-type]
            readonly=readonly,
        )
    )


def usage(drv: Driver, vid: str, path: Path) -> dict[int, csi_pb2.VolumeUsage]:
    stats = drv.node.NodeGetVolumeStats(
        csi_pb2.NodeGetVolumeStatsRequest(volume_id=vid, volume_path=str(path))
    )
    return {u.unit: u for u in stats.usage}


def new_volume(drv: Driver, host: LoopHost, size: int = 320 * MIB) -> tuple[str, Loop]:
    vid = str(uuid.uuid4())
    loop = host.make(size)
    drv.plug(vid, loop.device)
    return vid, loop


@pytest.mark.parametrize("fs", ["ext4", "xfs"])
def test_stage_publish_stats_unstage(drv: Driver, host: LoopHost, fs: str) -> None:
    vid, loop = new_volume(drv, host)
    staging, target, ro_target = (
        drv.work / "staging",
        drv.work / "pod" / "mount",
        drv.work / "pod-ro" / "mount",
    )
    assert fs_type_of(loop.device) == ""
    stage(drv, vid, staging, fs)
    stage(drv, vid, staging, fs)  # repeat: already staged, nothing happens
    assert fs_type_of(loop.device) == fs
    assert [str(staging)] == [p for p in host.mounts() if p == str(staging)]
    (staging / "data.txt").write_text("kept")

    publish(drv, vid, staging, target)
    publish(drv, vid, staging, target)  # repeat
    assert (target / "data.txt").read_text() == "kept"
    (target / "from-pod.txt").write_text("written through the bind mount")
    assert (staging / "from-pod.txt").exists()

    publish(drv, vid, staging, ro_target, readonly=True)
    assert (ro_target / "data.txt").read_text() == "kept"
    with pytest.raises(OSError) as info:
        (ro_target / "nope.txt").write_text("x")
    assert info.value.errno == errno.EROFS

    before = usage(drv, vid, target)
    assert 250 * MIB < before[BYTES].total <= 320 * MIB
    assert 0 < before[BYTES].used < before[BYTES].total
    assert 0 < before[BYTES].available < before[BYTES].total
    assert before[INODES].total > 0 and before[INODES].used > 0
    st = os.statvfs(target)
    assert before[BYTES].total == st.f_blocks * st.f_frsize

    for path in (target, ro_target):
        request = csi_pb2.NodeUnpublishVolumeRequest(volume_id=vid, target_path=str(path))
        drv.node.NodeUnpublishVolume(request)
        drv.node.NodeUnpublishVolume(request)  # repeat
        assert not path.exists()
    unstage = csi_pb2.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=str(staging))
    drv.node.NodeUnstageVolume(unstage)
    drv.node.NodeUnstageVolume(unstage)  # repeat
    assert host.mounts() == []

    # Staged again (another pod, after a reboot): the filesystem is mounted, not remade.
    stage(drv, vid, staging, fs)
    assert (staging / "data.txt").read_text() == "kept"
    drv.node.NodeUnstageVolume(unstage)
    assert host.mounts() == []


CAP_SYS_RESOURCE = 24


def has_capability(bit: int) -> bool:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> bit & 1)
    return False


@pytest.mark.parametrize("fs", ["ext4", "xfs"])
def test_node_expand_grows_the_filesystem(drv: Driver, host: LoopHost, fs: str) -> None:
    if fs == "ext4" and not has_capability(CAP_SYS_RESOURCE):
        # The kernel refuses online ext4 growth (EXT4_IOC_RESIZE_FS) without it; a node
        # plugin runs privileged. Containers that drop it (this sandbox) cannot test it.
        pytest.skip("online ext4 resize needs CAP_SYS_RESOURCE, which this process lacks")
    vid, loop = new_volume(drv, host)
    staging, target = drv.work / "staging", drv.work / "pod" / "mount"
    stage(drv, vid, staging, fs)
    publish(drv, vid, staging, target)
    (target / "data.txt").write_text("kept")
    before = usage(drv, vid, target)[BYTES].total

    loop.grow(480 * MIB)
    assert loop.size() == 480 * MIB
    grown = drv.node.NodeExpandVolume(
        csi_pb2.NodeExpandVolumeRequest(
            volume_id=vid,
            volume_path=str(target),
            capacity_range=csi_pb2.CapacityRange(required_bytes=480 * MIB),
        )
    )
    assert grown.capacity_bytes == 480 * MIB
    after = usage(drv, vid, target)[BYTES].total
    assert after > before + 120 * MIB
    assert after == os.statvfs(staging).f_blocks * os.statvfs(staging).f_frsize
    assert (target / "data.txt").read_text() == "kept"
    drv.node.NodeUnpublishVolume(
        csi_pb2.NodeUnpublishVolumeRequest(volume_id=vid, target_path=str(target))
    )
    drv.node.NodeUnstageVolume(
        csi_pb2.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=str(staging))
    )
    assert host.mounts() == []


def test_stage_grows_a_restored_filesystem(drv: Driver, host: LoopHost) -> None:
    """A volume restored from a smaller snapshot: its filesystem is smaller than the disk, and
    CreateVolume put ``resizeRequired`` in the context; staging grows it (xfs: online)."""
    vid, loop = new_volume(drv, host)
    subprocess.run(["mkfs.xfs", "-q", "-f", loop.device], check=True)
    loop.grow(480 * MIB)
    staging = drv.work / "staging"
    drv.node.NodeStageVolume(
        csi_pb2.NodeStageVolumeRequest(
            volume_id=vid,
            staging_target_path=str(staging),
            volume_capability=cap(fs="xfs"),
            volume_context={"cinder.csi.openstack.org/resizeRequired": "true"},
        )
    )
    st = os.statvfs(staging)
    assert st.f_blocks * st.f_frsize > 400 * MIB
    drv.node.NodeUnstageVolume(
        csi_pb2.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=str(staging))
    )
    assert host.mounts() == []


def test_block_publish_binds_the_device(drv: Driver, host: LoopHost) -> None:
    vid, loop = new_volume(drv, host, 64 * MIB)
    target = drv.work / "pod" / "dev" / vid
    block = cap(block=True)
    drv.node.NodeStageVolume(
        csi_pb2.NodeStageVolumeRequest(
            volume_id=vid, staging_target_path=str(drv.work / "staging"), volume_capability=block
        )
    )
    assert host.mounts() == []  # block: staging does nothing
    publish(drv, vid, drv.work / "staging", target, capability=block)
    assert host.mounts() == [str(target)]
    assert os.major(os.stat(target).st_rdev) == os.major(os.stat(loop.device).st_rdev)
    with open(target, "r+b") as disk:  # the pod writes to the raw device
        disk.write(b"raw-block-data")
    with open(loop.file, "rb") as backing:
        assert backing.read(14) == b"raw-block-data"
    stats = usage(drv, vid, target)
    assert stats[BYTES].total == 64 * MIB
    assert fs_type_of(loop.device) == ""  # never formatted
    drv.node.NodeUnpublishVolume(
        csi_pb2.NodeUnpublishVolumeRequest(volume_id=vid, target_path=str(target))
    )
    assert host.mounts() == [] and not target.exists()


def write_mbr(loop: Loop) -> None:
    """A DOS partition table with one Linux partition (what a user's fdisk would leave)."""
    mbr = bytearray(512)
    mbr[440:444] = b"\x12\x34\x56\x78"
    mbr[446:462] = bytes([0, 0, 0, 0, 0x83, 0, 0, 0]) + struct.pack("<II", 2048, 4096)
    mbr[510:512] = b"\x55\xaa"
    with open(loop.device, "r+b") as disk:
        disk.write(mbr)


def test_never_formats_a_disk_with_a_partition_table(drv: Driver, host: LoopHost) -> None:
    vid, loop = new_volume(drv, host, 64 * MIB)
    write_mbr(loop)
    with open(loop.file, "rb") as backing:
        original = backing.read(512)
    with pytest.raises(grpc.RpcError) as info:
        stage(drv, vid, drv.work / "staging")
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "partition table" in (info.value.details() or "")
    with open(loop.file, "rb") as backing:
        assert backing.read(512) == original
    assert fs_type_of(loop.device) == ""
    assert host.mounts() == []


def test_never_reformats_another_filesystem(drv: Driver, host: LoopHost) -> None:
    vid, loop = new_volume(drv, host, 64 * MIB)
    subprocess.run(["mkfs.ext4", "-q", "-F", loop.device], check=True)
    scratch = host.base / "scratch"
    scratch.mkdir()
    subprocess.run(["mount", loop.device, str(scratch)], check=True)
    (scratch / "precious.txt").write_text("user data")
    subprocess.run(["umount", str(scratch)], check=True)

    staging = drv.work / "staging"
    with pytest.raises(grpc.RpcError) as info:
        stage(drv, vid, staging, "xfs")
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "already holds a ext4 filesystem" in (info.value.details() or "")
    assert fs_type_of(loop.device) == "ext4"
    assert host.mounts() == []

    stage(drv, vid, staging, "ext4")  # the type it holds: mounted as is, data intact
    assert (staging / "precious.txt").read_text() == "user data"
    drv.node.NodeUnstageVolume(
        csi_pb2.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=str(staging))
    )
    assert host.mounts() == []


def test_not_root_skips_with_the_reason_but_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.delenv("OSK8S_REQUIRE_TESTCLOUD", raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs root: loop devices"):
        require_root()
    monkeypatch.setenv("OSK8S_REQUIRE_TESTCLOUD", "1")
    with pytest.raises(pytest.fail.Exception, match="CI runs as root"):
        require_root()
