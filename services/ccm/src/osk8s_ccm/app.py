"""The process: options -> cloud provider, Kubernetes clients, secure serving, leader election,
controller manager; run until SIGTERM or until the lease is lost.

The only place that reads cloud.conf and the environment (through the core's loaders) and
builds the object graph; no module-level state. Order as upstream's cloud-controller-manager:
the cloud provider is initialised first (any failure: ``Cloud provider could not be
initialized: ...``, exit 255 as ``klog.Fatalf``), the secure port serves before the election,
controllers start only once leading and the process exits 1 when the lease is lost.
The provider authenticates once at start-up, as CPO's does (a bad password exits 255).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

import structlog

from osk8s_ccm.ccm_metrics import CcmMetrics
from osk8s_ccm.controllers import controller_specs
from osk8s_ccm.instances import InstancesV2
from osk8s_ccm.manager import (
    ControllerContext,
    ControllerManager,
    ControllerUnavailable,
    SharedInformers,
)
from osk8s_ccm.names import PROG
from osk8s_ccm.nova_neutron import NovaNeutron
from osk8s_ccm.options import PROVIDER_NAME, CcmOptions
from osk8s_ccm.settings import instance_settings
from osk8s_core import __version__
from osk8s_core.config import CloudConfig
from osk8s_core.config.loader import load_cloud_config
from osk8s_core.errors import ConfigError, Osk8sError
from osk8s_core.health import HealthChecks
from osk8s_core.k8s.clock import Clock, SystemClock
from osk8s_core.k8s.events import EventRecorder
from osk8s_core.logging import bind_component, configure_logging

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from osk8s_core.credentials import ConnectionFactory
    from osk8s_core.health import HealthServer
    from osk8s_core.openstack.client import OpenStackClient

EXIT_PROVIDER: Final = 255
"""klog.Fatalf's exit status: what upstream exits with when the provider cannot start."""
EXIT_FAILED: Final = 1
"""Lost lease, invalid client configuration, unavailable required controller."""


class ProviderError(Exception):
    """The cloud provider could not be initialised."""


class _Connection:
    """The current ``Connection`` on every attribute access, so a rotated cloud.conf takes
    effect without a restart (the factory stats the files; cheap)."""

    def __init__(self, factory: ConnectionFactory) -> None:
        self._factory = factory

    def __getattr__(self, name: str) -> Any:
        return getattr(self._factory.get(), name)


@dataclass(frozen=True)
class CloudProvider:
    """The initialised ``openstack`` provider."""

    config: CloudConfig
    openstack: OpenStackClient[Any]
    nova_neutron: NovaNeutron
    instances: InstancesV2


def init_provider(
    options: CcmOptions, *, metrics: CcmMetrics, environ: Mapping[str, str], log: Any
) -> CloudProvider:
    """CPO's provider start-up: cloud.conf read and checked, client built (no request yet)."""
    from osk8s_core.credentials import ClientSettings, ConnectionFactory  # noqa: PLC0415
    from osk8s_core.openstack.client import OpenStackClient  # noqa: PLC0415

    if options.cloud_provider != PROVIDER_NAME:
        raise ProviderError(f'unknown cloud provider "{options.cloud_provider}"')
    if not options.cloud_config:
        raise ProviderError("no OpenStack cloud provider config file given")
    path = Path(options.cloud_config)
    result = load_cloud_config([path], environ=environ)
    for warning in result.warnings:
        log.warning("cloud config", detail=str(warning))
    config = result.config
    settings = ClientSettings(
        component=PROG,
        version=__version__,
        user_agent_extras=options.user_agent,
        timeout=config.metadata.request_timeout.total_seconds(),
    )
    factory = ConnectionFactory([path], settings=settings, logger=log)
    factory.get()  # incomplete credentials fail here, before any controller runs
    client: OpenStackClient[Any] = OpenStackClient(
        _Connection(factory), metrics=metrics.api, logger=log
    )
    return CloudProvider(
        config=config,
        openstack=client,
        nova_neutron=NovaNeutron(client),
        instances=InstancesV2(
            instance_settings(config, environ),
            warn=lambda item, why: log.warning("ignored", item=item, reason=why),
        ),
    )


