"""Faults between the provider and the real Octavia, through a fleet of fault proxies
(catalog rewriting): the LB POST's answer lost, Octavia's 409 for an immutable
(PENDING_UPDATE) LB, 5xx on listener, pool and member creates. Every case converges in a few
syncs (the service controller retries a failed one) to exactly one LB tree, without a
duplicate of anything. Serial mode, so each child is its own POST.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from openstack.connection import Connection

from osk8s_ccm.lb_provider import LoadBalancerError
from osk8s_core.config import CloudConfig
from osk8s_core.credentials.connection import ClientSettings, build_connection
from osk8s_core.credentials.tls import CaFileStore
from osk8s_testing.faultproxy import FaultProxy, LoseAnswer, error
from osk8s_testing.faultproxy.fixtures import FaultProxyFactory

from .conftest import Octavia, Recorder, annotated, nodes_at, service

pytestmark = pytest.mark.contract

KEYSTONE = "http://127.0.0.1:5000"
UPSTREAMS = {
    "keystone": KEYSTONE,
    "octavia": "http://127.0.0.1:9876",
    "neutron": "http://127.0.0.1:9696",
    "barbican": "http://127.0.0.1:9311",
}
IMMUTABLE = (
    '{"faultcode": "Client", "faultstring": "Load Balancer 1 is immutable and cannot be '
    'updated.", "debuginfo": null}'
)


@pytest.fixture
def proxied(
    cloud_config: CloudConfig, fault_proxy: FaultProxyFactory
) -> Iterator[tuple[Connection, dict[str, FaultProxy]]]:
    fleet = fault_proxy.fleet(UPSTREAMS)
    auth = cloud_config.global_
    assert auth.auth_url is not None and auth.auth_url.startswith(KEYSTONE)
    auth = dataclasses.replace(
        auth, auth_url=auth.auth_url.replace(KEYSTONE, fleet["keystone"].url)
    )
    store = CaFileStore()
    conn = build_connection(
        auth,
        settings=ClientSettings(component="ccm-faults", version="0", timeout=10),
        ca_store=store,
    )
    try:
        yield conn, fleet
    finally:
        conn.close()
        store.close()


def test_lost_lb_answer_409_and_5xx_converge_without_duplicates(
    octavia: Octavia, proxied: tuple[Connection, dict[str, FaultProxy]]
) -> None:
    conn, fleet = proxied
    api = fleet["octavia"]
    api.inject(LoseAnswer(), method="POST", path=r"/lbaas/loadbalancers$", first=1)
    api.inject(error(503), method="POST", path=r"/lbaas/listeners$", first=1)
    api.inject(error(409, IMMUTABLE), method="POST", path=r"/lbaas/pools$", first=1)
    api.inject(error(500), method="POST", path=r"/lbaas/pools/[^/]+/members$", first=1)
    harness = octavia.harness(conn=conn, provider_requires_serial_api_calls=True)
    svc = service(
        "faulty",
        ("TCP", 80, 30580),
        annotations={"service.beta.kubernetes.io/openstack-internal-load-balancer": "true"},
    )
    recorder = Recorder()
    failures = []
    for _ in range(4):
        try:
            harness.provider.ensure_load_balancer(
                octavia.cluster, annotated(svc, recorder.annotations), nodes_at(41), recorder
            )
            break
        except LoadBalancerError as exc:  # the controller would requeue the Service
            failures.append(str(exc))
    else:
        pytest.fail(f"never converged: {failures}")

    # The lost POST made the LB: it was found by name, never posted again.
    assert api.calls.count("POST", r"/lbaas/loadbalancers$") == 1
    assert len(failures) == 2, failures  # the listener 503 and the member 500
    assert api.calls.count("POST", r"/lbaas/pools$") == 2  # the 409 retried in the call
    [lb] = octavia.lbs()
    assert lb.provisioning_status == "ACTIVE"
    [listener] = octavia.listeners(lb.id)
    [pool] = octavia.pools(lb.id)
    assert listener.default_pool_id == pool.id
    members = list(octavia.conn.load_balancer.members(pool.id))
    assert [(m.address, m.protocol_port) for m in members] == [("192.0.2.41", 30580)]
    assert members[0].name == "member_node-41_192.0.2.41_30580"  # serial-mode name

    harness.provider.ensure_load_balancer_deleted(
        octavia.cluster, annotated(svc, recorder.annotations), recorder
    )
    assert octavia.inventory()["lbs"] == []
