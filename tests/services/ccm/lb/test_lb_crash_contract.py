"""Crash consistency (osk8s beyond CPO): EnsureLoadBalancer killed after each create of the
LB tree answered (LB POST, listener, pool, member, monitor, floating IP, security group and
rule; serial mode, so each is its own step) and restarted converges to exactly one LB, one
floating IP, one security group and no orphan listener, pool or monitor. Two loops keep the
CI time down: the LB POST (both modes) with a full reset per round, then every later step on
a kept LB whose children, floating IP and group are reset per round. Annotations the
provider handed over before the kill count as persisted (the controller patches them), so
both "id recorded" and "id lost" restarts are covered: a kill after the LB POST answered but
before the recorder saw the id is the "lost" case.
"""

from __future__ import annotations

from typing import Any

import pytest

from osk8s_ccm import lb_annotations as ann
from osk8s_core.crashpoints import NO_CRASH_POINTS, CrashPoints
from osk8s_testing.crashpoints import Point, loop_over_crash_points

from .conftest import Octavia, Recorder, annotated, node, service

pytestmark = pytest.mark.contract


BASE = service("crash", ("TCP", 80, 30680), annotations={ann.ENABLE_HEALTH_MONITOR: "true"})


def _after_answer(point: Point) -> bool:
    return point.name.endswith(".after")


class CrashWorld:
    def __init__(self, octavia: Octavia, node_ip: str = "192.0.2.51") -> None:
        self.octavia = octavia
        self.persisted = Recorder()
        self.node_ip = node_ip

    def scenario(self, points: CrashPoints, **options: Any) -> None:
        harness = self.octavia.harness(crash_points=points, **options)
        svc = annotated(BASE, self.persisted.annotations)
        harness.provider.ensure_load_balancer(
            self.octavia.cluster, svc, [node("node-51", self.node_ip)], self.persisted
        )

    def verify(self, *, with_group: bool) -> None:
        octavia = self.octavia
        lbs = octavia.lbs()
        assert len(lbs) == 1, f"load balancers: {[lb.id for lb in lbs]}"
        lb = lbs[0]
        assert lb.provisioning_status == "ACTIVE"
        listeners = octavia.listeners(lb.id)
        pools = octavia.pools(lb.id)
        assert len(listeners) == 1 and len(pools) == 1, (listeners, pools)
        monitors = [
            m
            for m in octavia.conn.load_balancer.health_monitors()
            if any(p["id"] == pools[0].id for p in m.pools or [])
        ]
        assert len(monitors) == 1, monitors
        members = list(octavia.conn.load_balancer.members(pools[0].id))
        assert [(m.address, m.protocol_port) for m in members] == [(self.node_ip, 30680)]
        fips = octavia.fips()
        assert [f.port_id for f in fips] == [lb.vip_port_id], fips
        groups = octavia.groups()
        assert len(groups) == (1 if with_group else 0), groups
        if with_group:
            rules = [
                r
                for r in octavia.conn.network.security_group_rules(security_group_id=groups[0].id)
                if r.direction == "ingress"
            ]
            assert [(r.port_range_min, r.remote_ip_prefix) for r in rules] == [
                (30680, "192.0.2.0/24")
            ]
            users = list(octavia.conn.network.ports(security_groups=[groups[0].id]))
            assert [p.fixed_ips[0]["ip_address"] for p in users] == [self.node_ip]
        assert self.persisted.annotations[ann.LOAD_BALANCER_ID] == lb.id


def test_crash_after_the_lb_post_converges(octavia: Octavia) -> None:
    world = CrashWorld(octavia)

    def reset() -> None:
        octavia.sweep()
        world.persisted.annotations.clear()

    def only_lb(point: Point) -> bool:
        # ``.before`` is "nothing happened yet": the plain first run covers it.
        return point.name == "loadbalancer_create.after"

    crashed = loop_over_crash_points(
        world.scenario, verify=lambda: world.verify(with_group=False), reset=reset, select=only_lb
    )
    assert [str(p) for p in crashed] == ["loadbalancer_create.after"]


