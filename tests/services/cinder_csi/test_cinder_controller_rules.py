"""CPO-specific controller rules on the in-memory cloud: metadata, AZ/topology, backups,
multi-cloud pagination, in-flight locks, microversion-gated online expansion."""

from __future__ import annotations

import threading
from dataclasses import replace

import grpc

from osk8s_cinder_csi.cloud import Clouds, NewVolume
from osk8s_cinder_csi.controller import ControllerService
from osk8s_cinder_csi.options import ControllerOptions
from osk8s_core.proto.csi import csi_pb2
from osk8s_testing.csi.fakes import RecordingPvcs
from osk8s_testing.csi.requests import GIB, cap, code_of, create_req

from .cinder_harness import NODE_ID, start
from .fake_cinder_cloud import FakeCinderCloud

ZONE_KEY = "topology.cinder.csi.openstack.org/zone"


def topo(zone: str) -> csi_pb2.Topology:
    return csi_pb2.Topology(segments={ZONE_KEY: zone})


def test_metadata_type_and_zone_from_topology() -> None:
    cloud = FakeCinderCloud()
    with start({"": cloud}, with_node=False) as drv:
        request = create_req(
            "pvc-1",
            parameters={
                "type": "fast",
                "csi.storage.k8s.io/pvc/name": "data",
                "csi.storage.k8s.io/pvc/namespace": "ns",
                "csi.storage.k8s.io/pv/name": "pvc-1",
            },
            accessibility_requirements=csi_pb2.TopologyRequirement(
                requisite=[topo("az-2")], preferred=[topo("az-1")]
            ),
        )
        volume = drv.controller.CreateVolume(request).volume
    spec = cloud.created[0]
    assert spec.volume_type == "fast" and spec.availability_zone == "az-1"
    assert spec.description == "Created by OpenStack Cinder CSI driver"
    assert dict(spec.metadata) == {
        "cinder.csi.openstack.org/cluster": "k8s",
        "csi.storage.k8s.io/pvc/name": "data",
        "csi.storage.k8s.io/pvc/namespace": "ns",
        "csi.storage.k8s.io/pv/name": "pvc-1",
    }
    assert [dict(t.segments) for t in volume.accessible_topology] == [{ZONE_KEY: "az-1"}]


def test_availability_parameter_beats_topology_and_ignore_volume_az() -> None:
    cloud = FakeCinderCloud()
    options = ControllerOptions(ignore_volume_az=True)
    with start({"": cloud}, controller_options=options, with_node=False) as drv:
        request = create_req(
            "pvc-1",
            parameters={"availability": "cinder-az"},
            accessibility_requirements=csi_pb2.TopologyRequirement(preferred=[topo("nova-az")]),
        )
        volume = drv.controller.CreateVolume(request).volume
    assert cloud.created[0].availability_zone == "cinder-az"
    # ignore-volume-az: the PV gets the requested topology, not Cinder's AZ.
    assert [dict(t.segments) for t in volume.accessible_topology] == [{ZONE_KEY: "nova-az"}]


def test_backup_class_and_restore_from_backup() -> None:
    cloud = FakeCinderCloud()
    with start({"": cloud}, with_node=False) as drv:
        ctrl = drv.controller
        volume = ctrl.CreateVolume(create_req("pvc-1")).volume
        request = csi_pb2.CreateSnapshotRequest(
            name="snap-1", source_volume_id=volume.volume_id, parameters={"type": "backup"}
        )
        snap = ctrl.CreateSnapshot(request).snapshot
        assert snap.snapshot_id in cloud.backups and snap.ready_to_use
        assert cloud.snapshots == {}  # the intermediate snapshot is gone
        assert ctrl.CreateSnapshot(request).snapshot.snapshot_id == snap.snapshot_id
        restore = create_req("pvc-2")
        restore.volume_content_source.snapshot.snapshot_id = snap.snapshot_id
        restored = ctrl.CreateVolume(restore).volume
        assert cloud.created[-1].backup_id == snap.snapshot_id
        assert restored.content_source.snapshot.snapshot_id == snap.snapshot_id
        ctrl.DeleteSnapshot(csi_pb2.DeleteSnapshotRequest(snapshot_id=snap.snapshot_id))
        assert cloud.backups == {}


