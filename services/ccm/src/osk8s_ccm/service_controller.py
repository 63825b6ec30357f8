"""The ``service`` controller: k8s.io/cloud-provider's service controller over a
``LoadBalancerProvider`` (CPO's Octavia implementation lives in ``osk8s_ccm.octavia``).

Services of type LoadBalancer without ``spec.loadBalancerClass`` (a class means another
controller implements it, as upstream) are reconciled by ``--concurrent-service-syncs``
workers from the shared informers, a key at a time, failures retried per key with
exponential backoff (upstream's 5 s .. 300 s). For each Service:

* it wants a load balancer: ``EnsuringLoadBalancer``, the finalizer
  ``service.kubernetes.io/load-balancer-cleanup`` persisted *before* the first cloud call,
  ``EnsureLoadBalancer`` with the eligible nodes (``service_nodes``), ``EnsuredLoadBalancer``,
  then ``status.loadBalancer`` through ``services/status``; only when the Service's facts
  changed since the last successful ensure;
* the set of eligible nodes (or their facts) changed since: ``UpdateLoadBalancer``,
  ``UpdatedLoadBalancer`` (node informer changes and a periodic node sync, upstream's 100 s);
* it is being deleted or no longer wants one (type or class changed) while carrying the
  finalizer: ``DeletingLoadBalancer`` (if the LB exists), ``EnsureLoadBalancerDeleted``, the
  finalizer removed, ``DeletedLoadBalancer``, the status cleared.

Failures give upstream's Warning events (``SyncLoadBalancerFailed``,
``UpdateLoadBalancerFailed``) and count in ``cloudprovider_openstack_reconcile_*`` (operations
``loadbalancer_ensure``/``_update``/``_delete``: the controller measures every provider call,
so a provider must not). ``RetryLater`` re-checks after its delay without growing the backoff.
Beyond upstream: annotation warnings (bad values, ETP Local without a health monitor) become
Warning events and log lines, and a ``LoadBalancerReady`` condition in the Service's status
says why the load balancer is not ready. What it must not do: talk to OpenStack itself, or
start the shared informers (the manager does).
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Protocol

import structlog
from prometheus_client import CollectorRegistry

from osk8s_ccm.lb_provider import (
    EventType,
    LoadBalancerError,
    LoadBalancerNode,
    LoadBalancerProvider,
    LoadBalancerService,
    RetryLater,
)
from osk8s_ccm.lb_settings import ServiceLoadBalancerSettings, service_settings
from osk8s_ccm.service_changes import (
    needs_cleanup,
    relevant,
    service_facts,
    spec_change_events,
    wants_load_balancer,
)
from osk8s_ccm.service_metrics import ServiceControllerMetrics
from osk8s_ccm.service_nodes import eligible_nodes, node_change_matters
from osk8s_ccm.service_status import (
    Readiness,
    ServiceApi,
    add_finalizer,
    patch_annotations,
    patch_status,
    remove_finalizer,
    status_patch,
)
from osk8s_core.k8s.clock import Clock
from osk8s_core.k8s.controller import Controller, ControllerSettings, Requeue
from osk8s_core.k8s.events import ObjectRef
from osk8s_core.k8s.informer import Handlers, Informer
from osk8s_core.k8s.queue import WorkQueue
from osk8s_core.k8s.ratelimit import ItemBackoff
from osk8s_core.k8s.store import KubeObject, object_key
from osk8s_core.metrics import ReconcileMetrics

if TYPE_CHECKING:
    from osk8s_ccm.manager import ControllerContext

COMPONENT: Final = "service-controller"
"""Upstream's service controller records its events as this component."""
PROVIDER_COMPONENT: Final = "cloud-provider-openstack"
"""CPO's own events (and our annotation warnings) use this one."""
ENSURE: Final = "loadbalancer_ensure"
UPDATE: Final = "loadbalancer_update"
DELETE: Final = "loadbalancer_delete"
PROVIDER_MODULE: Final = ("osk8s_ccm.service_provider", "build_provider")

SettingsFor = Callable[[LoadBalancerService], ServiceLoadBalancerSettings]


class Events(Protocol):
    def event(self, ref: ObjectRef, type_: EventType, reason: str, message: str) -> None: ...


