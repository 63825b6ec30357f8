"""Sequences a CO performs right after a delete, against the real Cinder of the test cloud.

(a) DeleteVolume, then ListVolumes / ControllerGetVolume: once DeleteVolume has succeeded the
volume is not listed (Cinder keeps it ``deleting`` for a while: the driver waits it out).
(b) DeleteSnapshot, then at once DeleteVolume of its source: succeeds (Cinder refuses with 400
"must not have snapshots" while the snapshot is still ``deleting``: the driver waits it out).
A volume that really has a snapshot is FAILED_PRECONDITION (CSI "volume in use"). Plus CPO's
metric label for an extend (``volume_expand``), and CreateVolume's error codes for a bad
StorageClass parameter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import grpc
import pytest
from prometheus_client import CollectorRegistry

from osk8s_core.proto.csi import csi_pb2
from osk8s_testing.csi.checks import unique
from osk8s_testing.csi.requests import GIB, code_of, create_req

from .cinder_harness import Driver, start
from .conftest import connection_factory_for, real_cloud

pytestmark = pytest.mark.contract


@pytest.fixture
def cloud_driver() -> Iterator[tuple[Driver, CollectorRegistry]]:
    factory = connection_factory_for()
    registry = CollectorRegistry()
    try:
        with start({"": real_cloud(factory, registry)}) as driver:
            yield driver, registry
    finally:
        factory.close()


def listed(drv: Driver) -> set[str]:
    ids: set[str] = set()
    token = ""
    for _ in range(100):
        page = drv.controller.ListVolumes(
            csi_pb2.ListVolumesRequest(max_entries=50, starting_token=token)
        )
        ids.update(e.volume.volume_id for e in page.entries)
        token = page.next_token
        if not token:
            return ids
    raise AssertionError("ListVolumes did not end")


def test_deleted_volume_is_not_listed(cloud_driver: tuple[Driver, CollectorRegistry]) -> None:
    drv, _ = cloud_driver
    ctrl = drv.controller
    vid = ctrl.CreateVolume(create_req(unique("del"))).volume.volume_id
    assert vid in listed(drv)
    ctrl.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=vid))
    assert vid not in listed(drv)
    get = csi_pb2.ControllerGetVolumeRequest(volume_id=vid)
    assert code_of(ctrl.ControllerGetVolume, get) == grpc.StatusCode.NOT_FOUND
    ctrl.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=vid))  # repeat: success


def test_delete_snapshot_then_its_source_volume(
    cloud_driver: tuple[Driver, CollectorRegistry],
) -> None:
    drv, _ = cloud_driver
    ctrl = drv.controller
    vid = ctrl.CreateVolume(create_req(unique("del"))).volume.volume_id
    try:
        snap = ctrl.CreateSnapshot(
            csi_pb2.CreateSnapshotRequest(name=unique("del"), source_volume_id=vid)
        ).snapshot
        delete_volume = csi_pb2.DeleteVolumeRequest(volume_id=vid)
        # While the snapshot exists the volume is "in use" (CSI), not an invalid argument.
        assert code_of(ctrl.DeleteVolume, delete_volume) == grpc.StatusCode.FAILED_PRECONDITION
        ctrl.DeleteSnapshot(csi_pb2.DeleteSnapshotRequest(snapshot_id=snap.snapshot_id))
        by_id = csi_pb2.ListSnapshotsRequest(snapshot_id=snap.snapshot_id)
        assert list(ctrl.ListSnapshots(by_id).entries) == []
        ctrl.DeleteVolume(delete_volume)  # at once: no 400 "must not have snapshots"
        assert vid not in listed(drv)
    finally:
        with contextlib.suppress(grpc.RpcError):
            ctrl.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=vid))


def test_expand_is_counted_as_volume_expand(
    cloud_driver: tuple[Driver, CollectorRegistry],
) -> None:
    drv, registry = cloud_driver
    ctrl = drv.controller
    vid = ctrl.CreateVolume(create_req(unique("del"))).volume.volume_id
    try:
        ctrl.ControllerExpandVolume(
            csi_pb2.ControllerExpandVolumeRequest(
                volume_id=vid, capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB)
            )
        )
        count = registry.get_sample_value(
            "openstack_api_requests_total", {"request": "volume_expand"}
        )
        assert count == 1.0
        assert (
            registry.get_sample_value("openstack_api_requests_total", {"request": "volume_extend"})
            is None
        )
    finally:
        ctrl.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=vid))


@pytest.mark.parametrize(
    "parameters", [{"type": "osk8s-no-such-type"}, {"availability": "osk8s-no-such-az"}]
)
def test_bad_storage_class_parameter_is_invalid_argument(
    cloud_driver: tuple[Driver, CollectorRegistry], parameters: dict[str, str]
) -> None:
    # Cinder answers 404 (unknown type) or 400 (unknown zone); neither is a missing source.
    drv, _ = cloud_driver
    request = create_req(unique("del"), parameters=parameters)
    assert code_of(drv.controller.CreateVolume, request) == grpc.StatusCode.INVALID_ARGUMENT
