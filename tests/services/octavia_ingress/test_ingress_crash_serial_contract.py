"""``provider-requires-serial-api-calls``: the tree is built one call per object, so a crash
can fall between any two; a crash after each create (listener, pool, policy, rule) and a
restart converge to exactly one of each. Its own file: CI runs test files in parallel.
"""

from __future__ import annotations

from typing import Any

import pytest
from openstack.connection import Connection

from osk8s_core.crashpoints import CrashPoints
from osk8s_octavia_ingress import naming
from osk8s_testing.crashpoints import loop_over_crash_points

from .conftest import CRASH_NAME as NAME
from .conftest import Builder, Kube, delete_lbs, verify_one_of_each

pytestmark = pytest.mark.contract


def test_crash_after_each_serial_create_converges(
    crash_world: Kube, make_reconciler: Builder, ingress_conn: Connection, cluster: str
) -> None:
    """``provider-requires-serial-api-calls``: one call per object, so a crash can fall
    between any two; each ``.after`` point (the object made, not yet used) is crashed at.
    The LB itself stays between rounds (its create is covered above): the reset removes its
    tree and its "processed" mark."""
    resource = naming.resource_name(cluster, "default", NAME)
    lb_api: Any = ingress_conn.load_balancer
    reconciler, _ = make_reconciler(cluster, serial=True)
    lb = lb_api.create_load_balancer(
        name=resource,
        vip_subnet_id=reconciler._config.octavia.subnet_id,
        description=naming.lb_description(cluster, "default", NAME),
    )

    def settle() -> None:
        lb_api.wait_for_load_balancer(lb.id, status="ACTIVE", failures=["ERROR"], wait=120)

    def scenario(points: CrashPoints) -> object:
        crashing, _ = make_reconciler(cluster, serial=True, crash_points=points)
        return crashing.sync(f"default/{NAME}")

    def reset() -> None:
        settle()
        for listener in lb_api.listeners(load_balancer_id=lb.id):
            lb_api.delete_listener(listener.id)
            settle()
        for pool in lb_api.pools(loadbalancer_id=lb.id):
            lb_api.delete_pool(pool.id)
            settle()
        lb_api.update_load_balancer(
            lb.id, description=naming.lb_description(cluster, "default", NAME)
        )
        settle()

    try:
        settle()
        crashed = loop_over_crash_points(
            scenario,
            verify=lambda: verify_one_of_each(ingress_conn, crash_world, resource),
            reset=reset,
            select=lambda point: str(point).endswith(".after"),
        )
        assert {str(p).split("#")[0] for p in crashed} >= {
            "loadbalancer_listener_create.after",
            "loadbalancer_pool_create.after",
            "loadbalancer_l7policy_create.after",
            "loadbalancer_l7rule_create.after",
        }
    finally:
        delete_lbs(ingress_conn, resource)
