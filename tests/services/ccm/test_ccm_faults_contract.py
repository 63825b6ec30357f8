"""Nova and Neutron faults while a node is initialised: Keystone, Nova and Neutron of the test
cloud behind fault proxies (catalog rewritten). A failed pass leaves the node exactly as it
was (tainted, nothing half-written); a later pass completes it. Retries are off in the first
client so the fault reaches the controller; the default policy rides over a single 5xx."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client import CoreV1Api
from prometheus_client import CollectorRegistry

from osk8s_ccm.instances import InstancesV2
from osk8s_ccm.node_init import NodeInitializer
from osk8s_ccm.nova_neutron import LiveLookup, NovaNeutron
from osk8s_ccm.settings import instance_settings
from osk8s_core import errors
from osk8s_core.credentials.connection import build_connection
from osk8s_core.credentials.tls import CaFileStore
from osk8s_core.k8s.clock import SystemClock
from osk8s_core.k8s.events import EventRecorder
from osk8s_core.logging import get_logger
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.retry import NO_RETRY, RetryPolicy
from osk8s_testing.faultproxy.rules import error

from .conftest import SETTINGS, World
from .node_helpers import node_json, taint_keys, tainted_node

pytestmark = pytest.mark.contract


@pytest.fixture
def core(kube_api) -> Iterator[CoreV1Api]:  # type: ignore[no-untyped-def]
    client = kube_api.api_client()
    yield CoreV1Api(client)
    client.close()


@pytest.fixture
def proxied(fault_proxy: Any, world: World) -> Iterator[tuple[Any, Any]]:
    """A connection through proxies, and the proxies of Nova and Neutron."""
    fleet = fault_proxy.fleet(
        {
            "keystone": "http://127.0.0.1:5000",
            "nova": "http://127.0.0.1:8774",
            "neutron": "http://127.0.0.1:9696",
        }
    )
    auth = dataclasses.replace(world.config.global_, auth_url=f"{fleet['keystone'].url}/v3")
    store = CaFileStore()
    conn = build_connection(auth, settings=SETTINGS, ca_store=store)
    try:
        yield conn, fleet
    finally:
        conn.close()
        store.close()


def initializer(core: CoreV1Api, world: World, conn: Any, policy: RetryPolicy) -> NodeInitializer:
    client = OpenStackClient(
        conn, metrics=ApiMetrics(CollectorRegistry()), retry_policy=policy, logger=get_logger("t")
    )
    cloud = NovaNeutron(client)
    return NodeInitializer(
        api=core,
        instances=InstancesV2(instance_settings(world.config, {})),
        lookup=lambda: LiveLookup(cloud),
        recorder=EventRecorder(core, component="cloud-node-controller", clock=SystemClock()),
    )


@pytest.mark.parametrize(
    "fault", [("nova", "GET", r"/servers/detail"), ("neutron", "GET", r"/v2.0/ports")]
)
def test_fault_leaves_node_untouched_and_next_pass_completes(
    core: CoreV1Api, world: World, proxied: tuple[Any, Any], fault: tuple[str, str, str]
) -> None:
    service, method, path = fault
    conn, fleet = proxied
    tainted_node(core, world.a_name)
    before = node_json(core, world.a_name)
    fleet[service].inject(error(503), method=method, path=path, first=1)
    with pytest.raises(errors.ServerError):
        initializer(core, world, conn, NO_RETRY).reconcile(world.a_name)
    assert node_json(core, world.a_name) == before
    assert fleet[service].calls.count(method, path) == 1

    assert initializer(core, world, conn, NO_RETRY).reconcile(world.a_name) is None
    done = node_json(core, world.a_name)
    assert done["spec"]["providerID"] == f"openstack:///{world.a_id}"
    assert taint_keys(done) == ["example.com/dedicated"]


def test_single_5xx_is_retried_within_the_pass(
    core: CoreV1Api, world: World, proxied: tuple[Any, Any]
) -> None:
    conn, fleet = proxied
    tainted_node(core, world.b_name, provider_id=f"openstack:///{world.b_id}")
    fleet["nova"].inject(error(500), method="GET", path=rf"/servers/{world.b_id}", first=1)
    policy = RetryPolicy(max_attempts=3, backoff_base=0.1)
    assert initializer(core, world, conn, policy).reconcile(world.b_name) is None
    assert taint_keys(node_json(core, world.b_name)) == ["example.com/dedicated"]
    assert fleet["nova"].calls.count("GET", rf"/servers/{world.b_id}") == 2
