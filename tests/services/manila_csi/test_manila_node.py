"""Node forwarding of the Manila driver (NFS) to a partner plugin stand-in over real sockets:
partner probed until ready, its capabilities advertised, stage/publish resolved against the
test cloud's real Manila share and forwarded with the partner's context and secrets (no
``os-*`` credential ever reaches it), the stage cache, static PVs, runtime config, error codes.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from osk8s_core.proto.csi import csi_pb2
from osk8s_testing.csi.checks import unique
from osk8s_testing.csi.partner import NodeRpc
from osk8s_testing.csi.requests import GIB, MNMW, cap, code_of, create_req, status_of

from .manila_harness import INSTANCE_ID, Driver, start

pytestmark = pytest.mark.contract


@pytest.fixture(scope="module")
def share(nfs: Driver) -> Iterator[csi_pb2.Volume]:
    request = create_req(unique(), mode=MNMW, secrets=nfs.secrets)
    volume = nfs.controller.CreateVolume(request).volume
    try:
        yield volume
    finally:
        nfs.controller.DeleteVolume(
            csi_pb2.DeleteVolumeRequest(volume_id=volume.volume_id, secrets=nfs.secrets)
        )


def stage(driver: Driver, volume_id: str, context: dict[str, str], secrets: dict[str, str]) -> None:
    driver.node.NodeStageVolume(
        csi_pb2.NodeStageVolumeRequest(
            volume_id=volume_id,
            staging_target_path=f"/var/lib/kubelet/staging/{volume_id}",
            volume_capability=cap(MNMW),
            volume_context=context,
            secrets=secrets,
        )
    )


def publish_req(
    volume_id: str, context: dict[str, str], **kw: object
) -> csi_pb2.NodePublishVolumeRequest:
    return csi_pb2.NodePublishVolumeRequest(
        volume_id=volume_id,
        staging_target_path=f"/var/lib/kubelet/staging/{volume_id}",
        target_path=f"/var/lib/kubelet/pods/p1/{volume_id}",
        volume_capability=cap(MNMW),
        volume_context=context,
        **kw,  # type: ignore[arg-type]
    )


def test_partner_probed_and_capabilities_advertised(nfs: Driver) -> None:
    assert len(nfs.partner.recorder.of("Probe")) >= 2  # "not ready" once, then ready
    caps = nfs.node.NodeGetCapabilities(csi_pb2.NodeGetCapabilitiesRequest()).capabilities
    assert {c.rpc.type for c in caps} == {NodeRpc.STAGE_UNSTAGE_VOLUME, NodeRpc.GET_VOLUME_STATS}
    info = nfs.node.NodeGetInfo(csi_pb2.NodeGetInfoRequest())
    assert info.node_id == INSTANCE_ID
    assert dict(info.accessible_topology.segments) == {
        "topology.manila.csi.openstack.org/zone": "nova"
    }


def test_stage_publish_forwarded_with_partner_context(nfs: Driver, share: csi_pb2.Volume) -> None:
    vid = share.volume_id
    context = dict(share.volume_context)
    stage(nfs, vid, context, nfs.secrets)
    staged = nfs.partner.recorder.of("NodeStageVolume")[-1]
    # The dummy back end exports 10.0.0.10 (preferred), 10.0.0.20, and 11.0.0.11 admin-only.
    assert set(staged.volume_context) == {"server", "share"}
    assert staged.volume_context["server"] == "10.0.0.10"
    assert staged.volume_context["share"].startswith("/path/to/fake/share/")
    assert dict(staged.secrets) == {}
    assert staged.staging_target_path == f"/var/lib/kubelet/staging/{vid}"
    # Publish without secrets: the stage cache has the partner volume.
    nfs.node.NodePublishVolume(publish_req(vid, context))
    published = nfs.partner.recorder.of("NodePublishVolume")[-1]
    assert dict(published.volume_context) == dict(staged.volume_context)
    assert published.target_path.endswith(vid)
    stats = nfs.node.NodeGetVolumeStats(
        csi_pb2.NodeGetVolumeStatsRequest(volume_id=vid, volume_path=published.target_path)
    )
    assert stats.usage[0].total == GIB
    nfs.node.NodeUnpublishVolume(
        csi_pb2.NodeUnpublishVolumeRequest(volume_id=vid, target_path=published.target_path)
    )
    nfs.node.NodeUnstageVolume(
        csi_pb2.NodeUnstageVolumeRequest(
            volume_id=vid, staging_target_path=staged.staging_target_path
        )
    )
    assert nfs.partner.recorder.of("NodeUnstageVolume")[-1].volume_id == vid
    # Unstaged: the cache is gone, so a publish needs credentials again.
    error = status_of(nfs.node.NodePublishVolume, publish_req(vid, context))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and "os-authURL" in error.details


def test_static_pv_by_name_and_partner_errors(nfs: Driver, share: csi_pb2.Volume) -> None:
    name = nfs.view().shares.get(share.volume_id).name
    context = {"shareName": name}
    nfs.node.NodePublishVolume(publish_req("static-pv-1", context, secrets=nfs.secrets))
    assert nfs.partner.recorder.of("NodePublishVolume")[-1].volume_context["server"] == "10.0.0.10"
    both = {"shareName": name, "shareID": share.volume_id}
    assert code_of(nfs.node.NodePublishVolume, publish_req("s", both, secrets=nfs.secrets)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    missing = {"shareID": "00000000-0000-4000-8000-000000000000"}
    assert code_of(nfs.node.NodePublishVolume, publish_req("s", missing, secrets=nfs.secrets)) == (
        grpc.StatusCode.NOT_FOUND
    )
    refused = publish_req("static-pv-2", context, secrets=nfs.secrets)
    refused.target_path = "/var/lib/kubelet/pods/p2/refuse"
    error = status_of(nfs.node.NodePublishVolume, refused)
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "refused by the stand-in" in error.details
    expand = csi_pb2.NodeExpandVolumeRequest(volume_id="v", volume_path="/p")
    assert code_of(nfs.node.NodeExpandVolume, expand) == grpc.StatusCode.UNIMPLEMENTED


def test_runtime_config_and_node_expansion(
    demo_secrets: dict[str, str], share: csi_pb2.Volume
) -> None:
    caps = (NodeRpc.STAGE_UNSTAGE_VOLUME, NodeRpc.EXPAND_VOLUME)
    runtime = {"nfs": {"matchExportLocationAddress": "10.0.0.16/28"}}
    with start(demo_secrets, partner_caps=caps, runtime_config=runtime) as driver:
        stage(driver, share.volume_id, dict(share.volume_context), demo_secrets)
        staged = driver.partner.recorder.of("NodeStageVolume")[-1]
        assert staged.volume_context["server"] == "10.0.0.20"  # not the preferred 10.0.0.10
        expand = csi_pb2.NodeExpandVolumeRequest(
            volume_id=share.volume_id,
            volume_path="/var/lib/kubelet/pods/p1/mount",
            capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB),
        )
        assert driver.node.NodeExpandVolume(expand).capacity_bytes == 2 * GIB
        assert driver.partner.recorder.of("NodeExpandVolume")[-1].volume_id == share.volume_id
        (driver.work / "runtime.json").write_text(
            '{"nfs":{"matchExportLocationAddress":"192.0.2.1"}}'
        )
        driver.node.NodeUnstageVolume(
            csi_pb2.NodeUnstageVolumeRequest(volume_id=share.volume_id, staging_target_path="/s")
        )
        request = csi_pb2.NodeStageVolumeRequest(
            volume_id=share.volume_id,
            staging_target_path="/s",
            volume_capability=cap(MNMW),
            volume_context=dict(share.volume_context),
            secrets=demo_secrets,
        )
        error = status_of(driver.node.NodeStageVolume, request)
        assert error.code == grpc.StatusCode.FAILED_PRECONDITION
        assert "192.0.2.1" in error.details
