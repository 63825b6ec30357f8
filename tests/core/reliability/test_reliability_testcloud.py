"""The call layer against the real OpenStack test cloud, behind a fleet of fault proxies.

One proxy per service port; Keystone's catalog and the services' version documents are
rewritten so every call openstacksdk makes goes through a proxy. Read-only calls only (the
cloud is shared by the contract suite). Skipped unless the test cloud is up.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from openstack.connection import Connection
from prometheus_client import CollectorRegistry
from rel_harness import RecordingLogger

from osk8s_core.config.auth import AuthOptions
from osk8s_core.credentials.connection import ClientSettings, build_connection
from osk8s_core.credentials.tls import CaFileStore
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.retry import RetryPolicy
from osk8s_core.secrets import SecretStr
from osk8s_testing.cloudgate import cloud_unavailable
from osk8s_testing.faultproxy import FaultProxy, Reset, error
from osk8s_testing.faultproxy.catalog import base_of, upstream_bases
from osk8s_testing.faultproxy.fixtures import FaultProxyFactory
from osk8s_testing.testcloud.layout import Layout, resolve_dir

pytestmark = pytest.mark.contract
CLOUD = "osk8s-demo"


def _auth_entry() -> dict[str, Any]:
    path = Layout(resolve_dir(None, os.environ)).clouds_yaml
    if not path.is_file():
        cloud_unavailable(f"test cloud not up ({path} missing)")
    entry = yaml.safe_load(path.read_text())["clouds"][CLOUD]
    return {**entry["auth"], "region": entry.get("region_name")}


def _catalog_urls(auth: dict[str, Any]) -> list[str]:
    from keystoneauth1 import exceptions as ks_exc
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    keys = ("auth_url", "username", "password", "project_name")
    domains = ("user_domain_name", "project_domain_name")
    plugin = v3.Password(**{k: auth[k] for k in (*keys, *domains)})
    try:
        access = plugin.get_access(session.Session(timeout=60))
    except ks_exc.ConnectionError as e:
        # Not listening: the cloud is not up. An HTTP error from a listening Keystone is a
        # real failure and is not hidden.
        cloud_unavailable(f"test cloud Keystone not answering: {type(e).__name__}")
    return [e["url"] for svc in access.service_catalog.catalog for e in svc["endpoints"]]


@dataclass
class Proxied:
    connection: Connection
    fleet: dict[str, FaultProxy]
    keystone: FaultProxy
    registry: CollectorRegistry
    sleeps: list[float]

    def proxy_for(self, url: str) -> FaultProxy:
        """The proxy serving ``url`` (an endpoint as the client sees it, i.e. rewritten)."""
        return next(p for p in self.fleet.values() if p.url == base_of(url))

    def client(self) -> OpenStackClient[Connection]:
        return OpenStackClient(
            self.connection,
            metrics=ApiMetrics(self.registry),
            retry_policy=RetryPolicy(jitter=0.0),
            logger=RecordingLogger(),
            sleep=self.sleeps.append,
        )


@pytest.fixture(scope="module")
def testcloud() -> tuple[dict[str, Any], list[str]]:
    """The demo cloud's auth entry and catalog URLs; probed once, skips the module if down."""
    auth = _auth_entry()
    return auth, _catalog_urls(auth)


@pytest.fixture
def proxied(
    fault_proxy: FaultProxyFactory, testcloud: tuple[dict[str, Any], list[str]]
) -> Iterator[Proxied]:
    auth, urls = testcloud
    fleet = fault_proxy.fleet(upstream_bases([*urls, auth["auth_url"]]))
    keystone = next(p for p in fleet.values() if p.upstream == base_of(auth["auth_url"]))
    options = AuthOptions(
        auth_url=keystone.url + "/v3",
        username=auth["username"],
        password=SecretStr(auth["password"]),
        project_name=auth["project_name"],
        user_domain_name=auth["user_domain_name"],
        project_domain_name=auth["project_domain_name"],
        region=auth["region"],
    )
    settings = ClientSettings(component="reliability-test", version="0", timeout=10)
    connection = build_connection(options, settings=settings, ca_store=CaFileStore())
    try:
        yield Proxied(connection, fleet, keystone, CollectorRegistry(), [])
    finally:
        connection.close()


def _network_proxy(p: Proxied) -> FaultProxy:
    endpoint = p.connection.network.get_endpoint()
    assert endpoint is not None
    return p.proxy_for(endpoint)


def test_every_call_goes_through_the_proxies(proxied: Proxied) -> None:
    networks = proxied.client().call(
        "network_list", lambda: list(proxied.connection.network.networks())
    )
    assert networks, "the test cloud has networks"
    network = _network_proxy(proxied)
    assert network.calls.count("GET", "/networks") == 1
    assert sum(p.calls.count() for p in proxied.fleet.values()) >= 2  # token + list at least


def test_neutron_5xx_twice_then_success(proxied: Proxied) -> None:
    client = proxied.client()
    network = _network_proxy(proxied)
    network.inject(error(503), method="GET", path="/v2.0/networks$", first=2)
    client.call("network_list", lambda: list(proxied.connection.network.networks()))
    assert [c.status for c in network.calls.matching("GET", "/v2.0/networks$")] == [503, 503, 200]
    assert proxied.sleeps == [0.5, 1.0]
    assert (
        proxied.registry.get_sample_value(
            "openstack_api_request_errors_total", {"request": "network_list"}
        )
        == 2
    )


def test_keystone_reset_during_auth_is_retried(proxied: Proxied) -> None:
    proxied.keystone.inject(Reset(), method="POST", path="/v3/auth/tokens$", first=1)
    proxied.client().call("network_list", lambda: list(proxied.connection.network.networks()))
    token_calls = proxied.keystone.calls.matching("POST", "/v3/auth/tokens$")
    assert [c.fault for c in token_calls] == ["reset", None]
    assert _network_proxy(proxied).calls.count("GET", "/v2.0/networks$") == 1
