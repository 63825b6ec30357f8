"""CSI conformance of the cinder driver over its real gRPC socket, written from the spec.

Each test runs against the in-memory cloud and, marked contract, the real test cloud
(Cinder fake driver): required-field errors, idempotency, NotFound paths, capability-gated
behaviour, snapshots, expansion, pagination, and a full lifecycle through the node RPCs. One
server process serves controller and node on one endpoint; on the test cloud as root the node
side is the real host path on loop devices (see conftest).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from osk8s_core.proto.csi import csi_pb2
from osk8s_testing.csi.checks import (
    Profile,
    check_controller_capabilities,
    check_create_idempotent,
    check_delete_idempotent,
    check_identity,
    check_snapshot_idempotent,
    unique,
    walk_list_volumes,
)
from osk8s_testing.csi.requests import GIB, cap, code_of, create_req

from .conftest import Target
from .loop_devices import MIB, require_root

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
_Svc = csi_pb2.PluginCapability.Service
_Exp = csi_pb2.PluginCapability.VolumeExpansion
_Rpc = csi_pb2.ControllerServiceCapability.RPC
PROFILE = Profile(
    name="cinder.csi.openstack.org",
    version_prefix="2.0.0@",
    services=frozenset({_Svc.CONTROLLER_SERVICE, _Svc.VOLUME_ACCESSIBILITY_CONSTRAINTS}),
    expansions=frozenset({_Exp.ONLINE, _Exp.OFFLINE}),
    controller_rpcs=frozenset(
        {
            _Rpc.LIST_VOLUMES,
            _Rpc.CREATE_DELETE_VOLUME,
            _Rpc.PUBLISH_UNPUBLISH_VOLUME,
            _Rpc.CREATE_DELETE_SNAPSHOT,
            _Rpc.LIST_SNAPSHOTS,
            _Rpc.EXPAND_VOLUME,
            _Rpc.CLONE_VOLUME,
            _Rpc.LIST_VOLUMES_PUBLISHED_NODES,
            _Rpc.GET_VOLUME,
        }
    ),
)


@pytest.fixture
def cleanup(target: Target) -> Iterator[list[tuple[str, str]]]:
    """Undo what a test made, newest first, as a CO does: node unpublish/unstage on the same
    endpoint (kinds ``published``/``staged``: ``"<volume id> <path>"``), detach from every
    node, then delete snapshots and volumes."""
    items: list[tuple[str, str]] = []
    yield items
    ctrl, node = target.driver.controller, target.driver.node
    for kind, ident in reversed(items):
        with contextlib.suppress(grpc.RpcError):
            if kind == "published":
                vid, path = ident.split(" ", 1)
                node.NodeUnpublishVolume(
                    csi_pb2.NodeUnpublishVolumeRequest(volume_id=vid, target_path=path)
                )
            elif kind == "staged":
                vid, path = ident.split(" ", 1)
                node.NodeUnstageVolume(
                    csi_pb2.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=path)
                )
            elif kind == "snapshot":
                ctrl.DeleteSnapshot(csi_pb2.DeleteSnapshotRequest(snapshot_id=ident))
            else:
                ctrl.ControllerUnpublishVolume(
                    csi_pb2.ControllerUnpublishVolumeRequest(volume_id=ident)
                )
                ctrl.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=ident))


def make_volume(target: Target, cleanup: list[tuple[str, str]], size: int = GIB) -> csi_pb2.Volume:
    volume: csi_pb2.Volume = target.driver.controller.CreateVolume(
        create_req(unique(), size)
    ).volume
    cleanup.append(("volume", volume.volume_id))
    return volume


# identity ----------------------------------------------------------------------------------


def test_identity(target: Target) -> None:
    check_identity(target.driver.identity, PROFILE)


def test_controller_capabilities(target: Target) -> None:
    check_controller_capabilities(target.driver.controller, PROFILE)


# required fields (no cloud call is made: these are answered before any lookup) --------------


@pytest.mark.parametrize(
    ("method", "request_"),
    [
        ("CreateVolume", csi_pb2.CreateVolumeRequest(volume_capabilities=[cap()])),
        ("CreateVolume", csi_pb2.CreateVolumeRequest(name="x")),
        (
            "CreateVolume",
            csi_pb2.CreateVolumeRequest(name="x", volume_capabilities=[csi_pb2.VolumeCapability()]),
        ),
        ("DeleteVolume", csi_pb2.DeleteVolumeRequest()),
        (
            "ControllerPublishVolume",
            csi_pb2.ControllerPublishVolumeRequest(node_id="n", volume_capability=cap()),
        ),
        (
            "ControllerPublishVolume",
            csi_pb2.ControllerPublishVolumeRequest(volume_id="v", volume_capability=cap()),
        ),
        (
            "ControllerPublishVolume",
            csi_pb2.ControllerPublishVolumeRequest(volume_id="v", node_id="n"),
        ),
        ("ControllerUnpublishVolume", csi_pb2.ControllerUnpublishVolumeRequest(node_id="n")),
        ("ValidateVolumeCapabilities", csi_pb2.ValidateVolumeCapabilitiesRequest(volume_id="v")),
        (
            "ValidateVolumeCapabilities",
            csi_pb2.ValidateVolumeCapabilitiesRequest(volume_capabilities=[cap()]),
        ),
        ("ControllerGetVolume", csi_pb2.ControllerGetVolumeRequest()),
        ("ControllerExpandVolume", csi_pb2.ControllerExpandVolumeRequest(volume_id="v")),
        (
            "ControllerExpandVolume",
            csi_pb2.ControllerExpandVolumeRequest(
                capacity_range=csi_pb2.CapacityRange(required_bytes=GIB)
            ),
        ),
        ("CreateSnapshot", csi_pb2.CreateSnapshotRequest(name="s")),
        ("CreateSnapshot", csi_pb2.CreateSnapshotRequest(source_volume_id="v")),
        ("DeleteSnapshot", csi_pb2.DeleteSnapshotRequest()),
        ("ListVolumes", csi_pb2.ListVolumesRequest(max_entries=-1)),
        ("ListSnapshots", csi_pb2.ListSnapshotsRequest(max_entries=-1)),
    ],
)
def test_controller_required_fields(target: Target, method: str, request_: object) -> None:
    assert code_of(getattr(target.driver.controller, method), request_) == INVALID


def test_unknown_cloud_in_secrets(target: Target) -> None:
    request = create_req(unique(), secrets={"cloud": "no-such-cloud"})
    assert code_of(target.driver.controller.CreateVolume, request) == INVALID


# create / delete -----------------------------------------------------------------------------


def test_create_rounds_up_and_is_idempotent_by_name(
    target: Target, cleanup: list[tuple[str, str]]
) -> None:
    first = check_create_idempotent(
        target.driver.controller, lambda ident: cleanup.append(("volume", ident))
    )
    topology = [dict(t.segments) for t in first.accessible_topology]
    assert topology and "topology.cinder.csi.openstack.org/zone" in topology[0]


def test_create_default_size_and_limit(target: Target, cleanup: list[tuple[str, str]]) -> None:
    ctrl = target.driver.controller
    request = csi_pb2.CreateVolumeRequest(name=unique(), volume_capabilities=[cap()])
    volume = ctrl.CreateVolume(request).volume
    cleanup.append(("volume", volume.volume_id))
    assert volume.capacity_bytes == GIB
    too_small = csi_pb2.CreateVolumeRequest(
        name=unique(),
        volume_capabilities=[cap()],
        capacity_range=csi_pb2.CapacityRange(required_bytes=GIB + 1, limit_bytes=GIB + 2),
    )
    assert code_of(ctrl.CreateVolume, too_small) == grpc.StatusCode.OUT_OF_RANGE


def test_delete_is_idempotent(target: Target) -> None:
    ctrl = target.driver.controller
    volume = ctrl.CreateVolume(create_req(unique())).volume
    check_delete_idempotent(ctrl, volume.volume_id, {})
    missing = csi_pb2.ControllerGetVolumeRequest(volume_id=volume.volume_id)
    if target.kind == "fake":
        assert code_of(ctrl.ControllerGetVolume, missing) == NOT_FOUND


def test_get_and_validate(target: Target, cleanup: list[tuple[str, str]]) -> None:
    ctrl = target.driver.controller
    volume = make_volume(target, cleanup)
    got = ctrl.ControllerGetVolume(csi_pb2.ControllerGetVolumeRequest(volume_id=volume.volume_id))
    assert got.volume.capacity_bytes == GIB
    assert list(got.status.published_node_ids) == []
    unknown = str(uuid.uuid4())
    get_unknown = csi_pb2.ControllerGetVolumeRequest(volume_id=unknown)
    assert code_of(ctrl.ControllerGetVolume, get_unknown) == NOT_FOUND
    ok = ctrl.ValidateVolumeCapabilities(
        csi_pb2.ValidateVolumeCapabilitiesRequest(
            volume_id=volume.volume_id, volume_capabilities=[cap()]
        )
    )
    assert ok.HasField("confirmed") and ok.confirmed.volume_capabilities[0] == cap()
    rwx = csi_pb2.VolumeCapability.AccessMode.MULTI_NODE_MULTI_WRITER
    no = ctrl.ValidateVolumeCapabilities(
        csi_pb2.ValidateVolumeCapabilitiesRequest(
            volume_id=volume.volume_id, volume_capabilities=[cap(rwx)]
        )
    )
    assert not no.HasField("confirmed") and "MULTI_NODE_MULTI_WRITER" in no.message
    validate_unknown = csi_pb2.ValidateVolumeCapabilitiesRequest(
        volume_id=unknown, volume_capabilities=[cap()]
    )
    assert code_of(ctrl.ValidateVolumeCapabilities, validate_unknown) == NOT_FOUND


def _walk_volumes(ctrl: object, *, page: int, attempts: int = 5) -> list[str]:
    """``walk_list_volumes``, listed again from the start when a token went stale, as a CO
    does on ABORTED: on the shared test cloud another test may delete the very volume a token
    points at between two pages."""
    for attempt in range(1, attempts + 1):
        try:
            return walk_list_volumes(ctrl, page=page)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.ABORTED or attempt == attempts:
                raise
    raise AssertionError("unreachable")


def test_list_volumes_paginates(target: Target, cleanup: list[tuple[str, str]]) -> None:
    ctrl = target.driver.controller
    ids = {make_volume(target, cleanup).volume_id for _ in range(3)}
    assert ids <= set(_walk_volumes(ctrl, page=2))
    bad = csi_pb2.ListVolumesRequest(starting_token=f"{uuid.uuid4()}:")
    assert code_of(ctrl.ListVolumes, bad) == grpc.StatusCode.ABORTED


# expansion -----------------------------------------------------------------------------------


def test_expand(target: Target, cleanup: list[tuple[str, str]]) -> None:
    ctrl = target.driver.controller
    volume = make_volume(target, cleanup)
    grow = csi_pb2.ControllerExpandVolumeRequest(
        volume_id=volume.volume_id, capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB)
    )
    out = ctrl.ControllerExpandVolume(grow)
    assert out.capacity_bytes == 2 * GIB and out.node_expansion_required
    again = ctrl.ControllerExpandVolume(grow)  # already that size: success, no change
    assert again.capacity_bytes == 2 * GIB
    got = ctrl.ControllerGetVolume(csi_pb2.ControllerGetVolumeRequest(volume_id=volume.volume_id))
    assert got.volume.capacity_bytes == 2 * GIB
    grow.volume_id = str(uuid.uuid4())
    assert code_of(ctrl.ControllerExpandVolume, grow) == NOT_FOUND


# snapshots -----------------------------------------------------------------------------------


def test_snapshot_lifecycle(target: Target, cleanup: list[tuple[str, str]]) -> None:
    ctrl = target.driver.controller
    volume = make_volume(target, cleanup)
    other = make_volume(target, cleanup)
    snap = check_snapshot_idempotent(
        ctrl,
        volume.volume_id,
        other.volume_id,
        {},
        remember=lambda ident: cleanup.append(("snapshot", ident)),
    )
    assert snap.ready_to_use and snap.size_bytes == GIB
    bad_type = csi_pb2.CreateSnapshotRequest(
        name=unique("snap"), source_volume_id=volume.volume_id, parameters={"type": "nope"}
    )
    assert code_of(ctrl.CreateSnapshot, bad_type) == INVALID

    by_id = ctrl.ListSnapshots(csi_pb2.ListSnapshotsRequest(snapshot_id=snap.snapshot_id))
    assert [e.snapshot.snapshot_id for e in by_id.entries] == [snap.snapshot_id]
    by_source = ctrl.ListSnapshots(csi_pb2.ListSnapshotsRequest(source_volume_id=volume.volume_id))
    assert [e.snapshot.snapshot_id for e in by_source.entries] == [snap.snapshot_id]
    none = ctrl.ListSnapshots(csi_pb2.ListSnapshotsRequest(snapshot_id=str(uuid.uuid4())))
    assert list(none.entries) == []

    restore = create_req(unique())
    restore.volume_content_source.snapshot.snapshot_id = snap.snapshot_id
    restored = ctrl.CreateVolume(restore).volume
    cleanup.append(("volume", restored.volume_id))
    assert restored.content_source.snapshot.snapshot_id == snap.snapshot_id
    assert restored.volume_context["cinder.csi.openstack.org/resizeRequired"] == "true"

    clone = create_req(unique())
    clone.volume_content_source.volume.volume_id = volume.volume_id
    cloned = ctrl.CreateVolume(clone).volume
    cleanup.append(("volume", cloned.volume_id))
    assert cloned.content_source.volume.volume_id == volume.volume_id

    missing = create_req(unique())
    missing.volume_content_source.snapshot.snapshot_id = str(uuid.uuid4())
    assert code_of(ctrl.CreateVolume, missing) == NOT_FOUND

    delete = csi_pb2.DeleteSnapshotRequest(snapshot_id=snap.snapshot_id)
    ctrl.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=restored.volume_id))
    ctrl.DeleteSnapshot(delete)
    ctrl.DeleteSnapshot(delete)


# attach / detach (Nova) ----------------------------------------------------------------------


def test_publish_unpublish(target: Target, cleanup: list[tuple[str, str]]) -> None:
    if not target.can_attach:
        pytest.skip("attach needs Nova and a server: not in this test cloud")
    ctrl = target.driver.controller
    node = target.driver.node_id
    volume = make_volume(target, cleanup)
    publish = csi_pb2.ControllerPublishVolumeRequest(
        volume_id=volume.volume_id, node_id=node, volume_capability=cap()
    )
    first = ctrl.ControllerPublishVolume(publish)
    assert first.publish_context["DevicePath"]
    assert ctrl.ControllerPublishVolume(publish).publish_context == first.publish_context
    got = ctrl.ControllerGetVolume(csi_pb2.ControllerGetVolumeRequest(volume_id=volume.volume_id))
    assert list(got.status.published_node_ids) == [node]
    delete = csi_pb2.DeleteVolumeRequest(volume_id=volume.volume_id)
    assert code_of(ctrl.DeleteVolume, delete) == grpc.StatusCode.FAILED_PRECONDITION
    unpublish = csi_pb2.ControllerUnpublishVolumeRequest(volume_id=volume.volume_id, node_id=node)
    ctrl.ControllerUnpublishVolume(unpublish)
    ctrl.ControllerUnpublishVolume(unpublish)
    ctrl.DeleteVolume(delete)
    ctrl.ControllerUnpublishVolume(unpublish)  # volume gone: still success
    if target.fake is not None:
        assert target.fake.attach_calls == 1 and target.fake.detach_calls == 1


def test_publish_not_found(target: Target, cleanup: list[tuple[str, str]]) -> None:
    ctrl = target.driver.controller
    unknown_volume = csi_pb2.ControllerPublishVolumeRequest(
        volume_id=str(uuid.uuid4()), node_id="n", volume_capability=cap()
    )
    assert code_of(ctrl.ControllerPublishVolume, unknown_volume) == NOT_FOUND
    if not target.can_attach:
        return
    volume = make_volume(target, cleanup)
    unknown_node = csi_pb2.ControllerPublishVolumeRequest(
        volume_id=volume.volume_id, node_id="no-such-node", volume_capability=cap()
    )
    assert code_of(ctrl.ControllerPublishVolume, unknown_node) == NOT_FOUND


def test_full_lifecycle_on_node(target: Target, cleanup: list[tuple[str, str]]) -> None:
    """create -> publish -> stage -> publish -> expand -> snapshot -> unpublish -> delete.

    On the test cloud (root) the node side is real: Nova's (fake) attach is followed by a loop
    device appearing under the by-id folder, which is formatted (xfs), mounted, bind-mounted,
    grown and unmounted for real; on the fake cloud the recording mounter is checked."""
    if not target.can_attach:
        pytest.skip("attach needs Nova and a server: not in this test cloud")
    real = target.host is not None
    if target.fake is None and not real:
        pytest.skip("staging on the test cloud needs root (a loop device as the attached disk)")
    drv = target.driver
    volume = make_volume(target, cleanup)
    vid = volume.volume_id
    drv.controller.ControllerPublishVolume(
        csi_pb2.ControllerPublishVolumeRequest(
            volume_id=vid, node_id=drv.node_id, volume_capability=cap()
        )
    )
    loop = None
    if target.host is not None:
        require_root(xfs=True)
        loop = target.host.make(320 * MIB)
        drv.plug(vid, loop.device)  # what the hypervisor shows the guest after the attach
    fs = "xfs" if real else "ext4"  # xfs: grows online without CAP_SYS_RESOURCE
    staging = str(drv.work / "staging" / vid)
    target_path = str(drv.work / "pods" / vid / "mount")
    drv.node.NodeStageVolume(
        csi_pb2.NodeStageVolumeRequest(
            volume_id=vid, staging_target_path=staging, volume_capability=cap(fs=fs)
        )
    )
    cleanup.append(("staged", f"{vid} {staging}"))
    cleanup.append(("published", f"{vid} {target_path}"))
    drv.node.NodePublishVolume(
        csi_pb2.NodePublishVolumeRequest(
            volume_id=vid,
            staging_target_path=staging,
            target_path=target_path,
            volume_capability=cap(fs=fs),
        )
    )
    if target.host is not None:
        assert set(target.host.mounts()) == {staging, target_path}
        (Path(target_path) / "data").write_text("pod data")
    else:
        assert drv.fake_mounter.mounts[target_path] == staging
    grown = drv.controller.ControllerExpandVolume(
        csi_pb2.ControllerExpandVolumeRequest(
            volume_id=vid, capacity_range=csi_pb2.CapacityRange(required_bytes=3 * GIB)
        )
    )
    assert grown.node_expansion_required
    before = os.statvfs(target_path).f_blocks if real else 0
    if loop is not None:
        loop.grow(480 * MIB)  # the disk grows as Cinder extends it
    drv.node.NodeExpandVolume(
        csi_pb2.NodeExpandVolumeRequest(
            volume_id=vid,
            volume_path=target_path,
            capacity_range=csi_pb2.CapacityRange(required_bytes=3 * GIB),
        )
    )
    if real:
        assert os.statvfs(target_path).f_blocks > before
    else:
        assert drv.fake_mounter.calls[-1][0] == "resize_fs"
    snap = drv.controller.CreateSnapshot(
        csi_pb2.CreateSnapshotRequest(
            name=unique("snap"), source_volume_id=vid, parameters={"force-create": "true"}
        )
    ).snapshot
    cleanup.append(("snapshot", snap.snapshot_id))
    drv.node.NodeUnpublishVolume(
        csi_pb2.NodeUnpublishVolumeRequest(volume_id=vid, target_path=target_path)
    )
    drv.node.NodeUnstageVolume(
        csi_pb2.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=staging)
    )
    if target.host is not None:
        assert target.host.mounts() == []
    else:
        assert drv.fake_mounter.mounts == {}
    drv.controller.ControllerUnpublishVolume(
        csi_pb2.ControllerUnpublishVolumeRequest(volume_id=vid, node_id=drv.node_id)
    )
    drv.controller.DeleteSnapshot(csi_pb2.DeleteSnapshotRequest(snapshot_id=snap.snapshot_id))
    drv.controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=vid))
    listed = drv.controller.ListVolumes(csi_pb2.ListVolumesRequest())
    assert vid not in {e.volume.volume_id for e in listed.entries}