@dataclass(frozen=True)
class ServiceControllerSettings:
    cluster_name: str = "kubernetes"
    """``--cluster-name``: part of every load balancer name."""
    workers: int = 1
    """``--concurrent-service-syncs``."""
    node_sync_period: float = 100.0
    """Seconds between periodic node syncs (upstream's ``nodeSyncPeriod``)."""
    min_retry_delay: float = 5.0
    """First backoff after a failure (upstream ``minRetryDelay``)."""
    max_retry_delay: float = 300.0
    """Backoff cap (upstream ``maxRetryDelay``)."""


@dataclass
class _Collector:
    """The provider's ``LoadBalancerRecorder``: what it asked for, written afterwards."""

    events: list[tuple[EventType, str, str]] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)
    readiness: Readiness | None = None
    already: frozenset[tuple[str, str, str]] = frozenset()
    """Events the controller wrote itself this sync (settings warnings a provider may
    repeat): not written twice."""

    def event(self, type_: EventType, reason: str, message: str) -> None:
        if (type_, reason, message) not in self.already:
            self.events.append((type_, reason, message))

    def annotate(self, key: str, value: str) -> None:
        self.annotations[key] = value

    def not_ready(self, reason: str, message: str) -> None:
        self.readiness = Readiness(ready=False, reason=reason, message=message)


@dataclass
class _Phase:
    """Which step of a cleanup failed, in upstream's words."""

    failure: str = "failed to delete load balancer"


@dataclass(frozen=True)
class _Synced:
    """What the provider last succeeded with for one Service."""

    service: LoadBalancerService
    nodes: tuple[LoadBalancerNode, ...]


def _failure_reason(exc: Exception) -> str:
    return exc.reason if isinstance(exc, LoadBalancerError) else "SyncFailed"


