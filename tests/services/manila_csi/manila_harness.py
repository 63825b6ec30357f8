"""Run the Manila CSI driver over a real gRPC unix socket against the test cloud's Manila.

``start`` binds ``build_driver`` to ``<tmp>/csi.sock`` with a partner node plugin stand-in
(``osk8s_testing.csi.partner``) on ``<tmp>/partner.sock`` it really connects to, instance
metadata from a config drive folder (the core's config-drive source, never 169.254.169.254),
and the credentials from the test cloud's clouds.yaml as CSI secrets (``os-*`` keys).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import structlog
from prometheus_client import CollectorRegistry

from osk8s_core import __version__
from osk8s_core.credentials import ClientSettings, ConnectionCache
from osk8s_core.grpc.endpoint import parse_endpoint
from osk8s_core.metadata import build_provider
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.proto.csi import csi_pb2_grpc
from osk8s_core.retry import WaitPolicy
from osk8s_manila_csi.affinity import PvcReader
from osk8s_manila_csi.app import NodeParts, build_driver
from osk8s_manila_csi.controller import ControllerOptions
from osk8s_manila_csi.manila import Manila, ManilaClients
from osk8s_manila_csi.node import NodeOptions
from osk8s_manila_csi.partner import PartnerTimings, connect_partner
from osk8s_testing.csi.partner import NodeRpc, PartnerPlugin, serve_partner

INSTANCE_ID = "6f9a3e9c-0000-4000-8000-00000000d001"
ZONE = "nova"
FAST = WaitPolicy(timeout=60, interval=0.2, factor=1.2, max_interval=1.0)


def write_config_drive(folder: Path, *, uuid: str = INSTANCE_ID, zone: str = ZONE) -> Path:
    document = folder / "openstack" / "latest" / "meta_data.json"
    document.parent.mkdir(parents=True, exist_ok=True)
    document.write_text(json.dumps({"uuid": uuid, "availability_zone": zone, "name": "node-1"}))
    return folder


@dataclass
class Driver:
    identity: csi_pb2_grpc.IdentityStub
    controller: csi_pb2_grpc.ControllerStub
    node: csi_pb2_grpc.NodeStub
    partner: PartnerPlugin
    secrets: dict[str, str]
    registry: CollectorRegistry
    cache: ConnectionCache
    clients: ManilaClients
    work: Path

    def view(self) -> Manila:
        """Manila as the driver sees it with the test's secrets (to check what exists)."""
        return self.clients.for_secrets(self.secrets)


@contextmanager
def start(
    secrets: Mapping[str, str],
    *,
    protocol: str = "NFS",
    partner_caps: tuple[int, ...] = (NodeRpc.STAGE_UNSTAGE_VOLUME, NodeRpc.GET_VOLUME_STATS),
    partner_name: str = "nfs.csi.k8s.io",
    with_topology: bool = True,
    runtime_config: dict[str, Any] | None = None,
    list_secrets: bool = True,
    client_timeout: float = 30.0,
    pvc_reader: PvcReader | None = None,
) -> Iterator[Driver]:
    root = Path(tempfile.mkdtemp(prefix="manila-", dir="/tmp"))
    log = structlog.get_logger("test.manila")
    registry = CollectorRegistry()
    cache = ConnectionCache(
        settings=ClientSettings(
            component="manila-csi-plugin", version=__version__, timeout=client_timeout
        )
    )
    waiter = Waiter(policy=FAST)
    clients = ManilaClients(
        connect=cache.get, metrics=ApiMetrics(registry), logger=log, waiter=waiter
    )
    runtime_file = ""
    if runtime_config is not None:
        runtime_file = str(root / "runtime.json")
        Path(runtime_file).write_text(json.dumps(runtime_config))
    with ExitStack() as stack:
        partner = stack.enter_context(
            serve_partner(
                root / "partner.sock", name=partner_name, caps=partner_caps, not_ready_probes=1
            )
        )
        connected = connect_partner(
            partner.endpoint, timings=PartnerTimings(probe_interval=0.05), logger=log
        )
        stack.callback(connected.close)
        drive = write_config_drive(root / "config-drive")
        metadata = build_provider(("configDrive",), config_drive_dir=drive, logger=log)
        server = build_driver(
            parse_endpoint(f"unix://{root}/csi.sock"),
            driver_name=f"{protocol.lower()}.manila.csi.openstack.org",
            protocol=protocol,
            clients=clients,
            controller=ControllerOptions(
                protocol=protocol,
                cluster_id="osk8s-test",
                with_topology=with_topology,
                default_secrets=dict(secrets) if list_secrets else None,
            ),
            node=NodeParts(
                partner=connected,
                metadata=metadata,
                options=NodeOptions(with_topology=with_topology, runtime_config_file=runtime_file),
            ),
            with_topology=with_topology,
            waiter=waiter,
            logger=log,
            registry=registry,
            pvc_reader=pvc_reader,
        )
        server.start()
        stack.callback(server.stop, 0)
        channel = grpc.insecure_channel(server.address)
        stack.callback(channel.close)
        stack.callback(cache.close)
        stack.callback(shutil.rmtree, root, True)
        yield Driver(
            identity=csi_pb2_grpc.IdentityStub(channel),  # type: ignore[no-untyped-call]
            controller=csi_pb2_grpc.ControllerStub(channel),  # type: ignore[no-untyped-call]
            node=csi_pb2_grpc.NodeStub(channel),  # type: ignore[no-untyped-call]
            partner=partner,
            secrets=dict(secrets),
            registry=registry,
            cache=cache,
            clients=clients,
            work=root,
        )
