"""Crashes and faults while an Ingress's load balancer is built, on the real Octavia.

A crash at every create step (``osk8s_core.crashpoints``), then a restart, leaves exactly one
LB, listener, pool, policy (with its two rules) and the right members: both for the fully
populated first create and for ``provider-requires-serial-api-calls`` (one call per object).
Through the fault proxy, Octavia's 409 while the LB is PENDING_UPDATE is waited out and a 500
on an L7 policy create is retried by the next reconcile without a duplicate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from openstack.connection import Connection

from osk8s_core.config import CloudConfig
from osk8s_core.crashpoints import CrashPoints
from osk8s_core.credentials.connection import build_connection
from osk8s_core.credentials.tls import CaFileStore
from osk8s_octavia_ingress import naming
from osk8s_testing.crashpoints import loop_over_crash_points
from osk8s_testing.faultproxy.rules import error

from .conftest import CRASH_NAME as NAME
from .conftest import SETTINGS, Builder, Kube, delete_lbs, verify_one_of_each

pytestmark = pytest.mark.contract


def test_crash_at_the_populated_create_converges(
    crash_world: Kube, make_reconciler: Builder, ingress_conn: Connection, cluster: str
) -> None:
    resource = naming.resource_name(cluster, "default", NAME)

    def scenario(points: CrashPoints) -> object:
        reconciler, _ = make_reconciler(cluster, crash_points=points)
        return reconciler.sync(f"default/{NAME}")

    def reset() -> None:
        lb_api: Any = ingress_conn.load_balancer
        for lb in lb_api.load_balancers(name=resource):
            lb_api.wait_for_load_balancer(lb.id, status="ACTIVE", failures=["ERROR"], wait=120)
            lb_api.delete_load_balancer(lb.id, cascade=True)
            lb_api.wait_for_delete(lb, wait=120)

    try:
        crashed = loop_over_crash_points(
            scenario,
            verify=lambda: verify_one_of_each(ingress_conn, crash_world, resource),
            reset=reset,
            # After the create answered, before anything recorded it: where a duplicate
            # would come from (a crash before it leaves nothing to converge from).
            select=lambda point: str(point) == "loadbalancer_create.after",
        )
        assert [str(p) for p in crashed] == ["loadbalancer_create.after"]
    finally:
        delete_lbs(ingress_conn, resource)


@pytest.fixture
def proxied(
    fault_proxy: Any, ingress_cloud_config: CloudConfig
) -> Iterator[tuple[Connection, Any]]:
    fleet = fault_proxy.fleet(
        {
            "keystone": "http://127.0.0.1:5000",
            "octavia": "http://127.0.0.1:9876",
            "neutron": "http://127.0.0.1:9696",
        }
    )
    auth = dataclasses.replace(ingress_cloud_config.global_, auth_url=f"{fleet['keystone'].url}/v3")
    store = CaFileStore()
    conn = build_connection(auth, settings=SETTINGS, ca_store=store)
    try:
        yield conn, fleet["octavia"]
    finally:
        conn.close()
        store.close()


def test_conflict_and_server_error_converge(
    crash_world: Kube,
    make_reconciler: Builder,
    ingress_conn: Connection,
    proxied: tuple[Connection, Any],
    cluster: str,
) -> None:
    conn, octavia = proxied
    resource = naming.resource_name(cluster, "default", NAME)
    reconciler, _ = make_reconciler(cluster, serial=True, conn=conn)
    # Octavia refuses changes while the LB is PENDING_UPDATE: the first listener create and
    # the description update meet that 409; the first policy create fails with a 500.
    octavia.inject(error(409), method="POST", path=r"/lbaas/listeners$", first=1)
    octavia.inject(error(409), method="PUT", path=r"/lbaas/loadbalancers/", first=1)
    octavia.inject(error(500), method="POST", path=r"/lbaas/l7policies$", first=1)
    try:
        with pytest.raises(Exception, match="500"):
            reconciler.sync(f"default/{NAME}")
        assert reconciler.sync(f"default/{NAME}").action == "ensured"
        verify_one_of_each(ingress_conn, crash_world, resource)
        assert octavia.calls.count("POST", r"/lbaas/listeners$") == 2  # the 409, then done
        assert octavia.calls.count("POST", r"/lbaas/l7policies$") == 2  # the 500, then one
        assert octavia.calls.count("PUT", r"/lbaas/loadbalancers/") == 2
    finally:
        delete_lbs(ingress_conn, resource)