def test_snapshot_source_not_available_is_unavailable() -> None:
    cloud = FakeCinderCloud()
    with start({"": cloud}, with_node=False) as drv:
        volume = drv.controller.CreateVolume(create_req("pvc-1")).volume
        snap = drv.controller.CreateSnapshot(
            csi_pb2.CreateSnapshotRequest(name="s", source_volume_id=volume.volume_id)
        ).snapshot
        cloud.snapshots[snap.snapshot_id] = replace(
            cloud.snapshots[snap.snapshot_id], status="creating"
        )
        restore = create_req("pvc-2")
        restore.volume_content_source.snapshot.snapshot_id = snap.snapshot_id
        assert code_of(drv.controller.CreateVolume, restore) == grpc.StatusCode.UNAVAILABLE


def test_list_volumes_across_clouds() -> None:
    east, west = FakeCinderCloud(), FakeCinderCloud()
    with start({"east": east, "west": west}, with_node=False) as drv:
        ctrl = drv.controller
        made = set()
        for cloud_name, count in (("east", 3), ("west", 2)):
            for i in range(count):
                req = create_req(f"{cloud_name}-{i}", secrets={"cloud": cloud_name})
                made.add(ctrl.CreateVolume(req).volume.volume_id)
        seen, tokens, token = [], [], ""
        while True:
            page = ctrl.ListVolumes(csi_pb2.ListVolumesRequest(max_entries=2, starting_token=token))
            seen += [e.volume.volume_id for e in page.entries]
            token = page.next_token
            tokens.append(token)
            if not token:
                break
        assert sorted(seen) == sorted(made)
        assert tokens[0].endswith(":east") and any(t.endswith(":west") for t in tokens)
        everything = ctrl.ListVolumes(csi_pb2.ListVolumesRequest())
        assert len(everything.entries) == 5 and not everything.next_token
        bad = csi_pb2.ListVolumesRequest(starting_token="x:nowhere")
        assert code_of(ctrl.ListVolumes, bad) == grpc.StatusCode.ABORTED
        # ControllerGetVolume has no secrets: it searches every cloud.
        west_id = next(iter(west.volumes))
        got = ctrl.ControllerGetVolume(csi_pb2.ControllerGetVolumeRequest(volume_id=west_id))
        assert got.volume.volume_id == west_id


def test_online_expand_needs_microversion() -> None:
    cloud = FakeCinderCloud(servers={NODE_ID})
    options = ControllerOptions(ignore_volume_microversion=True)
    with start({"": cloud}, controller_options=options, with_node=False) as drv:
        volume = drv.controller.CreateVolume(create_req("pvc-1")).volume
        cloud.attach(NODE_ID, volume.volume_id)
        grow = csi_pb2.ControllerExpandVolumeRequest(
            volume_id=volume.volume_id,
            capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB),
        )
        assert code_of(drv.controller.ControllerExpandVolume, grow) == (
            grpc.StatusCode.FAILED_PRECONDITION
        )


def test_publish_to_second_node_of_non_multiattach_volume() -> None:
    cloud = FakeCinderCloud(servers={NODE_ID, "other"})
    with start({"": cloud}, with_node=False) as drv:
        volume = drv.controller.CreateVolume(create_req("pvc-1")).volume
        cloud.attach("other", volume.volume_id)
        publish = csi_pb2.ControllerPublishVolumeRequest(
            volume_id=volume.volume_id, node_id=NODE_ID, volume_capability=cap()
        )
        assert code_of(drv.controller.ControllerPublishVolume, publish) == (
            grpc.StatusCode.FAILED_PRECONDITION
        )


class GatedCloud(FakeCinderCloud):
    """Blocks ``get_volume`` until released, to hold an RPC in flight."""

    def __init__(self) -> None:
        super().__init__(servers={NODE_ID})
        self.entered = threading.Event()
        self.release = threading.Event()
        self.gate = False

    def get_volume(self, volume_id: str):  # type: ignore[no-untyped-def]
        if self.gate:
            self.entered.set()
            assert self.release.wait(10)
        return super().get_volume(volume_id)


