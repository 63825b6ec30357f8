"""Assemble the driver: servicers + interceptors on one gRPC server (no flag parsing here).

``build_driver`` takes already-built collaborators (clouds, node pieces) so tests and the
benchmark run the real server over a tmp unix socket with fakes, and ``cli.main`` runs it
with the real cloud and host. Only the services asked for are registered (CPO's split
``--provide-controller-service`` / ``--provide-node-service``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import grpc
from prometheus_client import CollectorRegistry

from osk8s_cinder_csi.affinity import PvcReader
from osk8s_cinder_csi.cloud import Clouds
from osk8s_cinder_csi.controller import ControllerService
from osk8s_cinder_csi.identity import IdentityService
from osk8s_cinder_csi.node import NodeService
from osk8s_cinder_csi.options import ControllerOptions
from osk8s_core.grpc.csi import CSI_STATUS, InFlight, csi_interceptors
from osk8s_core.grpc.endpoint import Endpoint
from osk8s_core.grpc.interceptors import Logger
from osk8s_core.grpc.server import GrpcServer, ServerOptions, ServiceRegistration, build_server
from osk8s_core.proto.csi import csi_pb2_grpc


@dataclass(frozen=True)
class ControllerParts:
    clouds: Clouds
    options: ControllerOptions
    pvc_reader: PvcReader | None = None


def build_driver(
    endpoint: Endpoint,
    *,
    controller: ControllerParts | None,
    node: NodeService | None,
    with_topology: bool,
    logger: Logger,
    registry: CollectorRegistry,
    log_payloads: bool = False,
    max_workers: int = 10,
) -> GrpcServer:
    """A bound (not started) server offering Identity plus the requested services."""
    identity = IdentityService(with_topology=with_topology)
    services = [ServiceRegistration("csi.v1.Identity", _adder("Identity", identity))]
    if controller is not None:
        ctrl = ControllerService(
            clouds=controller.clouds,
            options=controller.options,
            in_flight=InFlight(),
            pvc_reader=controller.pvc_reader,
        )
        services.append(ServiceRegistration("csi.v1.Controller", _adder("Controller", ctrl)))
    if node is not None:
        services.append(ServiceRegistration("csi.v1.Node", _adder("Node", node)))
    return build_server(
        ServerOptions(endpoint=endpoint, max_workers=max_workers),
        services=services,
        interceptors=csi_interceptors(
            logger=logger, registry=registry, mapper=CSI_STATUS, log_payloads=log_payloads
        ),
    )


def _adder(service: str, servicer: object) -> Callable[[grpc.Server], None]:
    # The generated module is untyped; look the add function up once, by name.
    add = getattr(csi_pb2_grpc, f"add_{service}Servicer_to_server")

    def register(server: grpc.Server) -> None:
        add(servicer, server)

    return register
