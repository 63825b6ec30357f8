"""Production wiring: flags -> ``Settings`` -> clouds, metadata, host mounter -> gRPC server.

The only place that reads cloud.conf (through the core loader), starts the metrics HTTP
server and runs the driver until SIGTERM. Decisions about CSI live in the service modules;
this module just builds the object graph (no module-level state).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CollectorRegistry, start_http_server

from osk8s_cinder_csi.app import ControllerParts, build_driver
from osk8s_cinder_csi.cli import PROG
from osk8s_cinder_csi.cloud import CinderCloud, Clouds
from osk8s_cinder_csi.devices import DeviceFinder, SystemRescanner
from osk8s_cinder_csi.mounter import SystemMounter
from osk8s_cinder_csi.node import NodeService
from osk8s_cinder_csi.options import ControllerOptions, NodeOptions, attach_limit
from osk8s_cinder_csi.settings import Settings
from osk8s_core import __version__
from osk8s_core.config import CloudConfig, load_cloud_config
from osk8s_core.crashpoints import CrashPoints, crash_points_from_environ
from osk8s_core.errors import ConfigError
from osk8s_core.grpc.endpoint import parse_endpoint
from osk8s_core.logging import bind_component, configure_logging
from osk8s_core.metadata import build_provider

if TYPE_CHECKING:
    from osk8s_core.k8s.pvc import KubePvcReader

# openstacksdk (~1 s) and the kubernetes client (~0.8 s) are imported inside the functions
# that use them: the node plugin (controller off, no --pvc-annotations) needs neither, and
# its start-up time is what a DaemonSet rollout waits for on every node.


def _load(settings: Settings, log: Any) -> CloudConfig:
    try:
        result = load_cloud_config([Path(p) for p in settings.cloud_config])
    except ConfigError:
        if settings.controller:
            raise
        # Matches CPO: the node plugin tolerates a missing/unreadable cloud config.
        log.warning("cloud config not readable; node uses defaults")
        return CloudConfig()
    for warning in result.warnings:
        log.warning("cloud config", detail=str(warning))
    return result.config


def _clouds(
    settings: Settings, registry: CollectorRegistry, log: Any, crash_points: CrashPoints
) -> Clouds:
    from osk8s_cinder_csi.openstack_cloud import OpenStackCinderCloud  # noqa: PLC0415 - heavy
    from osk8s_core.credentials import (  # noqa: PLC0415 - with openstacksdk
        ClientSettings,
        ConnectionCache,
        ConnectionFactory,
    )
    from osk8s_core.metrics import ApiMetrics  # noqa: PLC0415

    client = ClientSettings(
        component=PROG, version=__version__, user_agent_extras=settings.user_agent
    )
    cache = ConnectionCache(settings=client)
    metrics = ApiMetrics(registry)
    clouds: dict[str, CinderCloud] = {}
    for name in settings.cloud_names:
        factory = ConnectionFactory(
            settings.cloud_config, settings=client, section=name, cache=cache, logger=log
        )
        factory.get()  # fail at start-up on a missing section or incomplete credentials
        clouds[name] = OpenStackCinderCloud(
            connect=factory.get, metrics=metrics, logger=log, crash_points=crash_points
        )
    return Clouds(clouds)


def _node(settings: Settings, config: CloudConfig, log: Any) -> NodeService:
    metadata = build_provider(config.metadata.search_order, logger=log)
    storage = config.block_storage
    finder = DeviceFinder(rescanner=SystemRescanner(), metadata_devices=metadata.devices)
    return NodeService(
        mounter=SystemMounter(),
        finder=finder,
        metadata=metadata,
        options=NodeOptions(
            with_topology=settings.with_topology,
            additional_topology=settings.additional_topology,
            max_volumes=attach_limit(storage.node_volume_attach_limit),
            rescan_on_resize=storage.rescan_on_resize,
        ),
    )


def _pvc_reader(settings: Settings) -> KubePvcReader:
    from osk8s_core.k8s.pvc import pvc_reader_from_flags  # noqa: PLC0415 - kubernetes client

    return pvc_reader_from_flags(settings, user_agent=f"{PROG}/{__version__}")


def run(settings: Settings) -> int:
    configure_logging(**settings.log.logging_kwargs())
    bind_component("cinder-csi")
    log = structlog.get_logger("osk8s.cinder_csi")
    for flag in settings.deprecated:
        log.warning("deprecated flag ignored", flag=flag)
    config = _load(settings, log)
    registry = CollectorRegistry()
    controller = None
    if settings.controller:
        storage = config.block_storage
        controller = ControllerParts(
            # Inert unless a crash-consistency test set OSK8S_CRASH_AT / OSK8S_CRASH_LOG.
            clouds=_clouds(settings, registry, log, crash_points_from_environ(os.environ)),
            options=ControllerOptions(
                cluster=settings.cluster,
                with_topology=settings.with_topology,
                ignore_volume_az=storage.ignore_volume_az,
                ignore_volume_microversion=storage.ignore_volume_microversion,
                pvc_annotations=settings.pvc_annotations,
            ),
            pvc_reader=_pvc_reader(settings) if settings.pvc_annotations else None,
        )
    node = _node(settings, config, log) if settings.node else None
    if settings.http_endpoint:
        host, _, port = settings.http_endpoint.rpartition(":")
        start_http_server(int(port), addr=host or "0.0.0.0", registry=registry)
    server = build_driver(
        parse_endpoint(settings.endpoint),
        controller=controller,
        node=node,
        with_topology=settings.with_topology,
        logger=log,
        registry=registry,
        log_payloads=settings.verbosity >= 5,
    )
    log.info(
        "serving", endpoint=settings.endpoint, controller=settings.controller, node=settings.node
    )
    server.serve()
    return 0
