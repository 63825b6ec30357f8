"""Faults while an Ingress's load balancer is built, on the real Octavia.

Through the fault proxy, Octavia's 409 while the LB is PENDING_UPDATE is waited out and a 500
on an L7 policy create is retried by the next reconcile without a duplicate. (Crashes at every
create step, populated and serial: ``test_ingress_crash_serial_contract.py``.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from openstack.connection import Connection

from osk8s_core.config import CloudConfig
from osk8s_core.credentials.connection import build_connection
from osk8s_core.credentials.tls import CaFileStore
from osk8s_octavia_ingress import naming
from osk8s_testing.faultproxy.rules import error

from .conftest import CRASH_NAME as NAME
from .conftest import SETTINGS, Builder, Kube, delete_lbs, verify_one_of_each

pytestmark = pytest.mark.contract


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
