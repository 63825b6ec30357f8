"""Run the cinder CSI driver over a real gRPC unix socket with chosen clouds and host.

``start`` binds ``build_driver`` to a short tmp socket and returns stubs for the three CSI
services, all on the one endpoint (as a CO sees a plugin serving controller and node). The
node side uses ``FakeMounter`` (test tooling) by default, or the real ``SystemMounter`` when
given one (root, loop devices: see ``loop_devices``). Devices are found under a by-id folder
the test controls (``<tmp>/dev/disk/by-id``): ``plug`` makes the volume's disk appear there,
as a hypervisor would after an attach (an empty file, or a symlink to a real loop device).
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
from osk8s_cinder_csi.mounter import SystemMounter
from osk8s_cinder_csi.node import NodeService
from osk8s_cinder_csi.options import ControllerOptions, NodeOptions
from osk8s_core.grpc.endpoint import parse_endpoint
from osk8s_core.metadata import Device
from osk8s_core.proto.csi import csi_pb2_grpc
from osk8s_testing.cinder_host import CountingRescanner, FakeMounter

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
    mounter: FakeMounter | SystemMounter
    dev_root: Path
    work: Path
    node_id: str
    rescanner: CountingRescanner
    registry: CollectorRegistry
    secrets: dict[str, str] = field(default_factory=dict)

    @property
    def fake_mounter(self) -> FakeMounter:
        """The recording fake (tests that check calls run only with it)."""
        assert isinstance(self.mounter, FakeMounter), "this test needs the fake mounter"
        return self.mounter

    @property
    def real_host(self) -> bool:
        return isinstance(self.mounter, SystemMounter)

    def plug(self, volume_id: str, device: str | None = None) -> Path:
        """Make the volume's disk appear on the node (as after a real attach): a symlink
        ``virtio-<id[:20]>`` to ``device`` (a real loop device), or an empty file."""
        by_id = self.dev_root / "disk" / "by-id"
        by_id.mkdir(parents=True, exist_ok=True)
        link = by_id / f"virtio-{volume_id[:20]}"
        if device is None:
            link.touch()
        else:
            link.unlink(missing_ok=True)
            link.symlink_to(device)
        return link


@contextmanager
def start(
    clouds: dict[str, CinderCloud] | None,
    *,
    controller_options: ControllerOptions | None = None,
    node_options: NodeOptions | None = None,
    with_node: bool = True,
    metadata: FakeMetadata | None = None,
    mounter: SystemMounter | None = None,
    base: Path | None = None,
) -> Iterator[Driver]:
    """The driver on ``<base>/csi.sock`` (``base``: a fresh tmp dir, removed afterwards)."""
    own_base = base is None
    root = base if base is not None else Path(tempfile.mkdtemp(prefix="cinder-", dir="/tmp"))
    host: FakeMounter | SystemMounter = mounter if mounter is not None else FakeMounter()
    rescanner = CountingRescanner()
    meta = metadata or FakeMetadata()
    registry = CollectorRegistry()
    node = None
    if with_node:
        finder = DeviceFinder(
            rescanner=rescanner,
            metadata_devices=lambda: meta.devices,
            dev_root=str(root / "dev"),
            attempts=2,
            interval=0.0,
        )
        node = NodeService(
            mounter=host,
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
        parse_endpoint(f"unix://{root}/csi.sock"),
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
            mounter=host,
            dev_root=root / "dev",
            work=root / "work",
            node_id=meta.uuid,
            rescanner=rescanner,
            registry=registry,
        )
    finally:
        channel.close()
        server.stop(0)
        if own_base:
            shutil.rmtree(root, ignore_errors=True)
