"""The ``route`` controller: k8s.io/cloud-provider's route controller over CPO's Routes (§1.5).

Every ``--route-reconciliation-period`` (non-sliding: the period runs from the start of one
pass to the start of the next, the first pass at once) and only once the shared Node
informer has synced, one pass over the informer's cache (no Node LIST per pass):
``RouteReconciler`` changes the router with one update per direction, a node whose route
could not be created gets upstream's Warning ``FailedToCreateRoute``, and every node with a
pod CIDR gets its ``NetworkUnavailable`` condition (cleared once its routes exist). A failed
pass is logged and retried by the next one, as upstream's ``Couldn't reconcile node routes``.

``build_route_controller`` decides, as upstream's ``startRouteController`` and CPO's
``Routes()`` do, whether the controller runs: ``--allocate-node-cidrs`` and
``--configure-cloud-routes`` both set, ``[Route] router-id`` set, Neutron offering
``extraroute`` or ``extraroute-atomic``; then ``--cluster-cidr`` must parse. What it must not
do: lead, serve, or own the informer (the manager starts the shared informers).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

import structlog

from osk8s_ccm.node_init import Recorder
from osk8s_ccm.route_condition import NodeStatusApi, write_conditions
from osk8s_ccm.routes import (
    ATOMIC,
    EXTRAROUTE,
    Network,
    NeutronRoutes,
    PassResult,
    RouteReconciler,
    RouteUpdateFailed,
    node_from_k8s,
    parse_cidrs,
)
from osk8s_core import errors
from osk8s_core.k8s.clock import Clock
from osk8s_core.k8s.events import ObjectRef

if TYPE_CHECKING:
    from osk8s_ccm.nova_neutron import NovaNeutron
    from osk8s_core.config import CloudConfig

# The component upstream's route controller records its events as.
COMPONENT: Final = "route_controller"
FAILED_TO_CREATE_ROUTE: Final = "FailedToCreateRoute"


@dataclass(frozen=True)
class RouteSettings:
    router_id: str
    """``[Route] router-id``: the Neutron router carrying the pod CIDR routes."""
    cluster_cidrs: tuple[Network, ...]
    """``--cluster-cidr`` (comma-separated): routes are made and removed only inside it."""
    period: float = 10.0
    """``--route-reconciliation-period`` in seconds (upstream default 10s)."""


class NodeCache(Protocol):
    """The shared Node informer as the controller reads it."""

    def wait_for_sync(self, timeout: float | None = None) -> bool: ...

    @property
    def store(self) -> NodeObjects: ...


class NodeObjects(Protocol):
    def objects(self) -> list[Mapping[str, Any]]: ...


class RouteController:
    """Runs routes passes over the Node cache; built by the caller with its collaborators."""

    def __init__(
        self,
        *,
        api: NodeStatusApi,
        nodes: NodeCache,
        reconciler: RouteReconciler,
        settings: RouteSettings,
        recorder: Recorder,
        clock: Clock,
        logger: Any = None,
    ) -> None:
        self._api = api
        self._nodes = nodes
        self._reconciler = reconciler
        self._settings = settings
        self._recorder = recorder
        self._clock = clock
        self._log = logger or structlog.get_logger("osk8s.ccm.route")

    def run(self, stop: threading.Event) -> None:
        """Blocks until ``stop``: waits for the Node cache, then a pass every period."""
        self._log.info("waiting for caches to sync", controller="route")
        while not self._nodes.wait_for_sync(0.1):
            if stop.is_set():
                return
        while not stop.is_set():
            started = self._clock.monotonic()
            try:
                self.reconcile()
            except Exception as exc:
                self._log.error("couldn't reconcile node routes", error=str(exc))
            left = self._settings.period - (self._clock.monotonic() - started)
            if left > 0 and self._clock.wait(stop, left):
                return

    def reconcile(self) -> PassResult:
        """One pass over the cached Nodes; ``RouteUpdateFailed`` after its events and
        conditions when the router update failed."""
        nodes = self._nodes.store.objects()
        started = self._clock.monotonic()
        try:
            result = self._reconciler.reconcile([node_from_k8s(n) for n in nodes])
        except RouteUpdateFailed as failed:
            self._report(failed, nodes, self._clock.monotonic() - started)
            write_conditions(self._api, nodes, failed.result.routed_nodes, now=self._clock.now())
            raise
        for route in result.added:
            self._log.info("created route", destination=route.destination, nexthop=route.nexthop)
        for route in result.removed:
            self._log.info("deleted route", destination=route.destination, nexthop=route.nexthop)
        write_conditions(self._api, nodes, result.routed_nodes, now=self._clock.now())
        return result

    def _report(
        self, failed: RouteUpdateFailed, nodes: Sequence[Mapping[str, Any]], took: float
    ) -> None:
        uids = {
            str((n.get("metadata") or {}).get("name", "")): str(
                (n.get("metadata") or {}).get("uid", "")
            )
            for n in nodes
        }
        cause = failed.__cause__ or failed
        for route, node in sorted(failed.failed_adds.items()):
            # Upstream's message; its name hint is the node's UID, and its event reference
            # carries the node's name as UID (kept as is for parity).
            message = (
                f"Could not create route {uids.get(node, '')} {route.destination} "
                f"for node {node} after {took:.3f}s: {cause}"
            )
            ref = ObjectRef(kind="Node", name=node, uid=node)
            self._recorder.warning(ref, FAILED_TO_CREATE_ROUTE, message)


class RouteContext(Protocol):
    """What ``build_route_controller`` reads of the manager's controller context."""

    @property
    def options(self) -> RouteOptionsView: ...
    @property
    def cloud_config(self) -> CloudConfig: ...
    @property
    def nova_neutron(self) -> NovaNeutron: ...
    @property
    def core(self) -> Any: ...
    @property
    def informers(self) -> Any: ...
    @property
    def recorder(self) -> Callable[[str], Recorder]: ...
    @property
    def clock(self) -> Clock: ...


