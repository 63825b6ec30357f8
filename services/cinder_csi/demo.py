"""Demo: one volume's life through the driver against the local test cloud (a script).

create -> attach (ControllerPublish, needs Nova) -> stage -> publish -> expand -> snapshot ->
unpublish/unstage -> detach (ControllerUnpublish) -> delete, over the driver's real gRPC
socket. Without ``--server`` the demo boots a small server itself when the catalog has compute
(and deletes it at the end, whatever happens). The node side uses the test tooling's fake
mounter and a fake ``/dev`` (no root needed; the real host path is exercised by the tests on
loop devices); without Nova the attach/stage/publish steps are skipped and said so.

    .venv/bin/python services/cinder_csi/demo.py [--server <nova server id>]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import structlog
from prometheus_client import CollectorRegistry

from osk8s_cinder_csi.app import ControllerParts, build_driver
from osk8s_cinder_csi.cloud import Clouds
from osk8s_cinder_csi.devices import DeviceFinder
from osk8s_cinder_csi.node import NodeService
from osk8s_cinder_csi.openstack_cloud import OpenStackCinderCloud
from osk8s_cinder_csi.options import ControllerOptions, NodeOptions
from osk8s_core import __version__
from osk8s_core.config import load_cloud_config
from osk8s_core.credentials import ClientSettings, ConnectionFactory
from osk8s_core.grpc.endpoint import parse_endpoint
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.openstack.servers import Servers
from osk8s_core.proto.csi import csi_pb2, csi_pb2_grpc
from osk8s_testing.cinder_host import CountingRescanner, FakeMounter

REPO = Path(__file__).resolve().parents[2]
GIB = 1 << 30


class Meta:
    def __init__(self, server: str) -> None:
        self.server = server

    def instance_id(self) -> str:
        return self.server

    def availability_zone(self) -> str:
        return "nova"


def step(text: str) -> None:
    print(f"--> {text}")


@contextmanager
def demo_server(factory: ConnectionFactory, cloud_config: str, given: str) -> Iterator[str]:
    """The server to attach to: ``given``; else one booted here when the catalog has compute
    (smallest flavor, first active image, the [LoadBalancer] network), deleted on the way out
    whatever happened; else "" (no Nova)."""
    if given:
        yield given
        return
    conn = factory.get()
    if "compute" not in {entry["type"] for entry in conn.service_catalog}:
        yield ""
        return
    network_id = load_cloud_config([Path(cloud_config)]).config.load_balancer.network_id
    flavor = min(conn.compute.flavors(), key=lambda f: (f.ram, f.vcpus, f.disk))
    image = next(i for i in conn.image.images() if i.status == "active")
    step(f"boot server (flavor {flavor.name}, image {image.name})")
    server = conn.compute.create_server(
        name=f"osk8s-demo-node-{uuid.uuid4().hex[:8]}",
        flavor_id=flavor.id,
        image_id=image.id,
        networks=[{"uuid": network_id}],
    )
    try:
        client = OpenStackClient(
            conn, metrics=ApiMetrics(CollectorRegistry()), logger=structlog.get_logger("demo")
        )
        Servers(client).wait_active(server.id)
        print(f"    server {server.id} ACTIVE")
        yield str(server.id)
    finally:
        step(f"delete server {server.id}")
        conn.compute.delete_server(server.id, ignore_missing=True)
        conn.compute.wait_for_delete(server, wait=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud-config", default=str(REPO / ".testcloud" / "cloud.conf"))
    parser.add_argument("--server", default="", help="Nova server to attach to (needs Nova)")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    settings = ClientSettings(component="cinder-csi-plugin", version=__version__)
    factory = ConnectionFactory([args.cloud_config], settings=settings)
    try:
        with demo_server(factory, args.cloud_config, args.server) as server_id:
            return run(factory, server_id)
    finally:
        factory.close()


def run(factory: ConnectionFactory, server_id: str) -> int:
    base = Path(tempfile.mkdtemp(prefix="cinder-demo-", dir="/tmp"))
    log = structlog.get_logger("demo")
    cloud = OpenStackCinderCloud(
        connect=factory.get, metrics=ApiMetrics(CollectorRegistry()), logger=log
    )
    mounter = FakeMounter()
    finder = DeviceFinder(
        rescanner=CountingRescanner(),
        metadata_devices=lambda: (),
        dev_root=str(base / "dev"),
        attempts=1,
    )
    node = NodeService(
        mounter=mounter, finder=finder, metadata=Meta(server_id), options=NodeOptions()
    )
    server = build_driver(
        parse_endpoint(f"unix://{base}/csi.sock"),
        controller=ControllerParts(Clouds({"": cloud}), ControllerOptions(cluster="demo")),
        node=node,
        with_topology=True,
        logger=log,
        registry=CollectorRegistry(),
    )
    server.start()
    channel = grpc.insecure_channel(server.address)
    ctrl = csi_pb2_grpc.ControllerStub(channel)  # type: ignore[no-untyped-call]
    nodes = csi_pb2_grpc.NodeStub(channel)  # type: ignore[no-untyped-call]
    try:
        scenario(ctrl, nodes, mounter, base, server_id)
        step("done")
        return 0
    except grpc.RpcError as exc:
        print(f"failed: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    finally:
        channel.close()
        server.stop(0)
        shutil.rmtree(base, ignore_errors=True)


def scenario(
    ctrl: csi_pb2_grpc.ControllerStub,
    nodes: csi_pb2_grpc.NodeStub,
    mounter: FakeMounter,
    base: Path,
    server_id: str,
) -> None:
    mode = csi_pb2.VolumeCapability.AccessMode(
        mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER
    )
    cap = csi_pb2.VolumeCapability(
        mount=csi_pb2.VolumeCapability.MountVolume(fs_type="ext4"), access_mode=mode
    )
    step("CreateVolume 1 GiB")
    volume = ctrl.CreateVolume(
        csi_pb2.CreateVolumeRequest(
            name=f"osk8s-demo-{uuid.uuid4().hex[:8]}",
            capacity_range=csi_pb2.CapacityRange(required_bytes=GIB),
            volume_capabilities=[cap],
        )
    ).volume
    vid = volume.volume_id
    print(f"    volume {vid}, {volume.capacity_bytes // GIB} GiB")
    staging, target = str(base / "staging"), str(base / "pod" / "mount")
    if server_id:
        step(f"ControllerPublishVolume to {server_id}")
        published = ctrl.ControllerPublishVolume(
            csi_pb2.ControllerPublishVolumeRequest(
                volume_id=vid, node_id=server_id, volume_capability=cap
            )
        )
        print(f"    DevicePath {published.publish_context['DevicePath']}")
        # The fake /dev stands in for what the hypervisor shows the guest.
        (base / "dev" / "disk" / "by-id").mkdir(parents=True, exist_ok=True)
        (base / "dev" / "disk" / "by-id" / f"virtio-{vid[:20]}").touch()
        step("NodeStageVolume + NodePublishVolume (fake mounter)")
        nodes.NodeStageVolume(
            csi_pb2.NodeStageVolumeRequest(
                volume_id=vid, staging_target_path=staging, volume_capability=cap
            )
        )
        nodes.NodePublishVolume(
            csi_pb2.NodePublishVolumeRequest(
                volume_id=vid,
                staging_target_path=staging,
                target_path=target,
                volume_capability=cap,
            )
        )
        for call in mounter.calls:
            print(f"    host: {call}")
    else:
        step("attach/stage/publish skipped: the cloud has no compute (Nova)")
    step("ControllerExpandVolume to 2 GiB")
    grown = ctrl.ControllerExpandVolume(
        csi_pb2.ControllerExpandVolumeRequest(
            volume_id=vid, capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB)
        )
    )
    print(f"    {grown.capacity_bytes // GIB} GiB, node expansion {grown.node_expansion_required}")
    step("CreateSnapshot")
    snap = ctrl.CreateSnapshot(
        csi_pb2.CreateSnapshotRequest(
            name=f"osk8s-demo-snap-{uuid.uuid4().hex[:8]}",
            source_volume_id=vid,
            parameters={"force-create": "true"},
        )
    ).snapshot
    print(f"    snapshot {snap.snapshot_id} ready={snap.ready_to_use}")
    if server_id:
        step("NodeUnpublish + NodeUnstage + ControllerUnpublish")
        nodes.NodeUnpublishVolume(
            csi_pb2.NodeUnpublishVolumeRequest(volume_id=vid, target_path=target)
        )
        nodes.NodeUnstageVolume(
            csi_pb2.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=staging)
        )
        ctrl.ControllerUnpublishVolume(
            csi_pb2.ControllerUnpublishVolumeRequest(volume_id=vid, node_id=server_id)
        )
    step("DeleteSnapshot + DeleteVolume")
    # DeleteSnapshot returns once Cinder has removed it, so the source goes at once.
    ctrl.DeleteSnapshot(csi_pb2.DeleteSnapshotRequest(snapshot_id=snap.snapshot_id))
    ctrl.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=vid))


if __name__ == "__main__":
    raise SystemExit(main())