@pytest.mark.timeout(600)
def test_crash_after_each_later_create_converges(
    octavia: Octavia, testcloud_network: dict[str, str]
) -> None:
    conn = octavia.conn
    # A real node port: the managed group is attached to the port carrying the member IP.
    port = conn.network.create_port(
        network_id=testcloud_network["network_id"], name=f"{octavia.cluster}-node-51"
    )
    world = CrashWorld(octavia, node_ip=port.fixed_ips[0]["ip_address"])
    try:
        _later_creates(octavia, world)
    finally:
        octavia.sweep()
        conn.network.delete_port(port.id, ignore_missing=True)


def _later_creates(octavia: Octavia, world: CrashWorld) -> None:
    serial: dict[str, Any] = {
        "provider_requires_serial_api_calls": True,
        "manage_security_groups": True,
    }
    world.scenario(NO_CRASH_POINTS, provider_requires_serial_api_calls=True)
    [lb] = octavia.lbs()
    conn = octavia.conn
    lb_api: Any = conn.load_balancer
    sweep_groups = octavia.sweep_groups

    def reset_tree() -> None:
        """The LB's children, not the LB: a pool delete takes its members and monitor along
        (Octavia cascades it), then the listener."""
        for pool in octavia.pools(lb.id):
            lb_api.delete_pool(pool.id)
            lb_api.wait_for_load_balancer(lb.id, interval=0.3)
        for listener in octavia.listeners(lb.id):
            lb_api.delete_listener(listener.id)
            lb_api.wait_for_load_balancer(lb.id, interval=0.3)

    def reset_edges() -> None:
        """The floating IP and the security group (Neutron only: quick)."""
        for fip in octavia.fips():
            conn.network.delete_ip(fip.id)
        sweep_groups()

    def octavia_point(point: Point) -> bool:
        return _after_answer(point) and point.name.startswith("loadbalancer_")

    def neutron_point(point: Point) -> bool:
        return _after_answer(point) and not point.name.startswith("loadbalancer_")

    # Two loops, so a Neutron round does not rebuild the Octavia tree (CI time).
    reset_tree()
    crashed = loop_over_crash_points(
        lambda points: world.scenario(points, **serial),
        verify=lambda: world.verify(with_group=True),
        reset=reset_tree,
        select=octavia_point,
    )
    world.scenario(NO_CRASH_POINTS, **serial)
    reset_edges()
    crashed += loop_over_crash_points(
        lambda points: world.scenario(points, **serial),
        verify=lambda: world.verify(with_group=True),
        reset=reset_edges,
        select=neutron_point,
    )
    assert [str(p) for p in crashed] == [
        "loadbalancer_listener_create.after",
        "loadbalancer_pool_create.after",
        "loadbalancer_member_create.after",
        "loadbalancer_healthmonitor_create.after",
        "floating_ip_create.after",
        "security_group_create.after",
        "security_group_rule_create.after",
    ]

    # manage-security-groups turned off: the next ensure removes the group from the node
    # port and deletes it (§1.4.4 step 14); on again, it is back.
    world.scenario(NO_CRASH_POINTS, **serial)
    [group] = octavia.groups()
    world.scenario(NO_CRASH_POINTS, provider_requires_serial_api_calls=True)
    assert octavia.groups() == []
    assert list(conn.network.ports(security_groups=[group.id])) == []

    # Delete with managed groups: the group leaves the node port, then goes; nothing is left.
    world.scenario(NO_CRASH_POINTS, **serial)
    [group] = octavia.groups()
    assert len(list(conn.network.ports(security_groups=[group.id]))) == 1
    harness = octavia.harness(**serial)
    svc = annotated(BASE, world.persisted.annotations)
    harness.provider.ensure_load_balancer_deleted(octavia.cluster, svc, world.persisted)
    assert list(conn.network.ports(security_groups=[group.id])) == []
    assert octavia.inventory() == {
        "lbs": [],
        "listeners": [],
        "pools": [],
        "fips": [],
        "security_groups": [],
    }
