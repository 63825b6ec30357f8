"""The ingress reconciler against the real Octavia and Neutron of the test cloud, with Nodes,
Services and Ingresses in the in-memory API server.

One Ingress (hosts, every pathType, a port by name and by number, a default backend) is made
once for the module; the read-only tests look at that one load balancer, then the
mutating tests change it in order (a rule, the nodes) and the last one deletes it and lists
what is left under its names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from openstack.connection import Connection

from osk8s_octavia_ingress import naming
from osk8s_octavia_ingress.desired import IngressError
from osk8s_octavia_ingress.reconciler import IngressReconciler

from .conftest import Builder, Counter, Kube, delete_lbs

pytestmark = pytest.mark.contract

WEB_PORT = 30180
API_PORT = 30181
HOST = "foo.example.com"


def ingress_body(name: str, paths: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    annotations = {"kubernetes.io/ingress.class": "openstack", **extra.pop("annotations", {})}
    body: dict[str, Any] = {
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"rules": [{"host": HOST, "http": {"paths": paths}}], **extra},
    }
    return body


def backend(
    service: str, *, number: int | None = None, port_name: str | None = None
) -> dict[str, Any]:
    port: dict[str, Any] = {"number": number} if number is not None else {"name": port_name}
    return {"service": {"name": service, "port": port}}


SHARED_PATHS = [
    {"path": "/ping", "pathType": "Exact", "backend": backend("web", number=80)},
    {"path": "/api", "pathType": "Prefix", "backend": backend("api", port_name="http-api")},
    {"path": "/static", "pathType": "ImplementationSpecific", "backend": backend("web", number=80)},
    {"path": "/api/v2/", "pathType": "Prefix", "backend": backend("web", number=80)},
]


P = "octavia.ingress.kubernetes.io/"
# Distinct values, so a timeout set on the wrong listener attribute is seen.
TIMEOUTS = {
    P + "timeout-client-data": "51000",
    P + "timeout-member-data": "52000",
    P + "timeout-member-connect": "5300",
    P + "timeout-tcp-inspect": "540",
}


@dataclass
class Shared:
    reconciler: IngressReconciler
    counter: Counter
    cluster: str
    name: str
    lb: Any

    @property
    def resource(self) -> str:
        return naming.resource_name(self.cluster, "default", self.name)


@pytest.fixture(scope="module")
def shared(kube: Kube, make_reconciler: Builder, ingress_conn: Connection) -> Iterator[Shared]:
    kube.node("node-a", "10.20.0.11")
    kube.node("node-b", "10.20.0.12")
    kube.node("node-down", "10.20.0.13", ready=False)
    kube.service("web", [{"name": "http", "port": 80, "nodePort": WEB_PORT}])
    kube.service("api", [{"name": "http-api", "port": 8080, "nodePort": API_PORT}])
    cluster = f"t{hashlib.sha256(str(id(kube)).encode()).hexdigest()[:8]}"
    reconciler, counter = make_reconciler(cluster)
    body = ingress_body(
        "shared", SHARED_PATHS, defaultBackend=backend("web", number=80), annotations=TIMEOUTS
    )
    kube.net.create_namespaced_ingress("default", body)
    lb_api: Any = ingress_conn.load_balancer
    resource = naming.resource_name(cluster, "default", "shared")
    try:
        outcome = reconciler.sync("default/shared")
        assert outcome.action == "ensured"
        lb = next(iter(lb_api.load_balancers(name=resource)))
        yield Shared(reconciler, counter, cluster, "shared", lb)
    finally:
        delete_lbs(ingress_conn, resource)


def policies_of(conn: Connection, listener_id: str) -> list[Any]:
    lb_api: Any = conn.load_balancer
    return sorted(lb_api.l7_policies(listener_id=listener_id), key=lambda p: p.position)


def rules_of(conn: Connection, policy_id: str) -> set[tuple[str, str, str]]:
    lb_api: Any = conn.load_balancer
    return {(r.type, r.compare_type, r.rule_value) for r in lb_api.l7_rules(policy_id)}


def test_lb_listener_and_pools_carry_upstream_names(
    shared: Shared, ingress_conn: Connection, kube: Kube
) -> None:
    lb_api: Any = ingress_conn.load_balancer
    lb = lb_api.get_load_balancer(shared.lb.id)
    ingress: Any = kube.net.read_namespaced_ingress("shared", "default")
    assert lb.name == f"kube_ingress_{shared.cluster}_default_shared"
    assert lb.description == (
        f"Kubernetes Ingress shared in namespace default from cluster {shared.cluster}, "
        f"version: {ingress.metadata.resource_version}"
    )
    listeners = list(lb_api.listeners(load_balancer_id=lb.id))
    assert [(li.name, li.protocol, li.protocol_port) for li in listeners] == [
        (shared.resource, "HTTP", 80)
    ]
    # The four timeout annotations, each on its own listener attribute.
    listener = listeners[0]
    assert (
        listener.timeout_client_data,
        listener.timeout_member_data,
        listener.timeout_member_connect,
        listener.timeout_tcp_inspect,
    ) == (51000, 52000, 5300, 540)
    assert listener.allowed_cidrs in (None, ["0.0.0.0/0"])
    pools = {p.name: p for p in lb_api.pools(loadbalancer_id=lb.id)}
    web = hashlib.sha256(b"web+80").hexdigest()
    api = hashlib.sha256(b"api+http-api").hexdigest()
    assert set(pools) == {web, api}
    assert listeners[0].default_pool_id == pools[web].id
    for pool_name, port in ((web, WEB_PORT), (api, API_PORT)):
        assert pools[pool_name].protocol == "HTTP"
        assert pools[pool_name].lb_algorithm == "ROUND_ROBIN"
        members = {
            (m.name, m.address, m.protocol_port) for m in lb_api.members(pools[pool_name].id)
        }
        # The NotReady node is left out, as CPO does.
        assert members == {("node-a", "10.20.0.11", port), ("node-b", "10.20.0.12", port)}


def test_policies_follow_path_types_in_kubernetes_precedence(
    shared: Shared, ingress_conn: Connection
) -> None:
    lb_api: Any = ingress_conn.load_balancer
    listener = next(iter(lb_api.listeners(load_balancer_id=shared.lb.id)))
    policies = policies_of(ingress_conn, listener.id)
    host_rule = ("HOST_NAME", "REGEX", r"^foo\.example\.com(:80)?$")
    got = [rules_of(ingress_conn, p.id) for p in policies]
    assert got == [
        {host_rule, ("PATH", "EQUAL_TO", "/ping")},
        {host_rule, ("PATH", "REGEX", r"^/api/v2(/.*)?$")},
        {host_rule, ("PATH", "STARTS_WITH", "/static")},
        {host_rule, ("PATH", "REGEX", r"^/api(/.*)?$")},
    ]
    assert [p.position for p in policies] == [1, 2, 3, 4]
    assert {p.action for p in policies} == {"REDIRECT_TO_POOL"}
    assert {p.description for p in policies} == {"Created by kubernetes ingress"}
    pools = {p.id: p.name for p in lb_api.pools(loadbalancer_id=shared.lb.id)}
    assert pools[policies[3].redirect_pool_id] == hashlib.sha256(b"api+http-api").hexdigest()


def test_status_and_event(shared: Shared, kube: Kube, ingress_conn: Connection) -> None:
    ingress: Any = kube.net.read_namespaced_ingress("shared", "default")
    lb_api: Any = ingress_conn.load_balancer
    lb = lb_api.get_load_balancer(shared.lb.id)
    assert [i.ip for i in ingress.status.load_balancer.ingress] == [lb.vip_address]
    events = kube.core.list_namespaced_event("default").items
    updated = [e for e in events if e.reason == "Updated" and e.involved_object.name == "shared"]
    assert updated and updated[0].message == (
        f"Successfully associated IP address {lb.vip_address} to ingress default/shared"
    )
    assert updated[0].type == "Normal"


def test_idle_resync_makes_no_write(shared: Shared) -> None:
    before = shared.counter.all()
    outcome = shared.reconciler.sync("default/shared")
    assert outcome.action == "skipped"
    after = shared.counter.all()
    delta = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert delta == {"loadbalancer_list": 1}
    # The periodic node sync of an unchanged cluster reads but does not write; without
    # manage-security-groups it does not even read Neutron (no port or group lookups).
    before_all = shared.counter.all()
    assert shared.reconciler.sync_members() == 0
    idle = _delta(before_all, shared.counter.all())
    assert idle and all(k.startswith("loadbalancer_") for k in idle), idle
    assert not [k for k in idle if k.endswith(("_create", "_update", "_delete"))], idle


def test_changed_rule_touches_only_that_policy(
    shared: Shared, kube: Kube, ingress_conn: Connection
) -> None:
    lb_api: Any = ingress_conn.load_balancer
    listener = next(iter(lb_api.listeners(load_balancer_id=shared.lb.id)))
    pools_before = {p.name: p.id for p in lb_api.pools(loadbalancer_id=shared.lb.id)}
    members_before = {m.id for pool_id in pools_before.values() for m in lb_api.members(pool_id)}
    kept = {p.name: p.id for p in policies_of(ingress_conn, listener.id)}
    paths = [dict(p) for p in SHARED_PATHS]
    paths[2] = {**paths[2], "path": "/assets"}
    kube.net.patch_namespaced_ingress(
        "shared", "default", {"spec": {"rules": [{"host": HOST, "http": {"paths": paths}}]}}
    )
    before = shared.counter.writes()
    assert shared.reconciler.sync("default/shared").action == "ensured"
    after = shared.counter.writes()
    delta = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    # One policy out, one in with its two rules, the status is unchanged, the LB description
    # gets the new resourceVersion. No pool or member write.
    assert delta == {
        "loadbalancer_l7policy_delete": 1,
        "loadbalancer_l7policy_create": 1,
        "loadbalancer_l7rule_create": 2,
        "loadbalancer_update": 1,
    }
    assert {p.name: p.id for p in lb_api.pools(loadbalancer_id=shared.lb.id)} == pools_before
    assert {m.id for pid in pools_before.values() for m in lb_api.members(pid)} == members_before
    now = {p.name: p.id for p in policies_of(ingress_conn, listener.id)}
    assert len(set(now.items()) & set(kept.items())) == 3
    got = [rules_of(ingress_conn, p.id) for p in policies_of(ingress_conn, listener.id)]
    assert ("PATH", "STARTS_WITH", "/assets") in got[2]


def test_nodes_follow_in_the_node_sync(
    shared: Shared, kube: Kube, ingress_conn: Connection
) -> None:
    lb_api: Any = ingress_conn.load_balancer
    kube.node("node-c", "10.20.0.14")
    assert shared.reconciler.sync_members() == 2  # one batch member update per pool
    pools = list(lb_api.pools(loadbalancer_id=shared.lb.id))
    for pool in pools:
        assert "10.20.0.14" in {m.address for m in lb_api.members(pool.id)}
    kube.core.delete_node("node-c")
    kube.core.patch_node("node-b", {"spec": {"unschedulable": True}})
    assert shared.reconciler.sync_members() == 2
    for pool in pools:
        assert {m.address for m in lb_api.members(pool.id)} == {"10.20.0.11"}
    kube.core.patch_node("node-b", {"spec": {"unschedulable": False}})
    assert shared.reconciler.sync_members() == 2


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def test_whitelist_and_timeout_change_update_the_listener_in_place(
    shared: Shared, kube: Kube, ingress_conn: Connection
) -> None:
    lb_api: Any = ingress_conn.load_balancer
    (listener,) = lb_api.listeners(load_balancer_id=shared.lb.id)
    kube.net.patch_namespaced_ingress(
        "shared",
        "default",
        {
            "metadata": {
                "annotations": {
                    P + "whitelist-source-range": "10.1.0.0/16,10.2.0.0/16",
                    P + "timeout-member-connect": "5400",
                }
            }
        },
    )
    before = shared.counter.writes()
    assert shared.reconciler.sync("default/shared").action == "ensured"
    assert _delta(before, shared.counter.writes()) == {
        "loadbalancer_listener_update": 1,
        "loadbalancer_update": 1,
    }
    (now,) = lb_api.listeners(load_balancer_id=shared.lb.id)
    assert now.id == listener.id
    assert sorted(now.allowed_cidrs) == ["10.1.0.0/16", "10.2.0.0/16"]
    assert (now.timeout_member_connect, now.timeout_member_data) == (5400, 52000)


def _pools(conn: Connection, lb_id: str) -> dict[str, tuple[str, frozenset[Any]]]:
    """Pool name → (id, its members as (id, address, port))."""
    lb_api: Any = conn.load_balancer
    return {
        p.name: (p.id, frozenset((m.id, m.address, m.protocol_port) for m in lb_api.members(p.id)))
        for p in lb_api.pools(loadbalancer_id=lb_id)
    }


def test_backend_changes_touch_only_the_differing_objects(
    shared: Shared, kube: Kube, ingress_conn: Connection
) -> None:
    """Beyond CPO (#1417): a path moved to another Service adds that pool and repoints one
    policy; a NodePort change replaces that pool's members only; a backend no longer used
    loses its pool. Unchanged pools keep their ids and their members' ids throughout."""
    lb_api: Any = ingress_conn.load_balancer
    (listener,) = lb_api.listeners(load_balancer_id=shared.lb.id)
    web = hashlib.sha256(b"web+80").hexdigest()
    api = hashlib.sha256(b"api+http-api").hexdigest()
    alt = hashlib.sha256(b"alt+80").hexdigest()
    start = _pools(ingress_conn, shared.lb.id)
    assert set(start) == {web, api}
    policies = {p.name: p for p in policies_of(ingress_conn, listener.id)}
    rules = {name: rules_of(ingress_conn, p.id) for name, p in policies.items()}

    # 1. /static (now /assets) moves from web to a new Service alt.
    kube.service("alt", [{"port": 80, "nodePort": 30182}])
    paths = [dict(p) for p in SHARED_PATHS]
    paths[2] = {**paths[2], "path": "/assets", "backend": backend("alt", number=80)}
    kube.net.patch_namespaced_ingress(
        "shared", "default", {"spec": {"rules": [{"host": HOST, "http": {"paths": paths}}]}}
    )
    before = shared.counter.writes()
    assert shared.reconciler.sync("default/shared").action == "ensured"
    assert _delta(before, shared.counter.writes()) == {
        "loadbalancer_pool_create": 1,
        "loadbalancer_member_update": 1,  # the new pool's members, one batch
        "loadbalancer_l7policy_update": 1,  # the moved path's policy repointed
        "loadbalancer_update": 1,
    }
    moved = _pools(ingress_conn, shared.lb.id)
    assert {web: moved[web], api: moved[api]} == start
    assert {(a, p) for _, a, p in moved[alt][1]} == {("10.20.0.11", 30182), ("10.20.0.12", 30182)}
    now = {p.name: p for p in policies_of(ingress_conn, listener.id)}
    assert {n: p.id for n, p in now.items()} == {n: p.id for n, p in policies.items()}
    assert {n: rules_of(ingress_conn, p.id) for n, p in now.items()} == rules
    repointed = [n for n in now if now[n].redirect_pool_id != policies[n].redirect_pool_id]
    assert len(repointed) == 1 and now[repointed[0]].redirect_pool_id == moved[alt][0]

    # 2. The api Service's NodePort changes: the node sync replaces that pool's members only.
    kube.core.patch_namespaced_service(
        "api",
        "default",
        {"spec": {"ports": [{"name": "http-api", "port": 8080, "nodePort": API_PORT + 10}]}},
    )
    before = shared.counter.writes()
    assert shared.reconciler.sync_members() == 1
    assert _delta(before, shared.counter.writes()) == {"loadbalancer_member_update": 1}
    ported = _pools(ingress_conn, shared.lb.id)
    assert ported[api][0] == start[api][0]
    assert {(a, p) for _, a, p in ported[api][1]} == {
        ("10.20.0.11", API_PORT + 10),
        ("10.20.0.12", API_PORT + 10),
    }
    assert {web: ported[web], alt: ported[alt]} == {web: moved[web], alt: moved[alt]}

    # 3. The path to alt removed: its policy and its now unused pool go, nothing else.
    kube.net.patch_namespaced_ingress(
        "shared",
        "default",
        {"spec": {"rules": [{"host": HOST, "http": {"paths": paths[:2] + paths[3:]}}]}},
    )
    before = shared.counter.writes()
    assert shared.reconciler.sync("default/shared").action == "ensured"
    assert _delta(before, shared.counter.writes()) == {
        "loadbalancer_l7policy_delete": 1,
        "loadbalancer_pool_delete": 1,
        "loadbalancer_update": 1,
    }
    assert _pools(ingress_conn, shared.lb.id) == {web: ported[web], api: ported[api]}
    remaining = {p.name: p.id for p in policies_of(ingress_conn, listener.id)}
    assert remaining == {n: now[n].id for n in now if n != repointed[0]}
    assert [p.position for p in policies_of(ingress_conn, listener.id)] == [1, 2, 3]


def test_missing_backend_is_a_warning_event_and_no_lb(
    shared: Shared, kube: Kube, ingress_conn: Connection
) -> None:
    kube.net.create_namespaced_ingress(
        "default",
        ingress_body(
            "broken", [{"path": "/", "pathType": "Prefix", "backend": backend("nope", number=80)}]
        ),
    )
    with pytest.raises(IngressError, match='service "default/nope" not found'):
        shared.reconciler.sync("default/broken")
    events = kube.core.list_namespaced_event("default").items
    failed = [e for e in events if e.involved_object.name == "broken"]
    assert [(e.type, e.reason, e.message) for e in failed] == [
        ("Warning", "Failed", 'service "default/nope" not found')
    ]
    lb_api: Any = ingress_conn.load_balancer
    assert (
        list(lb_api.load_balancers(name=naming.resource_name(shared.cluster, "default", "broken")))
        == []
    )
    kube.net.delete_namespaced_ingress("broken", "default")


def test_delete_leaves_nothing(shared: Shared, kube: Kube, ingress_conn: Connection) -> None:
    kube.net.delete_namespaced_ingress("shared", "default")
    assert shared.reconciler.sync("default/shared").action == "deleted"
    lb_api: Any = ingress_conn.load_balancer
    assert list(lb_api.load_balancers(name=shared.resource)) == []
    assert [
        p for p in lb_api.pools() if p.loadbalancers and p.loadbalancers[0]["id"] == shared.lb.id
    ] == []
    net: Any = ingress_conn.network
    assert list(net.ips(port_id=shared.lb.vip_port_id)) == []
    assert list(net.ports(id=shared.lb.vip_port_id)) == []
    # A second pass finds nothing to do.
    assert shared.reconciler.sync("default/shared").action == "absent"
