"""The controller manager of ``capo-controller-manager``: shared informers, one work queue
and worker pool per controller, leader election, health and metrics servers.

Controllers register a ``ControllerSpec`` (primary kind, reconcile function, workers and the
other kinds whose changes map to primary keys); other runnables (the webhook server) register
with ``add_runnable``. ``--namespace`` restricts every namespaced informer; ``--watch-filter``
becomes a label selector on the CAPI/CAPO kinds (``cluster.x-k8s.io/watch-filter=<value>``);
``--sync-period`` is the informers' resync. Only the leader runs controllers; runnables and
probes run on every replica (as controller-runtime).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import structlog
from kubernetes.client import ApiClient, CoordinationV1Api, CustomObjectsApi
from prometheus_client import CollectorRegistry, Counter, Histogram

from osk8s_capo.kube import WATCH_FILTER_LABEL, Resource
from osk8s_core.health import HealthChecks, HealthServer
from osk8s_core.k8s.clock import Clock, SystemClock
from osk8s_core.k8s.controller import Controller, ControllerSettings, Reconcile, Requeue
from osk8s_core.k8s.informer import Handlers, Informer, InformerSettings
from osk8s_core.k8s.leader import (
    LeaderCallbacks,
    LeaderElectionConfig,
    LeaderElector,
    default_identity,
)
from osk8s_core.k8s.leaselock import KubeLeaseLock
from osk8s_core.k8s.listwatch import ApiListWatch
from osk8s_core.k8s.queue import WorkQueue
from osk8s_core.k8s.store import object_key
from osk8s_core.k8s.tls_options import TlsOptions

LEADER_ELECTION_ID: Final = "controller-leader-election-capo"
SERVICE_ACCOUNT_NAMESPACE: Final = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

KeyMapper = Callable[[Mapping[str, Any]], Iterable[str]]


@dataclass(frozen=True)
class Watch:
    """Another kind whose changes enqueue primary keys (``mapper`` returns ``ns/name``s)."""

    resource: Resource
    mapper: KeyMapper


@dataclass(frozen=True)
class ControllerSpec:
    name: str
    """Controller name (logs, queue threads): ``openstackcluster``..."""
    resource: Resource
    """Primary kind: its own changes enqueue its own key."""
    reconcile: Reconcile
    workers: int = 1
    watches: tuple[Watch, ...] = ()


@dataclass(frozen=True)
class ManagerOptions:
    namespace: str = ""
    """``--namespace``: watch only this namespace; empty: all."""
    watch_filter: str = ""
    """``--watch-filter``: only objects labelled ``cluster.x-k8s.io/watch-filter=<value>``."""
    sync_period: float = 600.0
    """``--sync-period`` in seconds: every cached object is reconciled again this often."""
    leader_elect: bool = False
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    leader_election_id: str = LEADER_ELECTION_ID
    leader_election_namespace: str = ""
    """Empty: the pod's namespace (service account file or ``POD_NAMESPACE``), else default."""
    health_addr: str = ":9440"
    diagnostics_addr: str = ":8443"
    insecure_diagnostics: bool = False
    tls: TlsOptions = field(default_factory=TlsOptions)
    """``--tls-min-version``/``--tls-cipher-suites``: HTTPS diagnostics and webhook server."""
    identity: str = field(default_factory=default_identity)


def split_address(address: str) -> tuple[str, int] | None:
    """``host:port`` / ``:port`` / ``[v6]:port`` → (host, port); "0" or "" disables (None)."""
    if address in ("", "0"):
        return None
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def pod_namespace(environ: Mapping[str, str]) -> str:
    try:
        with open(SERVICE_ACCOUNT_NAMESPACE, encoding="utf-8") as handle:
            found = handle.read().strip()
            if found:
                return found
    except OSError:
        pass
    return environ.get("POD_NAMESPACE", "") or "default"


