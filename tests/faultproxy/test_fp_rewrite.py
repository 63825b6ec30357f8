"""Optional URL rewriting, so a client following a Keystone catalog stays behind the proxies."""

from __future__ import annotations

import pytest
import requests
from fp_upstream import Upstream, running_upstream

from osk8s_testing.faultproxy import error
from osk8s_testing.faultproxy.catalog import upstream_bases
from osk8s_testing.faultproxy.fixtures import FaultProxyFactory


def test_no_rewrite_by_default(fault_proxy: FaultProxyFactory, upstream: Upstream) -> None:
    upstream.catalog_urls = [upstream.url + "/v3"]
    proxy = fault_proxy(upstream.url)
    assert requests.get(f"{proxy.url}/catalog", timeout=5).json()["catalog"] == [
        {"url": upstream.url + "/v3"}
    ]


def test_rewrite_body_and_location(fault_proxy: FaultProxyFactory, upstream: Upstream) -> None:
    # A URL whose port merely starts with the upstream's port must stay untouched.
    longer_port = upstream.url + "1/v2"
    upstream.catalog_urls = [upstream.url + "/v3", upstream.url, longer_port]
    proxy = fault_proxy(upstream.url, rewrites={upstream.url: "http://127.0.0.1:1"})
    proxy.set_rewrites({upstream.url: proxy.url})
    r = requests.get(f"{proxy.url}/catalog", timeout=5)
    assert [e["url"] for e in r.json()["catalog"]] == [proxy.url + "/v3", proxy.url, longer_port]
    assert int(r.headers["Content-Length"]) == len(r.content)
    r = requests.get(f"{proxy.url}/redirect", allow_redirects=False, timeout=5)
    assert r.headers["Location"] == proxy.url + "/echo/after-redirect"


def test_fleet_keeps_catalog_clients_behind_the_proxies(fault_proxy: FaultProxyFactory) -> None:
    with running_upstream() as identity, running_upstream() as network:
        identity.catalog_urls = [identity.url + "/v3", network.url + "/v2.0"]
        fleet = fault_proxy.fleet({"identity": identity.url, "network": network.url})
        catalog = requests.get(f"{fleet['identity'].url}/catalog", timeout=5).json()["catalog"]
        identity_url, network_url = (e["url"] for e in catalog)
        assert identity_url == fleet["identity"].url + "/v3"
        assert network_url == fleet["network"].url + "/v2.0"
        fleet["network"].inject(error(503), first=1)
        assert requests.get(f"{network_url}/ports", timeout=5).status_code == 503
        assert requests.get(f"{network_url}/ports", timeout=5).status_code == 200
        assert network.hits == 1
        assert fleet["network"].calls.count(path="/v2.0/ports") == 2


def test_upstream_bases_from_catalog_urls() -> None:
    urls = [
        "http://127.0.0.1:5000/v3",
        "http://127.0.0.1:8776/v3/abc",
        "http://127.0.0.1:8776/v3/def",
        "https://[::1]:9696/",
    ]
    assert upstream_bases(urls) == {
        "127.0.0.1:5000": "http://127.0.0.1:5000",
        "127.0.0.1:8776": "http://127.0.0.1:8776",
        "[::1]:9696": "https://[::1]:9696",
    }
    with pytest.raises(ValueError):
        upstream_bases(["/relative"])


def test_rewriting_proxy_still_streams(fault_proxy: FaultProxyFactory, upstream: Upstream) -> None:
    proxy = fault_proxy(upstream.url, rewrites={upstream.url: "http://127.0.0.1:1"})
    with requests.get(f"{proxy.url}/stream", stream=True, timeout=5) as r:
        lines = r.iter_lines()
        assert next(lines) == b'{"type": "ADDED"}'
        upstream.release.set()
        assert next(lines) == b'{"type": "MODIFIED"}'