def test_concurrent_call_on_same_volume_is_aborted() -> None:
    cloud = GatedCloud()
    with start({"": cloud}, with_node=False) as drv:
        volume = drv.controller.CreateVolume(create_req("pvc-1")).volume
        cloud.gate = True
        delete = csi_pb2.DeleteVolumeRequest(volume_id=volume.volume_id)
        first = drv.controller.DeleteVolume.future(delete)
        assert cloud.entered.wait(10)
        assert code_of(drv.controller.DeleteVolume, delete) == grpc.StatusCode.ABORTED
        cloud.release.set()
        first.result(timeout=10)
        assert volume.volume_id not in cloud.volumes


def test_unpublish_from_deleted_instance_succeeds_without_detach() -> None:
    cloud = FakeCinderCloud(servers={NODE_ID})
    with start({"": cloud}, with_node=False) as drv:
        volume = drv.controller.CreateVolume(create_req("pvc-1")).volume
        cloud.attach(NODE_ID, volume.volume_id)
        cloud.servers.clear()  # the instance was deleted
        drv.controller.ControllerUnpublishVolume(
            csi_pb2.ControllerUnpublishVolumeRequest(volume_id=volume.volume_id, node_id=NODE_ID)
        )
        assert cloud.detach_calls == 0


def test_unpublish_without_node_detaches_everywhere() -> None:
    cloud = FakeCinderCloud(servers={NODE_ID, "other"})
    with start({"": cloud}, with_node=False) as drv:
        volume = drv.controller.CreateVolume(create_req("pvc-1")).volume
        cloud.attach(NODE_ID, volume.volume_id)
        cloud.attach("other", volume.volume_id)
        drv.controller.ControllerUnpublishVolume(
            csi_pb2.ControllerUnpublishVolumeRequest(volume_id=volume.volume_id)
        )
        assert cloud.volumes[volume.volume_id].attached_servers == ()
        assert cloud.volumes[volume.volume_id].status == "available"


def test_pvc_annotations_become_scheduler_hints() -> None:
    cloud = FakeCinderCloud()
    neighbour = cloud.create_volume(NewVolume(name="db-0", size_gb=1))
    far = "6a7d1f1e-2b3c-4d5e-8f90-123456789abc"
    pvcs = RecordingPvcs(
        {
            "cinder.csi.openstack.org/affinity": "db-0",
            "cinder.csi.openstack.org/anti-affinity": far,
        }
    )
    service = ControllerService(
        clouds=Clouds({"": cloud}),
        options=ControllerOptions(pvc_annotations=True),
        pvc_reader=pvcs,
    )
    request = create_req(
        "pvc-1",
        parameters={
            "csi.storage.k8s.io/pvc/name": "data",
            "csi.storage.k8s.io/pvc/namespace": "ns",
        },
    )
    volume = service.CreateVolume(request, None).volume
    assert pvcs.reads == [("ns", "data")]
    assert dict(cloud.created[-1].scheduler_hints) == {
        "same_host": [neighbour.id],
        "different_host": [far],
    }
    assert volume.volume_context["cinder.csi.openstack.org/affinity"] == "db-0"


def test_repeated_create_waits_for_a_volume_still_creating() -> None:
    """A create that ran out of time left the volume `creating`; the CO's retry must not get
    it back as ready (CPO returns it as is), but wait for it; an `error` volume fails."""
    cloud = FakeCinderCloud()
    with start({"": cloud}) as drv:
        ctrl = drv.controller
        first = ctrl.CreateVolume(create_req("pvc-slow")).volume
        vid = first.volume_id
        cloud.volumes[vid] = replace(cloud.volumes[vid], status="creating")
        again = ctrl.CreateVolume(create_req("pvc-slow")).volume
        assert again.volume_id == vid and cloud.waits == [vid]
        assert cloud.volumes[vid].status == "available"
        ctrl.CreateVolume(create_req("pvc-slow"))  # available now: no wait
        assert cloud.waits == [vid]
        cloud.volumes[vid] = replace(cloud.volumes[vid], status="error")
        assert code_of(ctrl.CreateVolume, create_req("pvc-slow")) == grpc.StatusCode.INTERNAL
