"""The route diff (pure) and the reconciler's order of calls over a small in-memory router."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from osk8s_ccm.routes import (
    ADDRESS_PAIRS,
    ATOMIC,
    EXTRAROUTE,
    NodeRoutes,
    PortPairs,
    Route,
    RouteReconciler,
    RouteUpdateFailed,
    node_from_k8s,
    parse_cidrs,
    plan_routes,
)
from osk8s_core import errors

CLUSTER = parse_cidrs(["10.244.0.0/16", "fd00:10:244::/56"])


def n(name: str, cidrs: Sequence[str], ips: Sequence[str]) -> NodeRoutes:
    return NodeRoutes(name, tuple(cidrs), tuple(ips))


def test_desired_routes_use_the_internal_ip_of_the_cidr_family() -> None:
    node = n("a", ["10.244.1.0/24", "fd00:10:244:1::/64"], ["fd00::5", "10.0.0.5", "10.0.0.6"])
    plan = plan_routes([node], [], CLUSTER)
    assert plan.add == (
        Route("10.244.1.0/24", "10.0.0.5"),
        Route("fd00:10:244:1::/64", "fd00::5"),
    )
    assert plan.remove == ()
    assert plan.routed_nodes == {"a"}


def test_pod_cidr_outside_cluster_cidr_or_without_address_gets_no_route() -> None:
    nodes = [n("a", ["10.99.0.0/24"], ["10.0.0.5"]), n("b", ["10.244.2.0/24"], ["fd00::6"])]
    plan = plan_routes(nodes, [], CLUSTER)
    assert plan.add == ()
    assert plan.routed_nodes == frozenset()


def test_only_owned_routes_are_removed() -> None:
    current = [
        Route("10.244.1.0/24", "10.0.0.5"),  # node a: kept
        Route("10.244.7.0/24", "10.0.0.5"),  # stale, next hop node a: ours, removed
        Route("10.245.0.0/24", "10.0.0.5"),  # outside cluster CIDR: not ours
        Route("10.244.9.0/24", "10.0.0.99"),  # inside, next hop no node of ours: blackhole, kept
        Route("0.0.0.0/0", "10.0.0.1"),  # manual default route
    ]
    plan = plan_routes([n("a", ["10.244.1.0/24"], ["10.0.0.5"])], current, CLUSTER)
    assert plan.add == ()
    assert plan.remove == (Route("10.244.7.0/24", "10.0.0.5"),)
    assert plan.blackholes == (Route("10.244.9.0/24", "10.0.0.99"),)
    assert plan.owned == {Route("10.244.1.0/24", "10.0.0.5")}


def test_deleted_node_route_is_removed_through_the_ledger_only() -> None:
    gone = Route("10.244.2.0/24", "10.0.0.6")
    nodes = [n("a", ["10.244.1.0/24"], ["10.0.0.5"])]
    current = [Route("10.244.1.0/24", "10.0.0.5"), gone]
    remembered = plan_routes(nodes, current, CLUSTER, frozenset({gone}))
    assert remembered.remove == (gone,)
    assert remembered.blackholes == (gone,)
    assert gone not in remembered.owned
    # After a restart the ledger is empty: reported, never removed.
    forgotten = plan_routes(nodes, current, CLUSTER)
    assert forgotten.remove == ()
    assert forgotten.blackholes == (gone,)


def test_node_from_k8s_reads_pod_cidrs_and_internal_ips() -> None:
    node = {
        "metadata": {"name": "a"},
        "spec": {"podCIDR": "10.244.1.0/24"},
        "status": {
            "addresses": [
                {"type": "ExternalIP", "address": "203.0.113.5"},
                {"type": "InternalIP", "address": "10.0.0.5"},
            ]
        },
    }
    assert node_from_k8s(node) == n("a", ["10.244.1.0/24"], ["10.0.0.5"])
    dual = {"metadata": {"name": "b"}, "spec": {"podCIDRs": ["10.244.2.0/24", "fd00::/64"]}}
    assert node_from_k8s(dual).pod_cidrs == ("10.244.2.0/24", "fd00::/64")


def test_bad_cluster_cidr_is_a_config_error() -> None:
    with pytest.raises(errors.ConfigError, match="cluster-cidr"):
        parse_cidrs(["10.244.0.0/33"])


class FakeRouter:
    """A router with routes, a revision and ports; records the calls in order."""

    def __init__(self, exts: set[str], ports: Sequence[PortPairs] = ()) -> None:
        self.exts = exts
        self.routes: list[Route] = []
        self.revision = 1
        self.ports = {p.id: p for p in ports}
        self.calls: list[str] = []
        self.fail_update: Exception | None = None
        self.conflicts = 0

    def extensions(self) -> set[str]:
        return set(self.exts)

    def router_routes(self, router_id: str) -> tuple[list[Route], int | None]:
        self.calls.append("get")
        return list(self.routes), self.revision

    def _fail(self) -> None:
        if self.fail_update is not None:
            raise self.fail_update

    def add_routes(self, router_id: str, routes: Sequence[Route]) -> None:
        self.calls.append("add")
        self._fail()
        self.routes += [r for r in routes if r not in self.routes]

    def remove_routes(self, router_id: str, routes: Sequence[Route]) -> None:
        self.calls.append("remove")
        self.routes = [r for r in self.routes if r not in routes]

    def replace_routes(self, router_id: str, routes: Sequence[Route], revision: int | None) -> None:
        self.calls.append("put")
        if self.conflicts:
            self.conflicts -= 1
            self.routes.append(Route("10.245.9.0/24", "10.0.0.50"))  # another writer's route
            self.revision += 1
        if revision != self.revision:
            raise errors.Conflict("revision mismatch")
        self.routes = list(routes)
        self.revision += 1

    def router_ports(self, router_id: str) -> list[PortPairs]:
        self.calls.append("ports")
        return list(self.ports.values())

    def set_pairs(self, port_id: str, pairs: Sequence[Mapping[str, str]]) -> None:
        self.calls.append(f"pairs:{port_id}")
        old = self.ports[port_id]
        self.ports[port_id] = PortPairs(old.id, old.fixed_ips, old.port_security, tuple(pairs))


def ports() -> list[PortPairs]:
    return [
        PortPairs("p1", ("10.0.0.5",), True, ()),
        PortPairs("p2", ("10.0.0.6",), True, ()),
        PortPairs("p3", ("10.0.0.7",), False, ()),  # port security off: no pair needed
    ]


NODES = [
    n("a", ["10.244.1.0/24"], ["10.0.0.5"]),
    n("b", ["10.244.2.0/24"], ["10.0.0.6"]),
    n("c", ["10.244.3.0/24"], ["10.0.0.7"]),
]


def test_atomic_pass_is_pairs_then_one_add() -> None:
    router = FakeRouter({ATOMIC, EXTRAROUTE, ADDRESS_PAIRS}, ports())
    result = RouteReconciler(router, "r", CLUSTER).reconcile(NODES)
    assert router.calls == ["get", "ports", "pairs:p1", "pairs:p2", "add"]
    assert len(result.added) == 3
    assert router.ports["p1"].pairs == ({"ip_address": "10.244.1.0/24"},)
    assert router.ports["p3"].pairs == ()


def test_failed_add_rolls_back_the_pairs() -> None:
    router = FakeRouter({ATOMIC, ADDRESS_PAIRS}, ports())
    router.ports["p1"] = PortPairs("p1", ("10.0.0.5",), True, ({"ip_address": "192.0.2.1"},))
    router.fail_update = errors.ServerError("boom")
    with pytest.raises(RouteUpdateFailed) as failed:
        RouteReconciler(router, "r", CLUSTER).reconcile(NODES)
    assert isinstance(failed.value.__cause__, errors.ServerError)
    assert router.ports["p1"].pairs == ({"ip_address": "192.0.2.1"},)
    assert router.ports["p2"].pairs == ()
    assert router.calls[-2:] == ["pairs:p2", "pairs:p1"]  # undone newest first
    # What the controller turns into FailedToCreateRoute events and conditions.
    assert failed.value.failed_adds == {
        Route("10.244.1.0/24", "10.0.0.5"): "a",
        Route("10.244.2.0/24", "10.0.0.6"): "b",
        Route("10.244.3.0/24", "10.0.0.7"): "c",
    }
    assert failed.value.result.routed_nodes == frozenset()


def test_failed_add_leaves_routed_nodes_routed() -> None:
    router = FakeRouter({ATOMIC})
    rec = RouteReconciler(router, "r", CLUSTER)
    rec.reconcile(NODES[:1])
    router.fail_update = errors.ServerError("boom")
    with pytest.raises(RouteUpdateFailed) as failed:
        rec.reconcile(NODES)
    assert failed.value.result.routed_nodes == {"a"}
    assert set(failed.value.failed_adds.values()) == {"b", "c"}


class FailingRemoval(FakeRouter):
    def remove_routes(self, router_id: str, routes: Sequence[Route]) -> None:
        self.calls.append("remove")
        raise errors.ServerError("boom")


def test_failed_removal_after_adds_keeps_the_routes_owned() -> None:
    router = FailingRemoval({ATOMIC})
    rec = RouteReconciler(router, "r", CLUSTER)
    rec.reconcile(NODES[1:2])
    gone = Route("10.244.2.0/24", "10.0.0.6")
    with pytest.raises(RouteUpdateFailed) as failed:
        rec.reconcile(NODES[:1])  # adds a's route, b is deleted
    assert failed.value.failed_adds == {}
    assert failed.value.result.added == (Route("10.244.1.0/24", "10.0.0.5"),)
    assert failed.value.result.routed_nodes == {"a"}
    assert gone in rec.ledger
    router.calls.clear()
    with pytest.raises(RouteUpdateFailed):  # the next pass tries the removal again
        rec.reconcile(NODES[:1])
    assert router.calls == ["get", "remove"]


def test_removal_takes_the_pair_away_after_the_route() -> None:
    router = FakeRouter({ATOMIC, ADDRESS_PAIRS}, ports())
    rec = RouteReconciler(router, "r", CLUSTER)
    rec.reconcile(NODES)
    router.calls.clear()
    result = rec.reconcile(NODES[:1])
    assert result.removed == (
        Route("10.244.2.0/24", "10.0.0.6"),
        Route("10.244.3.0/24", "10.0.0.7"),
    )
    assert router.calls == ["get", "remove", "ports", "pairs:p2"]
    assert router.ports["p2"].pairs == ()
    assert router.routes == [Route("10.244.1.0/24", "10.0.0.5")]


def test_quiet_pass_only_reads() -> None:
    router = FakeRouter({ATOMIC}, ports())
    rec = RouteReconciler(router, "r", CLUSTER)
    rec.reconcile(NODES)
    router.calls.clear()
    assert rec.reconcile(NODES).added == ()
    assert router.calls == ["get"]


def test_guarded_write_rereads_on_conflict_and_keeps_the_other_writer() -> None:
    router = FakeRouter({EXTRAROUTE})
    router.conflicts = 1
    RouteReconciler(router, "r", CLUSTER).reconcile(NODES[:1])
    assert router.calls == ["get", "put", "get", "put"]
    assert set(router.routes) == {
        Route("10.244.1.0/24", "10.0.0.5"),
        Route("10.245.9.0/24", "10.0.0.50"),
    }


def test_guarded_write_gives_up_after_repeated_conflicts() -> None:
    router = FakeRouter({EXTRAROUTE})
    router.conflicts = 100
    with pytest.raises(RouteUpdateFailed) as failed:
        RouteReconciler(router, "r", CLUSTER).reconcile(NODES[:1])
    assert isinstance(failed.value.__cause__, errors.Conflict)
    assert router.calls.count("put") == 5


def test_router_without_extraroute_is_refused() -> None:
    with pytest.raises(errors.ConfigError, match="extraroute"):
        RouteReconciler(FakeRouter({ADDRESS_PAIRS}), "r", CLUSTER).reconcile(NODES)


class Warnings:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []

    def warning(self, event: str, **fields: str) -> None:
        self.seen.append((event, fields))


def test_blackholes_are_reported_and_left_while_a_port_holds_the_next_hop() -> None:
    router = FakeRouter({ATOMIC}, [PortPairs("px", ("10.0.0.99",), True, ())])
    router.routes = [Route("10.244.9.0/24", "10.0.0.99")]  # another machine's, say
    log = Warnings()
    rec = RouteReconciler(router, "r", CLUSTER, log=log)
    result = rec.reconcile(NODES[:1])
    assert result.blackholes == (Route("10.244.9.0/24", "10.0.0.99"),)
    assert log.seen == [
        ("blackhole route", {"destination": "10.244.9.0/24", "nexthop": "10.0.0.99"})
    ]
    assert Route("10.244.9.0/24", "10.0.0.99") in router.routes
    assert "remove" not in router.calls
    assert router.calls.count("ports") == 1
    router.calls.clear()
    rec.reconcile(NODES[:1])  # looked up once: a quiet pass only reads the router
    assert router.calls == ["get"]


def test_after_a_restart_a_route_whose_next_hop_no_port_holds_is_removed() -> None:
    # A node deleted while no controller ran (its server gone with it): the new process's
    # ledger is empty, yet the dead route goes; a foreign route held by a port stays, and
    # routes outside the cluster CIDR are never looked at.
    router = FakeRouter({ATOMIC}, [PortPairs("px", ("10.0.0.99",), True, ())])
    dead, held = Route("10.244.8.0/24", "10.0.0.42"), Route("10.244.9.0/24", "10.0.0.99")
    outside = Route("10.245.0.0/24", "10.0.0.43")
    router.routes = [dead, held, outside]
    result = RouteReconciler(router, "r", CLUSTER).reconcile([])
    assert result.removed == (dead,)
    assert set(router.routes) == {held, outside}
