"""The controller manager: named controllers built from one shared context, run while leading.

Upstream's ``k8s.io/cloud-provider`` app keeps a map of controller name -> start function and
starts the enabled ones, after leader election, on one shared informer factory. Same here:
a ``ControllerSpec`` names a controller and its ``factory``; ``ControllerManager.run`` builds
every enabled controller from the ``ControllerContext`` (so each registers its handlers on the
``SharedInformers`` first), then starts the informers once, then runs each controller in its
own thread until ``stop``.

The plug point for controllers written elsewhere (route, service) is ``ControllerFactory``: a
callable taking the ``ControllerContext`` and returning something with ``run(stop)``, or None
when the controller decides not to start (upstream's ``enabled=false``: it logs why). What the
manager does not decide: what a controller does, and whether this process leads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from osk8s_ccm.ccm_metrics import CcmMetrics
from osk8s_ccm.options import CcmOptions
from osk8s_core.k8s.clock import Clock
from osk8s_core.k8s.events import EventRecorder
from osk8s_core.k8s.informer import Informer, InformerSettings
from osk8s_core.k8s.listwatch import ApiListWatch

if TYPE_CHECKING:
    from kubernetes.client import ApiClient, CoreV1Api

    from osk8s_ccm.instances import InstancesV2
    from osk8s_ccm.nova_neutron import NovaNeutron
    from osk8s_core.config import CloudConfig
    from osk8s_core.openstack.client import OpenStackClient


class Runnable(Protocol):
    """A started controller: ``run`` blocks until ``stop`` and has ended its threads."""

    def run(self, stop: threading.Event) -> None: ...


class SharedInformers:
    """One informer per collection for every controller (client-go's shared factory).

    Ask for an informer (``nodes()``, ``services()``, ``informer(name, list_fn)``) while
    building controllers; ``start`` then runs each once. Asking after ``start`` is an error:
    its handlers would miss the first list.
    """

    def __init__(self, core: CoreV1Api, *, clock: Clock, resync: float = 0.0) -> None:
        self._core = core
        self._clock = clock
        self._settings = InformerSettings(resync_period=resync)
        self._informers: dict[str, Informer] = {}
        self._started = False
        self._lock = threading.Lock()

    def informer(self, name: str, list_fn: Callable[..., Any]) -> Informer:
        with self._lock:
            found = self._informers.get(name)
            if found is not None:
                return found
            if self._started:
                raise RuntimeError(f"informer {name!r} requested after the informers started")
            informer = Informer(
                ApiListWatch(list_fn, description=name),
                name=name,
                clock=self._clock,
                settings=self._settings,
            )
            self._informers[name] = informer
            return informer

    def nodes(self) -> Informer:
        return self.informer("nodes", self._core.list_node)

    def services(self) -> Informer:
        return self.informer("services", self._core.list_service_for_all_namespaces)

    def start(self, stop: threading.Event) -> list[threading.Thread]:
        with self._lock:
            self._started = True
            informers = list(self._informers.values())
        return [informer.start(stop) for informer in informers]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._informers)


@dataclass(frozen=True)
class ControllerContext:
    """What every controller may use; built once per process in ``app``."""

    options: CcmOptions
    cloud_config: CloudConfig
    """The loaded cloud.conf ([LoadBalancer], [LoadBalancerClass], [Route], [Networking]...)."""
    openstack: OpenStackClient[Any]
    """The instrumented OpenStack client (every call through it: metrics, retries)."""
    nova_neutron: NovaNeutron
    """Servers, ports, networks and the flavor cache spanning syncs."""
    instances: InstancesV2
    kube: ApiClient
    core: CoreV1Api
    informers: SharedInformers
    metrics: CcmMetrics
    recorder: Callable[[str], EventRecorder]
    """An event recorder writing as the given component (one per component, cached)."""
    clock: Clock
    logger: Any = None


ControllerFactory = Callable[[ControllerContext], Runnable | None]


@dataclass(frozen=True)
class ControllerSpec:
    name: str
    """The short name ``--controllers`` uses (``cloud-node``, ``route``...)."""
    factory: ControllerFactory | None
    unavailable: str = ""
    """Why there is no factory (None): reported when the controller is enabled."""
    required: bool = False
    """An unavailable required controller stops the process instead of a warning."""


class ControllerUnavailable(RuntimeError):
    """An enabled controller that this build cannot run (and may not skip)."""


class ControllerCrashed(RuntimeError):
    """A controller's ``run`` raised; the term ended for every controller."""


@dataclass
class ControllerManager:
    """Builds and runs the enabled controllers; one ``run`` per leadership term."""

    specs: Sequence[ControllerSpec]
    enabled: Sequence[str]
    logger: Any = None
    started: list[str] = field(default_factory=list)
    """Names of the controllers the last ``run`` started (observability, tests)."""

    def __post_init__(self) -> None:
        self._log = self.logger or structlog.get_logger("osk8s.ccm.manager")

    def check(self) -> list[str]:
        """Warnings for enabled controllers not in this build; raises for required ones."""
        warnings = []
        for spec in self.specs:
            if spec.name not in self.enabled or spec.factory is not None:
                continue
            message = f"controller {spec.name!r} is not available: {spec.unavailable}"
            if spec.required:
                raise ControllerUnavailable(message)
            warnings.append(message)
        return warnings

    def run(self, context: ControllerContext, stop: threading.Event) -> None:
        """Blocks until ``stop``; every thread it started has ended when it returns.

        A controller that crashes ends the term for all: the others are stopped and
        ``ControllerCrashed`` is raised, so the leader elector gives the lease up.
        """
        runnables: list[tuple[str, Runnable]] = []
        self.started = []
        for spec in self.specs:
            if spec.name not in self.enabled:
                self._log.info("controller disabled", controller=spec.name)
                continue
            if spec.factory is None:
                self._log.warning(
                    "controller not available", controller=spec.name, reason=spec.unavailable
                )
                continue
            runnable = spec.factory(context)
            if runnable is None:
                self._log.info("controller not started", controller=spec.name)
                continue
            runnables.append((spec.name, runnable))
        term = threading.Event()
        crashed: list[str] = []
        threads = context.informers.start(term)
        for name, runnable in runnables:
            threads.append(self._start(name, runnable, term, crashed))
            self.started.append(name)
            self._log.info("started controller", controller=name)
        while not stop.wait(0.2) and not crashed:
            pass
        term.set()
        for thread in threads:
            thread.join()
        if crashed:
            raise ControllerCrashed(f"controller {crashed[0]!r} crashed")

    def _start(
        self, name: str, runnable: Runnable, term: threading.Event, crashed: list[str]
    ) -> threading.Thread:
        def body() -> None:
            try:
                runnable.run(term)
            except Exception:
                # Upstream a panicking controller ends the process; here it ends the term.
                self._log.exception("controller crashed; stopping", controller=name)
                crashed.append(name)

        thread = threading.Thread(target=body, name=f"controller-{name}", daemon=True)
        thread.start()
        return thread
