"""Assemble the driver: servicers + interceptors on one gRPC server (no flag parsing here).

``build_driver`` takes built collaborators (Manila clients, partner, metadata) so tests and
the benchmark run the real server on a tmp unix socket, and ``run`` wires production ones.
Only the services asked for are registered (``--provide-controller/node-service``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import grpc
from prometheus_client import CollectorRegistry

from osk8s_core.errors import Osk8sError
from osk8s_core.grpc.csi import CSI_STATUS, csi_interceptors
from osk8s_core.grpc.endpoint import Endpoint
from osk8s_core.grpc.interceptors import Logger
from osk8s_core.grpc.server import GrpcServer, ServerOptions, ServiceRegistration, build_server
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.proto.csi import csi_pb2_grpc
from osk8s_manila_csi.adapters import adapter_for
from osk8s_manila_csi.affinity import PvcReader
from osk8s_manila_csi.controller import ControllerOptions, ControllerService
from osk8s_manila_csi.identity import IdentityService
from osk8s_manila_csi.manila import ManilaClients
from osk8s_manila_csi.node import Metadata, NodeOptions, NodeService
from osk8s_manila_csi.partner import Partner, PartnerFailed


@dataclass(frozen=True)
class NodeParts:
    partner: Partner
    metadata: Metadata
    options: NodeOptions


def status_of(error: Osk8sError) -> grpc.StatusCode:
    """CSI's table, except that the partner's own code goes back unchanged."""
    if isinstance(error, PartnerFailed):
        return error.code
    return CSI_STATUS(error)


def build_driver(
    endpoint: Endpoint,
    *,
    driver_name: str,
    protocol: str,
    clients: ManilaClients,
    controller: ControllerOptions | None,
    node: NodeParts | None,
    with_topology: bool,
    waiter: Waiter,
    logger: Logger,
    registry: CollectorRegistry,
    pvc_reader: PvcReader | None = None,
    log_payloads: bool = False,
    max_workers: int = 10,
) -> GrpcServer:
    """A bound (not started) server offering Identity plus the requested services."""
    adapter = adapter_for(protocol)
    identity = IdentityService(name=driver_name, with_topology=with_topology)
    services = [ServiceRegistration("csi.v1.Identity", _adder("Identity", identity))]
    if controller is not None:
        ctrl = ControllerService(
            clients=clients,
            adapter=adapter,
            options=controller,
            waiter=waiter,
            pvc_reader=pvc_reader,
        )
        services.append(ServiceRegistration("csi.v1.Controller", _adder("Controller", ctrl)))
    if node is not None:
        servicer = NodeService(
            clients=clients,
            adapter=adapter,
            partner=node.partner,
            metadata=node.metadata,
            options=node.options,
        )
        services.append(ServiceRegistration("csi.v1.Node", _adder("Node", servicer)))
    return build_server(
        ServerOptions(endpoint=endpoint, max_workers=max_workers),
        services=services,
        interceptors=csi_interceptors(
            logger=logger, registry=registry, mapper=status_of, log_payloads=log_payloads
        ),
    )


def _adder(service: str, servicer: object) -> Callable[[grpc.Server], None]:
    add = getattr(csi_pb2_grpc, f"add_{service}Servicer_to_server")

    def register(server: grpc.Server) -> None:
        add(servicer, server)

    return register
