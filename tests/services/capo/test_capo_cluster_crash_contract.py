"""Crash consistency (beyond CAPO): the controller "killed" right after each cloud create
(``<request>.after``: the cloud acted, nothing recorded yet) and restarted converges to
exactly one of every object, with no orphan; deletion then leaves nothing.

Two loops keep the time down (an Octavia LB takes ~20 s to go ACTIVE on the test cloud):
the network/router/security-group/floating-IP creates on a cluster without LB, each round a
fresh cluster; on one LB cluster, the VIP's floating IP (create, associate) and the LB's
children (listener, pool and monitor removed between rounds); the LB create itself once.
Before all that, the finalizer is shown persisted at the first cloud write."""

from __future__ import annotations

import contextlib
import itertools
import time
from typing import Any

import pytest

from osk8s_capo.cluster_controller import FINALIZER
from osk8s_core.crashpoints import CrashPoints
from osk8s_testing.crashpoints import CrashAt, Point, SimulatedCrash, loop_over_crash_points

from .capo_harness import World
from .test_capo_cluster_contract import external_network_id, is_ready

pytestmark = pytest.mark.contract


def _rule_keys(demo: Any, group_ids: list[str]) -> list[tuple[Any, ...]]:
    return [
        (r.security_group_id, r.direction, r.ether_type, r.protocol, r.port_range_min,
         r.port_range_max, r.remote_group_id, r.remote_ip_prefix)
        for gid in group_ids
        for r in demo.network.security_group_rules(security_group_id=gid)
    ]  # fmt: skip


class FirstWrite:
    """Dies at the first cloud write (``<request>.before`` of the first non-idempotent call),
    noting the finalizers the object has in the API server at that moment."""

    def __init__(self, world: World, name: str) -> None:
        self.world, self.name = world, name
        self.request = ""
        self.finalizers: list[str] = []

    def reach(self, name: str) -> None:
        if self.request or not name.endswith(".before"):
            return
        self.request = name
        self.finalizers = list(self.world.osc(self.name)["metadata"].get("finalizers") or [])
        raise SimulatedCrash(name)


def test_network_and_security_group_creates_converge_after_a_crash(world: World, demo: Any) -> None:
    spec = {
        "managedSubnets": [{"cidr": "10.11.0.0/24"}],
        "externalNetwork": {"id": external_network_id(demo)},
        "managedSecurityGroups": {"allowAllInClusterTraffic": True},
    }
    counter = itertools.count()
    current = {"name": ""}

    def fresh() -> None:
        current["name"] = f"crash{next(counter)}"
        world.create_cluster(current["name"], spec)

    def scenario(points: CrashPoints) -> None:
        world.converge(current["name"], reconciler=world.reconciler(points), until=is_ready)

    def verify() -> None:
        found = {k: len(v) for k, v in world.cloud_objects(current["name"]).items()}
        assert found == {
            "networks": 1,
            "subnets": 1,
            "routers": 1,
            "security_groups": 2,
            "floating_ips": 1,  # the no-LB API floating IP
            "load_balancers": 0,
        }
        status = world.osc(current["name"])["status"]
        groups = [status[g]["id"] for g in ("controlPlaneSecurityGroup", "workerSecurityGroup")]
        keys = _rule_keys(demo, groups)
        assert len(keys) == len(set(keys)), "duplicate rules"
        router = status["router"]["id"]
        interfaces = list(demo.network.ports(device_id=router, network_id=status["network"]["id"]))
        assert len(interfaces) == 1

    def reset() -> None:
        world.delete(current["name"])
        assert all(not ids for ids in world.cloud_objects(current["name"]).values())
        fresh()

    fresh()
    # The finalizer is persisted before the first cloud write (CAPI contract, capo.md §1.11).
    first = FirstWrite(world, current["name"])
    with contextlib.suppress(SimulatedCrash):
        world.reconciler(first).reconcile(world.key(current["name"]))
    assert first.request == "network_create.before"
    assert FINALIZER in first.finalizers
    crashed = loop_over_crash_points(
        scenario,
        verify=verify,
        reset=reset,
        select=lambda p: p.name.endswith(".after") and p.occurrence == 1,
    )
    names = {p.name for p in crashed}
    for request in (
        "network_create",
        "subnet_create",
        "router_create",
        "router_update",
        "security_group_create",
        "security_group_rule_create",
        "floating_ip_create",
    ):
        assert f"{request}.after" in names, sorted(names)
    world.delete(current["name"])


