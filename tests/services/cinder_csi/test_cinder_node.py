"""Node service over gRPC with the fake mounter, fake /dev and fake metadata."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from osk8s_cinder_csi.options import NodeOptions
from osk8s_core.metadata import Device
from osk8s_core.proto.csi import csi_pb2
from osk8s_testing.csi.requests import GIB, cap, code_of

from .cinder_harness import Driver, FakeMetadata, start

VOL = "0b0e6f5c-6a4b-4d53-9f55-3a0d1f2b7c11"


@pytest.fixture
def drv() -> Iterator[Driver]:
    options = NodeOptions(additional_topology={"rack": "r1"})
    with start(None, node_options=options) as driver:
        yield driver


def stage_req(
    drv: Driver, capability: csi_pb2.VolumeCapability | None = None, **kw: object
) -> csi_pb2.NodeStageVolumeRequest:
    return csi_pb2.NodeStageVolumeRequest(
        volume_id=VOL,
        staging_target_path=str(drv.work / "staging"),
        volume_capability=capability or cap(),
        **kw,  # type: ignore[arg-type]
    )


def publish_req(
    drv: Driver, capability: csi_pb2.VolumeCapability | None = None, **kw: object
) -> csi_pb2.NodePublishVolumeRequest:
    return csi_pb2.NodePublishVolumeRequest(
        volume_id=VOL,
        staging_target_path=str(drv.work / "staging"),
        target_path=str(drv.work / "target"),
        volume_capability=capability or cap(),
        **kw,  # type: ignore[arg-type]
    )


def test_identity_without_controller(drv: Driver) -> None:
    caps = drv.identity.GetPluginCapabilities(csi_pb2.GetPluginCapabilitiesRequest())
    services = {c.service.type for c in caps.capabilities if c.HasField("service")}
    # Advertised as CPO's node plugin does (its capability list is static)...
    assert csi_pb2.PluginCapability.Service.CONTROLLER_SERVICE in services
    # ...but the controller service is not registered in a node-only plugin.
    with pytest.raises(grpc.RpcError) as info:
        drv.controller.ControllerGetCapabilities(csi_pb2.ControllerGetCapabilitiesRequest())
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_node_get_info_and_capabilities(drv: Driver) -> None:
    info = drv.node.NodeGetInfo(csi_pb2.NodeGetInfoRequest())
    assert info.node_id == drv.node_id
    assert info.max_volumes_per_node == 256  # CPO's documented default
    assert dict(info.accessible_topology.segments) == {
        "topology.cinder.csi.openstack.org/zone": "nova",
        "rack": "r1",
    }
    caps = drv.node.NodeGetCapabilities(csi_pb2.NodeGetCapabilitiesRequest()).capabilities
    rpc = csi_pb2.NodeServiceCapability.RPC
    assert {c.rpc.type for c in caps} == {
        rpc.STAGE_UNSTAGE_VOLUME,
        rpc.EXPAND_VOLUME,
        rpc.GET_VOLUME_STATS,
    }


@pytest.mark.parametrize(
    ("method", "request_"),
    [
        (
            "NodeStageVolume",
            csi_pb2.NodeStageVolumeRequest(staging_target_path="/s", volume_capability=cap()),
        ),
        ("NodeStageVolume", csi_pb2.NodeStageVolumeRequest(volume_id="v", volume_capability=cap())),
        (
            "NodeStageVolume",
            csi_pb2.NodeStageVolumeRequest(volume_id="v", staging_target_path="/s"),
        ),
        ("NodeUnstageVolume", csi_pb2.NodeUnstageVolumeRequest(volume_id="v")),
        ("NodeUnstageVolume", csi_pb2.NodeUnstageVolumeRequest(staging_target_path="/s")),
        (
            "NodePublishVolume",
            csi_pb2.NodePublishVolumeRequest(
                volume_id="v", target_path="/t", volume_capability=cap()
            ),
        ),
        (
            "NodePublishVolume",
            csi_pb2.NodePublishVolumeRequest(
                volume_id="v", staging_target_path="/s", volume_capability=cap()
            ),
        ),
        ("NodeUnpublishVolume", csi_pb2.NodeUnpublishVolumeRequest(volume_id="v")),
        ("NodeUnpublishVolume", csi_pb2.NodeUnpublishVolumeRequest(target_path="/t")),
        ("NodeGetVolumeStats", csi_pb2.NodeGetVolumeStatsRequest(volume_id="v")),
        ("NodeGetVolumeStats", csi_pb2.NodeGetVolumeStatsRequest(volume_path="/p")),
        ("NodeExpandVolume", csi_pb2.NodeExpandVolumeRequest(volume_id="v")),
    ],
)
def test_node_required_fields(drv: Driver, method: str, request_: object) -> None:
    assert code_of(getattr(drv.node, method), request_) == grpc.StatusCode.INVALID_ARGUMENT


def test_stage_without_device_is_not_found(drv: Driver) -> None:
    assert code_of(drv.node.NodeStageVolume, stage_req(drv)) == grpc.StatusCode.NOT_FOUND
    assert drv.rescanner.count == 1  # rescanned between the two polls


def test_stage_formats_once_and_unstage(drv: Driver) -> None:
    device = drv.plug(VOL)
    drv.node.NodeStageVolume(stage_req(drv))
    drv.node.NodeStageVolume(stage_req(drv))
    staging = str(drv.work / "staging")
    assert drv.fake_mounter.calls == [("format_and_mount", str(device), staging, "ext4", "")]
    drv.node.NodeUnstageVolume(
        csi_pb2.NodeUnstageVolumeRequest(volume_id=VOL, staging_target_path=staging)
    )
    drv.node.NodeUnstageVolume(
        csi_pb2.NodeUnstageVolumeRequest(volume_id=VOL, staging_target_path=staging)
    )
    assert drv.fake_mounter.calls[1:] == [("unmount", staging)]


def test_stage_xfs_gets_nouuid_and_resize_when_required(drv: Driver) -> None:
    device = drv.plug(VOL)
    request = stage_req(
        drv,
        cap(fs="xfs", flags=("noatime",)),
        volume_context={"cinder.csi.openstack.org/resizeRequired": "true"},
    )
    drv.node.NodeStageVolume(request)
    staging = str(drv.work / "staging")
    assert drv.fake_mounter.calls == [
        ("format_and_mount", str(device), staging, "xfs", "noatime,nouuid"),
        ("resize_fs", str(device), staging),
    ]


def test_stage_block_does_nothing(drv: Driver) -> None:
    drv.node.NodeStageVolume(stage_req(drv, cap(block=True)))
    assert drv.fake_mounter.calls == []


def test_device_found_through_metadata_fallback() -> None:
    meta = FakeMetadata(
        devices=(Device(type="disk", bus="pci", serial=VOL, address="0000:00:07.0"),)
    )
    with start(None, metadata=meta) as drv:
        by_path = drv.dev_root / "disk" / "by-path"
        by_path.mkdir(parents=True)
        disk = by_path / "pci-0000:00:07.0-pci-0000:00:07.0"
        disk.touch()
        drv.node.NodeStageVolume(stage_req(drv))
        assert drv.fake_mounter.calls[0][1] == str(disk)


def test_publish_bind_mounts_read_only_and_unpublish(drv: Driver) -> None:
    drv.plug(VOL)
    drv.node.NodeStageVolume(stage_req(drv))
    drv.node.NodePublishVolume(publish_req(drv, readonly=True))
    drv.node.NodePublishVolume(publish_req(drv, readonly=True))
    target = str(drv.work / "target")
    assert drv.fake_mounter.calls[1:] == [("bind_mount", str(drv.work / "staging"), target, "ro")]
    unpublish = csi_pb2.NodeUnpublishVolumeRequest(volume_id=VOL, target_path=target)
    drv.node.NodeUnpublishVolume(unpublish)
    drv.node.NodeUnpublishVolume(unpublish)
    assert not Path(target).exists()
    assert drv.fake_mounter.calls[-1] == ("unmount", target)


def test_publish_block_binds_device_onto_a_file(drv: Driver) -> None:
    device = drv.plug(VOL)
    drv.node.NodePublishVolume(publish_req(drv, cap(block=True)))
    target = drv.work / "target"
    assert target.is_file()
    assert drv.fake_mounter.calls == [("bind_mount", str(device), str(target), "rw")]


def test_inline_ephemeral_is_unimplemented(drv: Driver) -> None:
    request = publish_req(drv, volume_context={"csi.storage.k8s.io/ephemeral": "true"})
    assert code_of(drv.node.NodePublishVolume, request) == grpc.StatusCode.UNIMPLEMENTED


def test_volume_stats(drv: Driver, tmp_path: Path) -> None:
    missing = csi_pb2.NodeGetVolumeStatsRequest(volume_id=VOL, volume_path=str(tmp_path / "no"))
    assert code_of(drv.node.NodeGetVolumeStats, missing) == grpc.StatusCode.NOT_FOUND
    stats = drv.node.NodeGetVolumeStats(
        csi_pb2.NodeGetVolumeStatsRequest(volume_id=VOL, volume_path=str(tmp_path))
    )
    units = {u.unit: u for u in stats.usage}
    assert units[csi_pb2.VolumeUsage.BYTES].total == 10 * GIB
    assert units[csi_pb2.VolumeUsage.INODES].used == 100
    block = tmp_path / "blockfile"
    block.touch()
    stats = drv.node.NodeGetVolumeStats(
        csi_pb2.NodeGetVolumeStatsRequest(volume_id=VOL, volume_path=str(block))
    )
    assert [(u.unit, u.total) for u in stats.usage] == [(csi_pb2.VolumeUsage.BYTES, 10 * GIB)]


def test_node_expand(drv: Driver) -> None:
    device = drv.plug(VOL)
    drv.node.NodeStageVolume(stage_req(drv))
    staging = str(drv.work / "staging")
    missing = csi_pb2.NodeExpandVolumeRequest(volume_id=VOL, volume_path="/no/such/path")
    assert code_of(drv.node.NodeExpandVolume, missing) == grpc.StatusCode.NOT_FOUND
    out = drv.node.NodeExpandVolume(
        csi_pb2.NodeExpandVolumeRequest(
            volume_id=VOL,
            volume_path=staging,
            capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB),
        )
    )
    assert out.capacity_bytes == 2 * GIB
    assert drv.fake_mounter.calls[-1] == ("resize_fs", str(device), staging)


def test_node_expand_rescan_checks_size() -> None:
    with start(None, node_options=NodeOptions(rescan_on_resize=True)) as drv:
        device = drv.plug(VOL)
        drv.node.NodeStageVolume(stage_req(drv))
        staging = str(drv.work / "staging")
        too_big = csi_pb2.NodeExpandVolumeRequest(
            volume_id=VOL,
            volume_path=staging,
            capacity_range=csi_pb2.CapacityRange(required_bytes=20 * GIB),
        )
        assert code_of(drv.node.NodeExpandVolume, too_big) == grpc.StatusCode.FAILED_PRECONDITION
        assert ("rescan", str(device)) in drv.fake_mounter.calls
        assert not any(c[0] == "resize_fs" for c in drv.fake_mounter.calls)
