"""Production wiring: flags -> ``Settings`` -> Manila clients, partner, metadata -> server.

The only place that connects to the partner plugin, reads instance metadata and the
controller secrets directory, and runs the driver until SIGTERM. No CSI decisions here.
"""

from __future__ import annotations

from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from osk8s_core import __version__
from osk8s_core.credentials import ClientSettings, ConnectionCache
from osk8s_core.grpc.endpoint import parse_endpoint
from osk8s_core.logging import bind_component, configure_logging
from osk8s_core.metadata import build_provider
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import WaitPolicy
from osk8s_manila_csi.app import NodeParts, build_driver
from osk8s_manila_csi.cli import PROG
from osk8s_manila_csi.controller import ControllerOptions
from osk8s_manila_csi.credentials import read_secrets_dir
from osk8s_manila_csi.manila import ManilaClients
from osk8s_manila_csi.node import NodeOptions
from osk8s_manila_csi.partner import connect_partner
from osk8s_manila_csi.settings import Settings

# Matches CPO's share wait (3 s, x1.2, 10 steps ~ 78 s); the sidecar calls again after that.
SHARE_WAIT = WaitPolicy(timeout=80.0, interval=3.0, factor=1.2, max_interval=15.0)


def _node(settings: Settings, log: Any) -> NodeParts:
    partner = connect_partner(settings.fwd_endpoint, logger=log)
    return NodeParts(
        partner=partner,
        metadata=build_provider(logger=log),
        options=NodeOptions(
            with_topology=settings.with_topology,
            runtime_config_file=settings.runtime_config_file,
        ),
    )


def _pvc_reader(settings: Settings) -> Any:
    from osk8s_core.k8s.pvc import pvc_reader_from_flags  # noqa: PLC0415 - kubernetes client

    return pvc_reader_from_flags(settings, user_agent=f"{PROG}/{__version__}")


def run(settings: Settings) -> int:
    configure_logging(**settings.log.logging_kwargs())
    bind_component("manila-csi")
    log = structlog.get_logger("osk8s.manila_csi")
    for flag in settings.deprecated:
        log.warning("deprecated flag ignored", flag=flag)
    registry = CollectorRegistry()
    cache = ConnectionCache(
        settings=ClientSettings(
            component=PROG, version=__version__, user_agent_extras=settings.user_agent
        )
    )
    waiter = Waiter(policy=SHARE_WAIT)
    clients = ManilaClients(
        connect=cache.get, metrics=ApiMetrics(registry), logger=log, waiter=waiter
    )
    controller = None
    if settings.controller:
        controller = ControllerOptions(
            protocol=settings.protocol,
            cluster_id=settings.cluster_id,
            with_topology=settings.with_topology,
            default_secrets=(
                read_secrets_dir(settings.controller_secrets_dir)
                if settings.controller_secrets_dir
                else None
            ),
        )
    node = _node(settings, log) if settings.node else None
    server = build_driver(
        parse_endpoint(settings.endpoint),
        driver_name=settings.driver_name,
        protocol=settings.protocol,
        clients=clients,
        controller=controller,
        node=node,
        with_topology=settings.with_topology,
        waiter=waiter,
        logger=log,
        registry=registry,
        pvc_reader=_pvc_reader(settings) if settings.pvc_annotations and controller else None,
        log_payloads=settings.verbosity >= 5,
    )
    log.info("serving", endpoint=settings.endpoint, protocol=settings.protocol)
    server.serve()
    return 0