class RouteOptionsView(Protocol):
    @property
    def routes_wanted(self) -> bool: ...
    @property
    def cluster_cidr(self) -> str: ...
    @property
    def periods(self) -> Any: ...


def build_route_controller(context: RouteContext, logger: Any = None) -> RouteController | None:
    """The ``route`` controller factory: None (logged) when upstream would not start it."""
    log = logger or structlog.get_logger("osk8s.ccm.route")
    options = context.options
    if not options.routes_wanted:
        log.info(
            "will not configure cloud provider routes: needs --allocate-node-cidrs and "
            "--configure-cloud-routes"
        )
        return None
    router_id = context.cloud_config.route.router_id
    if not router_id:
        log.warning(
            "configure-cloud-routes is set, but cloud provider does not support routes "
            "(no [Route] router-id); will not configure cloud provider routes"
        )
        return None
    found = context.nova_neutron.networking.extensions()
    if ATOMIC not in found and EXTRAROUTE not in found:
        log.warning(
            "Neutron extraroute extension not found, required for Routes support; "
            "will not configure cloud provider routes"
        )
        return None
    clusters = parse_cidrs(options.cluster_cidr.split(","))
    if not clusters:
        raise errors.ConfigError("the route controller needs --cluster-cidr")
    settings = RouteSettings(
        router_id=router_id,
        cluster_cidrs=clusters,
        period=float(options.periods.route_reconciliation),
    )
    cloud = context.nova_neutron
    reconciler = RouteReconciler(
        NeutronRoutes(cloud.networking, cloud.ports),
        router_id,
        clusters,
        _extensions=set(found),
    )
    return RouteController(
        api=context.core,
        nodes=context.informers.nodes(),
        reconciler=reconciler,
        settings=settings,
        recorder=context.recorder(COMPONENT),
        clock=context.clock,
        logger=log,
    )