def authenticate(provider: CloudProvider) -> None:
    """Get a Keystone token now, as CPO's provider does while it initialises (gophercloud's
    ``Authenticate``): wrong credentials or an unreachable Keystone stop the start with
    ``Cloud provider could not be initialized``, rather than failing every call later. Once,
    without retries, as gophercloud does."""
    from osk8s_core.retry import NO_RETRY  # noqa: PLC0415

    session = provider.openstack.connection.session
    provider.openstack.call("identity_token_get", session.get_token, policy=NO_RETRY)


def _kube_client(options: CcmOptions, *, kubeconfig: str | None = None, agent: str = "") -> Any:
    from osk8s_core.k8s.client import build_api_client  # noqa: PLC0415

    kube = options.kube
    if kubeconfig:
        kube = replace(kube, kubeconfig=kubeconfig)
    if agent:
        kube = replace(kube, user_agent=f"{kube.user_agent}/{agent}")
    return build_api_client(kube)


class _Recorders:
    """One event recorder per component, created on first use."""

    def __init__(self, core: Any, clock: Clock) -> None:
        self._core = core
        self._clock = clock
        self._host = socket.gethostname()
        self._made: dict[str, EventRecorder] = {}
        self._lock = threading.Lock()

    def __call__(self, component: str) -> EventRecorder:
        with self._lock:
            found = self._made.get(component)
            if found is None:
                found = EventRecorder(
                    self._core, component=component, clock=self._clock, host=self._host
                )
                self._made[component] = found
            return found


def _serve(options: CcmOptions, metrics: CcmMetrics, health: HealthChecks) -> HealthServer | None:
    from osk8s_core.cli.secure_serving import build_secure_server  # noqa: PLC0415
    from osk8s_core.k8s.tls_options import warn_unavailable  # noqa: PLC0415

    if options.serving.secure_port == 0:
        return None
    # An empty --authentication/authorization-kubeconfig means "the process's own
    # connection" (in a cluster: the same in-cluster account upstream would use).
    server = build_secure_server(
        options.serving,
        registry=metrics.registry,
        kube_client=lambda path: _kube_client(options, kubeconfig=path, agent="auth-delegator"),
        health=health,
    )
    server.start()
    host, port = server.address
    log = structlog.get_logger("osk8s.ccm")
    log.info("secure serving", address=f"{host}:{port}", metrics="/metrics", health="/healthz")
    warn_unavailable(options.serving.tls, log)
    return server


def _install_signals(stop: threading.Event) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())


