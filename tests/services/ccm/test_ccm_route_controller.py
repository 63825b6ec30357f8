"""When the route controller starts (upstream's startRouteController and CPO's Routes()), and
what a pass does with a failed router update, over small fakes of the narrow interfaces."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from osk8s_ccm.route_controller import (
    COMPONENT,
    RouteController,
    RouteSettings,
    build_route_controller,
)
from osk8s_ccm.routes import (
    ATOMIC,
    EXTRAROUTE,
    PortPairs,
    Route,
    RouteReconciler,
    RouteUpdateFailed,
    parse_cidrs,
)
from osk8s_core import errors
from osk8s_core.config import CloudConfig, RouteOptions
from osk8s_core.k8s.events import ObjectRef

CLUSTER = parse_cidrs(["10.244.0.0/16"])


@dataclasses.dataclass(frozen=True)
class Periods:
    route_reconciliation: float = 10.0


@dataclasses.dataclass(frozen=True)
class Options:
    routes_wanted: bool = True
    cluster_cidr: str = "10.244.0.0/16"
    periods: Periods = Periods()


class Networking:
    def __init__(self, exts: set[str]) -> None:
        self.exts = exts
        self.asked = 0

    def extensions(self) -> set[str]:
        self.asked += 1
        return set(self.exts)


@dataclasses.dataclass
class NovaNeutronFake:
    networking: Networking
    ports: Any = None


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def normal(self, ref: ObjectRef, reason: str, message: str) -> None:
        self.seen.append((ref.name, reason, message))

    def warning(self, ref: ObjectRef, reason: str, message: str) -> None:
        self.seen.append((ref.name, reason, message))


class Informers:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def nodes(self) -> Any:
        self.asked.append("nodes")
        return NodeCache([])


@dataclasses.dataclass
class Context:
    options: Options
    cloud_config: CloudConfig
    nova_neutron: Any
    core: Any = None
    informers: Informers = dataclasses.field(default_factory=Informers)
    recorders: list[str] = dataclasses.field(default_factory=list)
    clock: Any = None

    @property
    def recorder(self) -> Callable[[str], Events]:
        def make(component: str) -> Events:
            self.recorders.append(component)
            return Events()

        return make


def context(
    *, router: str = "r-1", exts: Sequence[str] = (ATOMIC,), options: Options = Options()
) -> Context:
    config = CloudConfig(route=RouteOptions(router_id=router))
    return Context(options, config, NovaNeutronFake(Networking(set(exts))))


def test_starts_with_both_flags_a_router_and_an_extension() -> None:
    for exts in ((ATOMIC,), (EXTRAROUTE,)):
        ctx = context(exts=exts)
        assert isinstance(build_route_controller(ctx), RouteController)
        assert ctx.informers.asked == ["nodes"]
        assert ctx.recorders == [COMPONENT]


@pytest.mark.parametrize(
    "ctx",
    [
        context(options=Options(routes_wanted=False)),
        context(router=""),
        context(exts=("allowed-address-pairs",)),
    ],
    ids=["flags", "no-router-id", "no-extraroute"],
)
def test_not_started(ctx: Context) -> None:
    assert build_route_controller(ctx) is None
    assert ctx.informers.asked == []


def test_flags_off_asks_neutron_nothing() -> None:
    ctx = context(options=Options(routes_wanted=False))
    build_route_controller(ctx)
    assert ctx.nova_neutron.networking.asked == 0


def test_cluster_cidr_is_required() -> None:
    with pytest.raises(errors.ConfigError, match="cluster-cidr"):
        build_route_controller(context(options=Options(cluster_cidr="")))
    with pytest.raises(errors.ConfigError, match="cluster-cidr"):
        build_route_controller(context(options=Options(cluster_cidr="10.244.0.0/33")))


# A pass with a failed router update.


class NodeCache:
    def __init__(self, nodes: list[Mapping[str, Any]]) -> None:
        self.nodes = nodes
        self.synced = threading.Event()
        self.synced.set()

    def wait_for_sync(self, timeout: float | None = None) -> bool:
        return self.synced.wait(timeout)

    @property
    def store(self) -> NodeCache:
        return self

    def objects(self) -> list[Mapping[str, Any]]:
        return list(self.nodes)


class BrokenRouter:
    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.fail = True

    def extensions(self) -> set[str]:
        return {ATOMIC}

    def router_routes(self, router_id: str) -> tuple[list[Route], int | None]:
        return list(self.routes), 1

    def add_routes(self, router_id: str, routes: Sequence[Route]) -> None:
        if self.fail:
            raise errors.ServerError("router busy")
        self.routes += routes

    def remove_routes(self, router_id: str, routes: Sequence[Route]) -> None:
        self.routes = [r for r in self.routes if r not in routes]

    def replace_routes(self, router_id: str, routes: Sequence[Route], rev: int | None) -> None:
        raise AssertionError("atomic router")

    def router_ports(self, router_id: str) -> list[PortPairs]:
        return []

    def set_pairs(self, port_id: str, pairs: Sequence[Mapping[str, str]]) -> None:
        raise AssertionError("no pairs")


class StatusApi:
    def __init__(self) -> None:
        self.patches: list[tuple[str, str]] = []

    def patch_node_status(
        self, name: str, body: dict[str, Any], *, _content_type: str | None = None
    ) -> None:
        self.patches.append((name, body["status"]["conditions"][0]["status"]))


class Clock:
    def monotonic(self) -> float:
        return 0.0

    def now(self) -> dt.datetime:
        return dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        return stop.wait(0)


def node(name: str, cidr: str, ip: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "uid": f"uid-{name}"},
        "spec": {"podCIDRs": [cidr]},
        "status": {"addresses": [{"type": "InternalIP", "address": ip}]},
    }


def test_failed_update_records_events_and_conditions_then_next_pass_clears() -> None:
    router = BrokenRouter()
    api, events = StatusApi(), Events()
    controller = RouteController(
        api=api,
        nodes=NodeCache([node("a", "10.244.1.0/24", "10.0.0.5")]),
        reconciler=RouteReconciler(router, "r", CLUSTER),
        settings=RouteSettings("r", CLUSTER),
        recorder=events,
        clock=Clock(),
    )
    with pytest.raises(RouteUpdateFailed):
        controller.reconcile()
    assert events.seen == [
        (
            "a",
            "FailedToCreateRoute",
            "Could not create route uid-a 10.244.1.0/24 for node a after 0.000s: router busy",
        )
    ]
    assert api.patches == [("a", "True")]
    router.fail = False
    controller.reconcile()
    assert api.patches == [("a", "True"), ("a", "False")]
    assert len(events.seen) == 1


def test_run_waits_for_the_cache_and_keeps_going_after_a_failed_pass() -> None:
    router = BrokenRouter()
    cache = NodeCache([node("a", "10.244.1.0/24", "10.0.0.5")])
    cache.synced.clear()
    passes: list[int] = []

    class Counting(RouteReconciler):
        def reconcile(self, nodes: Any) -> Any:
            passes.append(len(nodes))
            if len(passes) >= 3:
                stop.set()
            return super().reconcile(nodes)

    stop = threading.Event()
    controller = RouteController(
        api=StatusApi(),
        nodes=cache,
        reconciler=Counting(router, "r", CLUSTER),
        settings=RouteSettings("r", CLUSTER, period=0.01),
        recorder=Events(),
        clock=Clock(),
    )
    thread = threading.Thread(target=controller.run, args=(stop,))
    thread.start()
    thread.join(0.3)
    assert passes == []  # not synced: no pass
    cache.synced.set()
    thread.join(30)
    assert not thread.is_alive()
    assert passes == [1, 1, 1]  # every pass failed (router busy), the loop went on
