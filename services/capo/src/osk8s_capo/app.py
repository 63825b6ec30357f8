"""Builds ``capo-controller-manager``'s object graph from parsed flags and runs it.

One ``Dependencies`` (Kubernetes objects, the OpenStack scope factory, events, metrics, the
options) is built here and handed to every controller's ``register(manager, deps)``. To add a
controller (OpenStackMachine, OpenStackServer) or the webhook server, add its ``register``
to ``registrars()`` below; nothing else needs to change.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from osk8s_capo import __name__ as _package
from osk8s_capo.credentials import ConnectionSource, CredentialResolver
from osk8s_capo.kube import KubeObjects
from osk8s_capo.manager import LeadershipLost, Manager, ManagerOptions
from osk8s_capo.scope import ScopeFactory
from osk8s_core import __version__, cli
from osk8s_core.crashpoints import CrashPoints, crash_points_from_environ
from osk8s_core.credentials import ClientSettings, ConnectionCache
from osk8s_core.errors import ConfigError
from osk8s_core.k8s.client import KubeClientOptions, build_api_client
from osk8s_core.k8s.events import EventRecorder
from osk8s_core.k8s.tls_options import tls_options, warn_unavailable
from osk8s_core.logging import configure_logging, get_logger
from osk8s_core.metrics import ApiMetrics

COMPONENT = "capo-controller-manager"
USER_AGENT = f"cluster-api-provider-openstack/{__version__}"


@dataclass(frozen=True)
class Concurrency:
    cluster: int = 10
    machine: int = 10
    """Also the OpenStackServer controller's (as CAPO)."""
    machine_template: int = 10


@dataclass(frozen=True)
class Dependencies:
    """What every CAPO controller gets."""

    kube: KubeObjects
    scopes: ScopeFactory
    events: EventRecorder
    crash_points: CrashPoints
    concurrency: Concurrency = field(default_factory=Concurrency)
    feature_gates: Mapping[str, bool] = field(default_factory=dict)
    logger: Any = None


Registrar = Callable[[Manager, Dependencies], None]


def registrars() -> list[Registrar]:
    """Every controller/runnable of the binary (imported lazily: cheap ``--help``)."""
    from osk8s_capo.cluster_controller import register as register_cluster  # noqa: PLC0415
    from osk8s_capo.machine import register as register_machine  # noqa: PLC0415
    from osk8s_capo.server import register as register_server  # noqa: PLC0415
    from osk8s_capo.templates import register as register_templates  # noqa: PLC0415

    return [register_cluster, register_machine, register_server, register_templates]


def build_dependencies(
    manager: Manager,
    *,
    ca_certs: str = "",
    scope_cache_size: int = 10,
    concurrency: Concurrency | None = None,
    feature_gates: Mapping[str, bool] | None = None,
    environ: Mapping[str, str] | None = None,
    crash_points: CrashPoints | None = None,
) -> Dependencies:
    env = os.environ if environ is None else environ
    kube = KubeObjects(manager.api_client)
    log = get_logger("osk8s.capo")
    points = crash_points if crash_points is not None else crash_points_from_environ(env)
    cache = ConnectionCache(
        settings=ClientSettings(component="cluster-api-provider-openstack", version=__version__),
        # --scope-cache-max-size 0 disables CAPO's cache; one entry is the least we keep.
        max_entries=max(1, scope_cache_size),
    )
    connections = ConnectionSource(
        resolver=CredentialResolver(secrets=kube, identities=kube, ca_file=ca_certs),
        cache=cache,
    )
    scopes = ScopeFactory(
        connections=connections,
        metrics=ApiMetrics(manager.registry, prefix="capo_", not_found_is_error=False),
        logger=log,
        crash_points=points,
    )
    events = EventRecorder(kube.core, component="openstack-controller", clock=manager.clock)
    return Dependencies(
        kube=kube,
        scopes=scopes,
        events=events,
        crash_points=points,
        concurrency=concurrency or Concurrency(),
        feature_gates=dict(feature_gates or {}),
        logger=log,
    )


def options_from_args(args: argparse.Namespace) -> ManagerOptions:
    """The manager's options (``ConfigError`` on a bad ``--tls-*`` value, as CAPI's
    GetManagerOptions errs)."""
    diagnostics, insecure = args.diagnostics_address, args.insecure_diagnostics
    if args.metrics_bind_addr:
        # CAPI's deprecated flag keeps its old meaning: plain-HTTP metrics on that address.
        diagnostics, insecure = args.metrics_bind_addr, True
    return ManagerOptions(
        namespace=args.namespace,
        watch_filter=args.watch_filter,
        sync_period=args.sync_period.total_seconds(),
        leader_elect=args.leader_elect,
        lease_duration=args.leader_elect_lease_duration.total_seconds(),
        renew_deadline=args.leader_elect_renew_deadline.total_seconds(),
        retry_period=args.leader_elect_retry_period.total_seconds(),
        health_addr=args.health_addr,
        diagnostics_addr=diagnostics,
        insecure_diagnostics=insecure,
        tls=tls_options(args.tls_min_version, args.tls_cipher_suites),
    )


def configure(args: argparse.Namespace) -> None:
    """Logging from klog's flags (``-v``, ``--vmodule``, ``--log-file``...); text by default,
    as CAPO's component-base logging."""
    kwargs = cli.log_flags(args).logging_kwargs()
    if getattr(args, "logging_format", None) is None:
        kwargs["fmt"] = "console"
    configure_logging(**kwargs)


def build(
    args: argparse.Namespace,
    *,
    environ: Mapping[str, str] | None = None,
    options: ManagerOptions | None = None,
) -> Manager:
    """The manager with every controller and runnable registered, as ``run`` starts it."""
    options = options if options is not None else options_from_args(args)
    env = os.environ if environ is None else environ
    api_client = build_api_client(
        KubeClientOptions(
            kubeconfig=args.kubeconfig,
            context=env.get("KUBECONTEXT", ""),
            qps=args.kube_api_qps,
            burst=args.kube_api_burst,
            user_agent=USER_AGENT,
        ),
        environ=env,
    )
    manager = Manager(api_client=api_client, options=options, environ=env)
    deps = build_dependencies(
        manager,
        ca_certs=args.ca_certs,
        scope_cache_size=args.scope_cache_max_size,
        concurrency=Concurrency(
            cluster=args.openstackcluster_concurrency,
            machine=args.openstackmachine_concurrency,
            machine_template=args.openstackmachinetemplate_concurrency,
        ),
        feature_gates=getattr(args, "feature_gates", None) or {},
        environ=env,
    )
    for register in registrars():
        register(manager, deps)
    from osk8s_capo.webhooks_server import runnable  # noqa: PLC0415 - cheap --help

    manager.add_runnable(
        "webhook-server", runnable(args.webhook_cert_dir, args.webhook_port, tls=options.tls)
    )
    return manager


def run(args: argparse.Namespace, *, environ: Mapping[str, str] | None = None) -> int:
    configure(args)
    log = get_logger(_package)
    try:
        options = options_from_args(args)
    except ConfigError as exc:
        # CAPO: setupLog.Error(err, "Unable to start manager: invalid flags"); os.Exit(1)
        log.error("Unable to start manager: invalid flags", error=str(exc))
        return 1
    warn_unavailable(options.tls, log)
    manager = build(args, environ=environ, options=options)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("starting manager", namespace=args.namespace, watch_filter=args.watch_filter)
    try:
        manager.run(stop)
    except LeadershipLost:
        # controller-runtime: "leader election lost" is fatal, the process exits 1.
        return 1
    return 0