class Manager:
    """Owns informers, controllers and servers; ``run`` blocks until ``stop``."""

    def __init__(
        self,
        *,
        api_client: ApiClient,
        options: ManagerOptions,
        registry: CollectorRegistry | None = None,
        clock: Clock | None = None,
        logger: Any = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.api_client = api_client
        self.options = options
        self.registry = registry if registry is not None else CollectorRegistry()
        self.clock = clock or SystemClock()
        self._log = logger or structlog.get_logger("osk8s.capo.manager")
        self._environ = os.environ if environ is None else environ
        self._custom: Any = CustomObjectsApi(api_client)
        self._informers: dict[Resource, Informer] = {}
        self._controllers: list[Controller] = []
        self._runnables: list[tuple[str, Callable[[threading.Event], None]]] = []
        self.health = HealthChecks()
        self.ready = HealthChecks()
        self.elector: LeaderElector | None = None
        self.leading = threading.Event()
        self._metrics = ReconcileMetrics(self.registry)
        self.servers: list[HealthServer] = []
        """Probe and diagnostics servers once running (their bound addresses)."""
        self.started = threading.Event()

    # Registration

    def informer(self, resource: Resource) -> Informer:
        """The shared informer of ``resource`` (namespace and watch filter applied)."""
        found = self._informers.get(resource)
        if found is not None:
            return found
        selector = ""
        if self.options.watch_filter:
            selector = f"{WATCH_FILTER_LABEL}={self.options.watch_filter}"
        args: dict[str, Any] = {"group": resource.group, "version": resource.version}
        args["plural"] = resource.plural
        if resource.namespaced and self.options.namespace:
            list_fn: Callable[..., Any] = self._custom.list_namespaced_custom_object
            args["namespace"] = self.options.namespace
        else:
            list_fn = self._custom.list_cluster_custom_object
        lw = ApiListWatch(
            list_fn, description=resource.plural, label_selector=selector or None, **args
        )
        informer = Informer(
            lw,
            name=resource.plural,
            clock=self.clock,
            settings=InformerSettings(resync_period=self.options.sync_period),
        )
        self._informers[resource] = informer
        return informer

    def register(self, spec: ControllerSpec) -> Controller:
        queue = WorkQueue(clock=self.clock)
        primary = self.informer(spec.resource)
        informers = [primary]
        controller = Controller(
            name=spec.name,
            reconcile=self._metrics.instrument(spec.name, spec.reconcile),
            queue=queue,
            informers=(),
            settings=ControllerSettings(workers=max(1, spec.workers)),
        )
        primary.add_handlers(controller.handlers())
        for watch in spec.watches:
            informer = self.informer(watch.resource)
            informers.append(informer)
            informer.add_handlers(_mapped_handlers(queue, watch.mapper))
        self._controllers.append(controller)
        return controller

    def add_runnable(self, name: str, run: Callable[[threading.Event], None]) -> None:
        """Runs on every replica (leader or not) until stop, e.g. the webhook server."""
        self._runnables.append((name, run))

    @property
    def controllers(self) -> list[Controller]:
        return list(self._controllers)

    # Running

    def run(self, stop: threading.Event) -> None:
        servers = self._start_servers()
        self.servers = servers
        self.started.set()
        threads = [
            threading.Thread(target=run, args=(stop,), name=name, daemon=True)
            for name, run in self._runnables
        ]
        for thread in threads:
            thread.start()
        try:
            if self.options.leader_elect:
                self._run_elected(stop)
            else:
                self._run_controllers(stop)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=10)
            for server in servers:
                server.stop()

    def _run_controllers(self, stop: threading.Event) -> None:
        self.leading.set()
        informer_threads = [informer.start(stop) for informer in self._informers.values()]
        self.ready.add("informers", self._informers_synced)
        controller_threads = [
            threading.Thread(target=c.run, args=(stop,), name=f"controller-{c.name}", daemon=True)
            for c in self._controllers
        ]
        for thread in controller_threads:
            thread.start()
        stop.wait()
        for thread in (*controller_threads, *informer_threads):
            thread.join(timeout=10)

    def _run_elected(self, stop: threading.Event) -> None:
        namespace = self.options.leader_election_namespace or pod_namespace(self._environ)
        lock = KubeLeaseLock(
            CoordinationV1Api(self.api_client),
            namespace=namespace,
            name=self.options.leader_election_id,
        )
        lost = threading.Event()

        def stopped() -> None:
            if not stop.is_set():
                self._log.error("leader election lost; stopping")
                lost.set()
                stop.set()

        self.elector = LeaderElector(
            lock,
            config=LeaderElectionConfig(
                identity=self.options.identity,
                lease_duration=self.options.lease_duration,
                renew_deadline=self.options.renew_deadline,
                retry_period=self.options.retry_period,
            ),
            callbacks=LeaderCallbacks(
                on_started_leading=self._run_controllers, on_stopped_leading=stopped
            ),
            clock=self.clock,
        )
        elector = self.elector
        self.health.add(
            "leaderElection", lambda: None if elector.healthy() else "lease not renewed"
        )
        elector.run(stop)
        if lost.is_set():
            raise LeadershipLost("leader election lost")

    def _informers_synced(self) -> str | None:
        pending = [
            name
            for name, i in ((r.plural, i) for r, i in self._informers.items())
            if not i.has_synced()
        ]
        return f"informers not synced: {', '.join(pending)}" if pending else None

    def _start_servers(self) -> list[HealthServer]:
        servers: list[HealthServer] = []
        health = split_address(self.options.health_addr)
        if health is not None:
            self.health.add("ping", lambda: None)
            self.ready.add("ping", lambda: None)
            servers.append(
                HealthServer(
                    registry=CollectorRegistry(),
                    health=self.health,
                    ready=self.ready,
                    host=health[0],
                    port=health[1],
                ).start()
            )
        diagnostics = split_address(self.options.diagnostics_addr)
        if diagnostics is not None:
            servers.append(self._diagnostics_server(*diagnostics).start())
        return servers

    def _diagnostics_server(self, host: str, port: int) -> HealthServer:
        if self.options.insecure_diagnostics:
            return HealthServer(registry=self.registry, host=host, port=port)
        # Secure diagnostics as controller-runtime: HTTPS (self-signed when no cert is given)
        # with TokenReview/SubjectAccessReview authentication and authorization.
        from osk8s_core.cli.secure_serving import build_secure_server  # noqa: PLC0415
        from osk8s_core.k8s.secure_serving import SecureServingOptions  # noqa: PLC0415

        return build_secure_server(
            SecureServingOptions(bind_address=host, secure_port=port, tls=self.options.tls),
            registry=self.registry,
            kube_client=lambda _path: self.api_client,
        )


