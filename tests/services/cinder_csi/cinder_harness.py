"""Run the cinder CSI driver over a real gRPC unix socket with chosen clouds and a fake host.

``start`` binds ``build_driver`` to a short tmp socket and returns stubs for the three CSI
services. The node side always uses ``FakeMounter`` and a fake ``/dev`` under a tmp dir where
an attach makes ``disk/by-id/virtio-<id[:20]>`` appear (what a hypervisor would do).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import structlog
from prometheus_client import CollectorRegistry

from osk8s_cinder_csi.app import ControllerParts, build_driver
from osk8s_cinder_csi.cloud import CinderCloud, Clouds
from osk8s_cinder_csi.devices import DeviceFinder
from osk8s_cinder_csi.fakes import CountingRescanner, FakeMounter
from osk8s_cinder_csi.node import NodeService
from osk8s_cinder_csi.options import ControllerOptions, NodeOptions
from osk8s_core.grpc.endpoint import parse_endpoint
from osk8s_core.metadata import Device
from osk8s_core.proto.csi import csi_pb2_grpc

NODE_ID = "node-instance-0001"
ZONE = "nova"


@dataclass
class FakeMetadata:
    uuid: str = NODE_ID
    zone: str = ZONE
    devices: tuple[Device, ...] = ()

    def instance_id(self) -> str:
        return self.uuid

    def availability_zone(self) -> str:
        return self.zone


@dataclass
class Driver:
    identity: csi_pb2_grpc.IdentityStub
    controller: csi_pb2_grpc.ControllerStub
    node: csi_pb2_grpc.NodeStub
    mounter: FakeMounter
    dev_root: Path
    work: Path
    node_id: str
    rescanner: CountingRescanner
    registry: CollectorRegistry
    secrets: dict[str, str] = field(default_factory=dict)

    def plug(self, volume_id: str) -> Path:
        """Make the volume's disk appear on the fake node (as after a real attach)."""
        by_id = self.dev_root / "disk" / "by-id"
        by_id.mkdir(parents=True, exist_ok=True)
        device = by_id / f"virtio-{volume_id[:20]}"
        device.touch()
        return device


@contextmanager
def start(
    clouds: dict[str, CinderCloud] | None,
    *,
    controller_options: ControllerOptions | None = None,
    node_options: NodeOptions | None = None,
    with_node: bool = True,
    metadata: FakeMetadata | None = None,
) -> Iterator[Driver]:
    base = Path(tempfile.mkdtemp(prefix="cinder-", dir="/tmp"))
    mounter = FakeMounter()
    rescanner = CountingRescanner()
    meta = metadata or FakeMetadata()
    registry = CollectorRegistry()
    node = None
    if with_node:
        finder = DeviceFinder(
            rescanner=rescanner,
            metadata_devices=lambda: meta.devices,
            dev_root=str(base / "dev"),
            attempts=2,
            interval=0.0,
        )
        node = NodeService(
            mounter=mounter,
            finder=finder,
            metadata=meta,
            options=node_options or NodeOptions(),
        )
    controller = None
    if clouds is not None:
        controller = ControllerParts(
            clouds=Clouds(clouds), options=controller_options or ControllerOptions(cluster="k8s")
        )
    server = build_driver(
        parse_endpoint(f"unix://{base}/csi.sock"),
        controller=controller,
        node=node,
        with_topology=True,
        logger=structlog.get_logger("test"),
        registry=registry,
    )
    server.start()
    channel = grpc.insecure_channel(server.address)
    try:
        yield Driver(
            identity=csi_pb2_grpc.IdentityStub(channel),  # type: ignore[no-untyped-call]
            controller=csi_pb2_grpc.ControllerStub(channel),  # type: ignore[no-untyped-call]
            node=csi_pb2_grpc.NodeStub(channel),  # type: ignore[no-untyped-call]
            mounter=mounter,
            dev_root=base / "dev",
            work=base / "work",
            node_id=meta.uuid,
            rescanner=rescanner,
            registry=registry,
        )
    finally:
        channel.close()
        server.stop(0)
        shutil.rmtree(base, ignore_errors=True)