def test_load_balancer_creates_converge_after_a_crash(world: World, demo: Any) -> None:
    name = "crashlb"
    world.create_cluster(
        name,
        {
            "managedSubnets": [{"cidr": "10.12.0.0/24"}],
            "externalNetwork": {"id": external_network_id(demo)},
            "apiServer": {"managedLoadBalancer": {}},
        },
    )
    # The LB create itself: killed after Octavia accepted it, before anything was recorded.
    crash = CrashAt(Point("loadbalancer_create.after"))
    with contextlib.suppress(SimulatedCrash):
        world.converge(name, reconciler=world.reconciler(crash), until=is_ready)
    assert crash.crashed
    osc = world.converge(name, until=is_ready)
    assert osc is not None
    lb_id = osc["status"]["apiServerManagedLoadBalancer"]["id"]
    assert len(world.cloud_objects(name)["load_balancers"]) == 1

    def remove_children() -> None:
        lb = demo.load_balancer
        for listener in list(lb.listeners(load_balancer_id=lb_id)):
            for pool in list(lb.pools(loadbalancer_id=lb_id)):
                lb.delete_pool(pool.id)  # takes its health monitor with it
                _wait_active(demo, lb_id)
            lb.delete_listener(listener.id)
            _wait_active(demo, lb_id)

    def scenario(points: CrashPoints) -> None:
        world.converge(name, reconciler=world.reconciler(points), until=is_ready)

    def verify() -> None:
        lb = demo.load_balancer
        assert len(world.cloud_objects(name)["load_balancers"]) == 1
        assert len(list(lb.listeners(load_balancer_id=lb_id))) == 1
        pools = list(lb.pools(loadbalancer_id=lb_id))
        assert len(pools) == 1
        assert len(list(lb.health_monitors(pool_id=pools[0].id))) == 1
        vip_port = lb.get_load_balancer(lb_id).vip_port_id
        assert len(list(demo.network.ips(port_id=vip_port))) == 1
        assert len(world.cloud_objects(name)["floating_ips"]) == 1

    # The VIP's floating IP: created (adopted by description after a crash), written to
    # status, then associated to the VIP. Each round starts with it gone and its status lost.
    vip_port = demo.load_balancer.get_load_balancer(lb_id).vip_port_id

    def remove_floating_ip() -> None:
        for fip in list(demo.network.ips(port_id=vip_port)):
            demo.network.delete_ip(fip.id)
        world.kube.patch_status(
            world.kube_objects_resource(), world.osc(name), {"apiServerManagedLoadBalancer": None}
        )

    remove_floating_ip()
    crashed = loop_over_crash_points(
        scenario,
        verify=verify,
        reset=remove_floating_ip,
        select=lambda p: p.name.endswith(".after") and p.name.startswith("floating_ip_"),
    )
    # Killed after the create, and after the status write but before the (idempotent,
    # so point-less) associate call.
    assert {p.name for p in crashed} == {"floating_ip_create.after", "floating_ip_saved.after"}

    remove_children()
    crashed = loop_over_crash_points(
        scenario,
        verify=verify,
        reset=remove_children,
        select=lambda p: p.name.endswith(".after") and p.name.startswith("loadbalancer_"),
    )
    assert {p.name for p in crashed} == {
        "loadbalancer_listener_create.after",
        "loadbalancer_pool_create.after",
        "loadbalancer_healthmonitor_create.after",
    }
    world.delete(name)
    assert all(not ids for ids in world.cloud_objects(name).values())


def _wait_active(demo: Any, lb_id: str) -> None:
    deadline = time.monotonic() + 120
    while demo.load_balancer.get_load_balancer(lb_id).provisioning_status != "ACTIVE":
        assert time.monotonic() < deadline, "load balancer did not return to ACTIVE"
        time.sleep(0.3)