class ReconcileMetrics:
    """controller-runtime's reconcile metrics, so CAPO dashboards keep working:
    ``controller_runtime_reconcile_total{controller,result}`` (success, error, requeue,
    requeue_after), ``controller_runtime_reconcile_errors_total{controller}`` and
    ``controller_runtime_reconcile_time_seconds{controller}``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.total = Counter(
            "controller_runtime_reconcile_total",
            "Total number of reconciliations per controller",
            ["controller", "result"],
            registry=registry,
        )
        self.errors = Counter(
            "controller_runtime_reconcile_errors_total",
            "Total number of reconciliation errors per controller",
            ["controller"],
            registry=registry,
        )
        self.seconds = Histogram(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            ["controller"],
            registry=registry,
        )

    def instrument(self, name: str, reconcile: Reconcile) -> Reconcile:
        def timed(key: str) -> Requeue | None:
            start = time.perf_counter()
            try:
                result = reconcile(key)
            except Exception:
                self.total.labels(name, "error").inc()
                self.errors.labels(name).inc()
                raise
            finally:
                self.seconds.labels(name).observe(time.perf_counter() - start)
            outcome = "success"
            if result is not None:
                outcome = "requeue_after" if result.after > 0 else "requeue"
            self.total.labels(name, outcome).inc()
            return result

        return timed


class LeadershipLost(RuntimeError):
    """Leadership ended while running: the process must exit (a new leader takes over)."""


def _mapped_handlers(queue: WorkQueue, mapper: KeyMapper) -> Handlers:
    def enqueue(obj: Mapping[str, Any]) -> None:
        for key in mapper(obj):
            queue.add(key)

    return Handlers(on_add=enqueue, on_update=lambda _old, new: enqueue(new), on_delete=enqueue)


def own_key(obj: Mapping[str, Any]) -> list[str]:
    return [object_key(obj)]
