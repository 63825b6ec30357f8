"""Nova and Neutron faults while a node is initialised: Keystone, Nova and Neutron of the test
cloud behind fault proxies (catalog rewritten). A failed pass leaves the node exactly as it
was (tainted, nothing half-written); a later pass completes it. Retries are off in the first
client so the fault reaches the controller; the default policy rides over a single 5xx.
A Nova that does not answer is cut off after cloud.conf's ``[Metadata] request-timeout`` (CPO
applies it to every OpenStack call), through the provider the process builds."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import CoreV1Api
from prometheus_client import CollectorRegistry

from osk8s_ccm.app import init_provider
from osk8s_ccm.ccm_metrics import CcmMetrics
from osk8s_ccm.cli import build_parser
from osk8s_ccm.instances import InstancesV2
from osk8s_ccm.node_init import NodeInitializer
from osk8s_ccm.nova_neutron import LiveLookup, NovaNeutron
from osk8s_ccm.options import options_from_args
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
from osk8s_testing.faultproxy.rules import Hang, error
from osk8s_testing.testcloud.layout import Layout, resolve_dir

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


def _conf_through(keystone_url: str, tmp_path: Path, timeout: str) -> Path:
    """The test cloud's cloud.conf, with Keystone behind the proxy and the given timeout."""
    text = Layout(resolve_dir(None, os.environ)).cloud_conf.read_text()
    text = re.sub(r"(?m)^auth-url\s*=.*$", f"auth-url = {keystone_url}/v3", text)
    assert keystone_url in text
    path = tmp_path / "cloud.conf"
    path.write_text(f"{text}\n[Metadata]\nrequest-timeout = {timeout}\n")
    return path


def test_nova_timeout_cut_at_request_timeout_and_next_pass_completes(
    core: CoreV1Api, world: World, fault_proxy: Any, tmp_path: Path
) -> None:
    fleet = fault_proxy.fleet(
        {
            "keystone": "http://127.0.0.1:5000",
            "nova": "http://127.0.0.1:8774",
            "neutron": "http://127.0.0.1:9696",
        }
    )
    parser = build_parser()
    parser.warning_stream = io.StringIO()
    # 5 s: every call of this test (Keystone's password auth included) must fit in it on a
    # loaded CI machine; only the held one may not.
    path = _conf_through(fleet["keystone"].url, tmp_path, "5s")
    ns = parser.parse_args(["--cloud-provider=openstack", f"--cloud-config={path}"])
    provider = init_provider(
        options_from_args(ns, user_agent="test/1"),
        metrics=CcmMetrics.create(),
        environ={},
        log=get_logger("test.ccm"),
    )
    recorder = EventRecorder(core, component="cloud-node-controller", clock=SystemClock())

    def initializer(client: OpenStackClient[Any]) -> NodeInitializer:
        cloud = NovaNeutron(client)
        return NodeInitializer(
            api=core,
            instances=provider.instances,
            lookup=lambda: LiveLookup(cloud),
            recorder=recorder,
        )

    once = OpenStackClient(
        provider.openstack.connection,
        metrics=ApiMetrics(CollectorRegistry()),
        retry_policy=NO_RETRY,
        logger=get_logger("t"),
    )
    tainted_node(core, world.a_name)
    before = node_json(core, world.a_name)
    # Nova holds the name query 60 s without a word: the 5 s timeout ends the call first
    # (without it the call would last until the proxy closes, and end as a reset).
    fleet["nova"].inject(Hang(60.0), method="GET", path=r"/servers/detail", first=1)
    started = time.monotonic()
    with pytest.raises(errors.RequestTimeout):
        initializer(once).reconcile(world.a_name)
    assert time.monotonic() - started < 30.0  # the timeout, with slack; far from the hang
    assert node_json(core, world.a_name) == before
    assert fleet["nova"].calls.count("GET", r"/servers/detail") == 1

    # The next pass, with the process's own client (its retry policy, same timeout).
    assert initializer(provider.openstack).reconcile(world.a_name) is None
    done = node_json(core, world.a_name)
    assert done["spec"]["providerID"] == f"openstack:///{world.a_id}"
    assert taint_keys(done) == ["example.com/dedicated"]