class ServiceController:
    """Runs until ``stop``; ``reconcile`` is public so tests can step it."""

    def __init__(
        self,
        *,
        api: ServiceApi,
        provider: LoadBalancerProvider,
        settings_for: SettingsFor,
        services: Informer,
        nodes: Informer,
        recorder: Events,
        provider_recorder: Events,
        clock: Clock,
        metrics: ReconcileMetrics | None = None,
        service_metrics: ServiceControllerMetrics | None = None,
        settings: ServiceControllerSettings | None = None,
        logger: Any = None,
    ) -> None:
        self._api = api
        self._provider = provider
        self._settings_for = settings_for
        self._services = services
        self._nodes = nodes
        self._events = recorder
        self._provider_events = provider_recorder
        self._clock = clock
        self._metrics = metrics
        self._service_metrics = service_metrics
        self.settings = settings or ServiceControllerSettings()
        self._log = logger or structlog.get_logger("osk8s.ccm.service")
        backoff = ItemBackoff(base=self.settings.min_retry_delay, cap=self.settings.max_retry_delay)
        self.queue = WorkQueue(clock=clock, backoff=backoff)
        self.controller = Controller(
            name="service",
            reconcile=self.reconcile,
            queue=self.queue,
            informers=[],  # shared informers: started and synced by their owner
            settings=ControllerSettings(workers=max(self.settings.workers, 1)),
            logger=self._log,
        )
        self._lock = threading.Lock()
        self._synced: dict[str, _Synced] = {}
        services.add_handlers(
            Handlers(
                on_add=self._enqueue,
                on_update=self._service_updated,
                on_delete=self._enqueue,
            )
        )
        nodes.add_handlers(
            Handlers(
                on_add=lambda _node: self.enqueue_synced(),
                on_update=self._node_updated,
                on_delete=lambda _node: self.enqueue_synced(),
            )
        )

    # -- running ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Blocks until ``stop``; every thread it started has ended when it returns."""
        for informer in (self._services, self._nodes):
            while not informer.wait_for_sync(0.1):
                if stop.is_set():
                    return
        syncer = threading.Thread(
            target=self._node_sync_loop, args=(stop,), name="service-node-sync", daemon=True
        )
        syncer.start()
        self.controller.run(stop)
        syncer.join()

    def _node_sync_loop(self, stop: threading.Event) -> None:
        while not self._clock.wait(stop, self.settings.node_sync_period):
            self.enqueue_synced()

    def enqueue_synced(self) -> None:
        """Queue every Service with a load balancer: its reconcile updates it if the eligible
        nodes differ from the ones it last got (and does nothing otherwise)."""
        with self._lock:
            keys = list(self._synced)
        for key in keys:
            self.queue.add(key)

    def _enqueue(self, obj: KubeObject) -> None:
        self.queue.add(object_key(obj))

    def _service_updated(self, old: KubeObject, new: KubeObject) -> None:
        # Upstream's needsUpdate: status-only writes (ours included) and resyncs do not
        # queue, so a failing Service cannot bypass its backoff through its own condition.
        if old is new or relevant(old) == relevant(new):
            return
        if wants_load_balancer(old) or wants_load_balancer(new):
            ref = ObjectRef.of(new)
            for reason, message in spec_change_events(old, new):
                self._events.event(ref, "Normal", reason, message)
        self._enqueue(new)

    def _node_updated(self, old: KubeObject, new: KubeObject) -> None:
        if old is not new and node_change_matters(old, new):
            self.enqueue_synced()

    # -- one key ---------------------------------------------------------------------------

    def reconcile(self, key: str) -> Requeue | None:
        obj = self._services.store.get(key)
        if obj is None:
            return self._gone(key)
        log = self._log.bind(service=key)
        if needs_cleanup(obj):
            return self._delete(obj, log)
        if (obj.get("metadata") or {}).get("deletionTimestamp"):
            # Deleting without our finalizer (other finalizers hold it): never add ours now;
            # clean up from the last sync if there was one.
            return self._gone(key)
        if not wants_load_balancer(obj):
            with self._lock:
                had_lb = key in self._synced
            # Upstream deletes the LB of a Service that stopped wanting one, finalizer or not.
            return self._delete(obj, log) if had_lb else None
        facts = service_facts(obj)
        nodes = eligible_nodes(self._nodes.store.objects())
        with self._lock:
            synced = self._synced.get(key)
        if synced is not None and synced.service.uid != facts.uid:
            # Deleted and re-created while we were not looking: the old LB goes first.
            self._delete_cached(key, synced.service, log)
            synced = None
        if synced is None or synced.service != facts:
            return self._ensure(obj, facts, nodes, log)
        if synced.nodes != nodes:
            return self._update(obj, synced, nodes, log)
        return None

    def _ensure(
        self,
        obj: KubeObject,
        facts: LoadBalancerService,
        nodes: tuple[LoadBalancerNode, ...],
        log: Any,
    ) -> Requeue | None:
        ref = ObjectRef.of(obj)
        settings = self._settings_for(facts)
        for warning in settings.warnings:
            log.warning(
                "load balancer settings warning", reason=warning.reason, detail=warning.message
            )
            self._provider_events.event(ref, "Warning", warning.reason, warning.message)
        if settings.errors:
            message = "; ".join(settings.errors)
            log.error("service load balancer settings refused", errors=list(settings.errors))
            self._events.event(
                ref, "Warning", "SyncLoadBalancerFailed", f"Error syncing load balancer: {message}"
            )
            self._write_status(obj, None, Readiness(False, "InvalidConfiguration", message))
            return None  # retrying cannot help: wait for the Service to change
        self._events.event(ref, "Normal", "EnsuringLoadBalancer", "Ensuring load balancer")
        try:
            add_finalizer(self._api, obj)
        except Exception as exc:
            self._sync_failed(ref, "failed to add load balancer cleanup finalizer", exc)
            raise
        if not nodes:
            self._events.event(
                ref,
                "Warning",
                "UnAvailableLoadBalancer",
                "There are no available nodes for LoadBalancer",
            )
        collector = _Collector(
            already=frozenset(("Warning", w.reason, w.message) for w in settings.warnings)
        )
        cluster = self.settings.cluster_name
        try:
            with self._timed(ENSURE):
                status = self._provider.ensure_load_balancer(
                    cluster, LoadBalancerService.from_object(obj), nodes, collector
                )
        except Exception as exc:
            self._flush(obj, collector)
            self._sync_failed(ref, "failed to ensure load balancer", exc)
            readiness = collector.readiness or Readiness(False, _failure_reason(exc), str(exc))
            self._write_status(obj, None, readiness)
            return self._retry(exc, log)
        written = self._flush(obj, collector)
        self._events.event(ref, "Normal", "EnsuredLoadBalancer", "Ensured load balancer")
        # A call that returned is a ready LB, whatever it waited for on the way.
        readiness = Readiness(True, "LoadBalancerEnsured", "the load balancer is provisioned")
        self._write_status(obj, status.ingress, readiness)
        annotations = {**facts.annotations, **written}
        remembered = replace(facts, annotations=MappingProxyType(annotations))
        with self._lock:
            self._synced[object_key(obj)] = _Synced(service=remembered, nodes=nodes)
        log.info("ensured load balancer", nodes=len(nodes))
        return None

    def _update(
        self, obj: KubeObject, synced: _Synced, nodes: tuple[LoadBalancerNode, ...], log: Any
    ) -> Requeue | None:
        ref = ObjectRef.of(obj)
        collector = _Collector()
        started = time.perf_counter()
        try:
            with self._timed(UPDATE):
                self._provider.update_load_balancer(
                    self.settings.cluster_name,
                    LoadBalancerService.from_object(obj),
                    nodes,
                    collector,
                )
        except Exception as exc:
            self._updated(started, failed=True)
            self._flush(obj, collector)
            names = " ".join(node.name for node in nodes)
            self._events.event(
                ref,
                "Warning",
                "UpdateLoadBalancerFailed",
                f"Error updating load balancer with new hosts [{names}], error: {exc}",
            )
            return self._retry(exc, log)
        self._updated(started, failed=False)
        self._flush(obj, collector)
        self._events.event(
            ref, "Normal", "UpdatedLoadBalancer", "Updated load balancer with new hosts"
        )
        with self._lock:
            self._synced[object_key(obj)] = replace(synced, nodes=nodes)
        log.info("updated load balancer hosts", nodes=len(nodes))
        return None

    def _delete(self, obj: KubeObject, log: Any) -> Requeue | None:
        ref = ObjectRef.of(obj)
        facts = LoadBalancerService.from_object(obj)
        collector = _Collector()
        phase = _Phase()
        try:
            self._provider_delete(ref, facts, collector, phase)
        except Exception as exc:
            self._flush(obj, collector)
            self._sync_failed(ref, phase.failure, exc)
            return self._retry(exc, log)
        self._flush(obj, collector, annotate=False)
        try:
            remove_finalizer(self._api, obj)
        except Exception as exc:
            self._sync_failed(ref, "failed to remove load balancer cleanup finalizer", exc)
            raise
        self._events.event(ref, "Normal", "DeletedLoadBalancer", "Deleted load balancer")
        self._write_status(obj, (), None)
        with self._lock:
            self._synced.pop(object_key(obj), None)
        log.info("deleted load balancer")
        return None

    def _gone(self, key: str) -> Requeue | None:
        """The Service vanished without our finalizer (removed by hand): clean up from the
        facts of the last sync, as upstream does from its cache."""
        with self._lock:
            synced = self._synced.get(key)
        if synced is None:
            return None
        self._delete_cached(key, synced.service, self._log.bind(service=key))
        return None

    def _delete_cached(self, key: str, facts: LoadBalancerService, log: Any) -> None:
        ref = ObjectRef(
            kind="Service",
            name=facts.name,
            namespace=facts.namespace,
            uid=facts.uid,
            api_version="v1",
        )
        collector = _Collector()
        try:
            self._provider_delete(ref, facts, collector)
        finally:
            for type_, reason, message in collector.events:
                self._provider_events.event(ref, type_, reason, message)
        self._events.event(ref, "Normal", "DeletedLoadBalancer", "Deleted load balancer")
        with self._lock:
            if self._synced.get(key) is not None and self._synced[key].service.uid == facts.uid:
                del self._synced[key]
        log.info("deleted load balancer of a removed service", uid=facts.uid)

    def _provider_delete(
        self,
        ref: ObjectRef,
        facts: LoadBalancerService,
        collector: _Collector,
        phase: _Phase | None = None,
    ) -> None:
        phase = phase or _Phase()
        cluster = self.settings.cluster_name
        with self._timed(DELETE):
            phase.failure = "failed to check if load balancer exists before cleanup"
            if self._provider.get_load_balancer(cluster, facts) is None:
                return
            self._events.event(ref, "Normal", "DeletingLoadBalancer", "Deleting load balancer")
            phase.failure = "failed to delete load balancer"
            self._provider.ensure_load_balancer_deleted(cluster, facts, collector)

    def _sync_failed(self, ref: ObjectRef, what: str, exc: Exception) -> None:
        """Upstream's Warning: ``Error syncing load balancer: <what>: <error>``."""
        message = f"Error syncing load balancer: {what}: {exc}"
        self._events.event(ref, "Warning", "SyncLoadBalancerFailed", message)

    # -- helpers ---------------------------------------------------------------------------

    def _retry(self, exc: Exception, log: Any) -> Requeue:
        if isinstance(exc, RetryLater):
            log.info(
                "load balancer not ready; will look again", after=exc.retry_after, detail=str(exc)
            )
            return Requeue(after=max(exc.retry_after, 0.001))
        raise exc

    def _flush(
        self, obj: KubeObject, collector: _Collector, *, annotate: bool = True
    ) -> Mapping[str, str]:
        """Write what the provider asked for; returns the annotations now on the Service."""
        ref = ObjectRef.of(obj)
        for type_, reason, message in collector.events:
            self._provider_events.event(ref, type_, reason, message)
        if annotate and collector.annotations:
            patch_annotations(self._api, obj, collector.annotations)
            return dict(collector.annotations)
        return {}

    def _write_status(
        self,
        obj: KubeObject,
        ingress: Sequence[Any] | None,
        readiness: Readiness | None,
    ) -> None:
        body = status_patch(obj, ingress=ingress, readiness=readiness, now=self._clock.now())
        if body is not None:
            patch_status(self._api, obj, body)

    def _updated(self, started: float, *, failed: bool) -> None:
        if self._service_metrics is not None:
            self._service_metrics.updated(time.perf_counter() - started, failed=failed)

    def _timed(self, operation: str) -> Any:
        if self._metrics is None:
            return _NoTimer()
        return self._metrics.timed(operation)