def run(
    options: CcmOptions,
    *,
    environ: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Run the process until ``stop`` (SIGTERM/SIGINT) or a lost lease; the exit status."""
    configure_logging(**options.log.logging_kwargs())
    bind_component("ccm")
    log = structlog.get_logger("osk8s.ccm")
    environ = os.environ if environ is None else environ
    log.info("starting", version=__version__, controllers=list(options.controllers))
    if options.use_service_account_credentials:
        log.warning(
            "--use-service-account-credentials: controllers use the process's own credentials"
        )
    metrics = CcmMetrics.create()
    try:
        provider = init_provider(options, metrics=metrics, environ=environ, log=log)
        authenticate(provider)
    except (ProviderError, Osk8sError) as exc:
        sys.stderr.write(f"Cloud provider could not be initialized: {exc}\n")
        return EXIT_PROVIDER
    manager = ControllerManager(controller_specs(options), options.controllers)
    try:
        for warning in manager.check():
            log.warning(warning)
        kube = _kube_client(options)
    except (ControllerUnavailable, ConfigError) as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_FAILED
    if stop is None:
        stop = threading.Event()
        _install_signals(stop)
    health = HealthChecks()
    try:
        server = _serve(options, metrics, health)
    except (ConfigError, OSError) as exc:
        sys.stderr.write(f"failed to serve on the secure port: {exc}\n")
        return EXIT_FAILED
    try:
        context = _context(options, provider, kube, metrics, log)
        running = _Running(options, manager, context, health, log)
        return running.run(stop)
    finally:
        if server is not None:
            server.stop()


def _context(
    options: CcmOptions, provider: CloudProvider, kube: ApiClient, metrics: CcmMetrics, log: Any
) -> ControllerContext:
    from kubernetes.client import CoreV1Api  # noqa: PLC0415

    clock = SystemClock()
    core = CoreV1Api(kube)
    return ControllerContext(
        options=options,
        cloud_config=provider.config,
        openstack=provider.openstack,
        nova_neutron=provider.nova_neutron,
        instances=provider.instances,
        kube=kube,
        core=core,
        informers=SharedInformers(core, clock=clock, resync=options.periods.min_resync),
        metrics=metrics,
        recorder=_Recorders(core, clock),
        clock=clock,
        logger=log,
    )


@dataclass(frozen=True)
class _Running:
    """What runs once the process is set up: the controllers, alone or under the lease."""

    options: CcmOptions
    manager: ControllerManager
    context: ControllerContext
    health: HealthChecks
    log: Any

    def run(self, stop: threading.Event) -> int:
        if self.options.leader_election.enabled:
            return self._lead(stop)
        try:
            self.manager.run(self.context, stop)
        except Exception as exc:  # a controller crashed or could not start: exit as upstream
            self.log.error("controllers failed", error=f"{type(exc).__name__}: {exc}")
            return EXIT_FAILED
        return 0

    def _lead(self, stop: threading.Event) -> int:
        from kubernetes.client import CoordinationV1Api  # noqa: PLC0415

        from osk8s_core.k8s.leader import (  # noqa: PLC0415
            LeaderCallbacks,
            LeaderElector,
            default_identity,
        )
        from osk8s_core.k8s.leaselock import KubeLeaseLock  # noqa: PLC0415

        election = self.options.leader_election
        identity = default_identity()
        lock = KubeLeaseLock(
            CoordinationV1Api(_kube_client(self.options, agent="leader-election")),
            namespace=election.resource_namespace,
            name=election.resource_name,
        )
        lease = election.resource_name
        metrics = self.context.metrics
        failed: list[str] = []

        def lead(ended: threading.Event) -> None:
            metrics.leading(lease, True)
            try:
                self.manager.run(self.context, ended)
            except Exception as exc:
                failed.append(f"{type(exc).__name__}: {exc}")
                raise  # the elector gives the lease up

        def stopped() -> None:
            metrics.leading(lease, False)
            if not stop.is_set() and not failed:
                # Upstream: klog.FlushAndExit(1) at once; controller threads still finishing
                # must not write once another replica may lead.
                self.log.error("leaderelection lost")
                _exit_now(EXIT_FAILED)

        elector = LeaderElector(
            lock,
            config=election.config(identity),
            callbacks=LeaderCallbacks(on_started_leading=lead, on_stopped_leading=stopped),
            clock=self.context.clock,
        )
        self.health.add(
            "leaderElection", lambda: None if elector.healthy() else "lease not renewed"
        )
        metrics.leading(lease, False)
        self.log.info(
            "attempting to acquire leader lease", lease=f"{lock.namespace}/{lease}", id=identity
        )
        elector.run(stop)
        if stop.is_set():
            return 0
        self.log.error("controllers failed; lease given up", error=failed[0] if failed else "")
        return EXIT_FAILED


def _exit_now(code: int) -> NoReturn:
    logging.shutdown()  # flush the log handlers: nothing else runs after this
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