class _NoTimer:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def build_service_controller(
    context: ControllerContext, *, environ: Mapping[str, str] | None = None
) -> ServiceController | None:
    """The manager's plug point (``osk8s_ccm.controllers.SERVICE_PLUGIN``). ``environ``
    (default: the process's, read here once) carries ``OCCM_WAIT_LB_ACTIVE_STEPS``."""
    environ = os.environ if environ is None else environ
    module_name, function = PROVIDER_MODULE
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        module = None
    build = getattr(module, function, None)
    if build is None:
        structlog.get_logger("osk8s.ccm.service").error(
            "failed to start service controller: no load balancer provider in this build",
            provider=".".join(PROVIDER_MODULE),
        )
        return None
    provider: LoadBalancerProvider = build(context, environ)
    balancer = context.cloud_config.load_balancer
    classes = context.cloud_config.load_balancer_classes
    return ServiceController(
        api=context.core,
        provider=provider,
        settings_for=lambda service: service_settings(service, balancer, classes),
        services=context.informers.services(),
        nodes=context.informers.nodes(),
        recorder=context.recorder(COMPONENT),
        provider_recorder=context.recorder(PROVIDER_COMPONENT),
        clock=context.clock,
        metrics=context.metrics.reconcile,
        service_metrics=_service_metrics(context.metrics.registry),
        settings=ServiceControllerSettings(
            cluster_name=context.options.cluster_name,
            workers=context.options.concurrent_service_syncs,
        ),
        logger=context.logger,
    )


def _service_metrics(registry: CollectorRegistry) -> ServiceControllerMetrics:
    """Upstream's ``service_controller_*`` in the served registry; a second controller built
    over the same registry (tests) keeps its own, unserved."""
    try:
        return ServiceControllerMetrics(registry)
    except ValueError:  # already registered there
        return ServiceControllerMetrics(None)
