"""The webhook's Keystone calls through the fault proxy: transient failures are retried, and a
Keystone that keeps failing never turns into "allow": not for a token it has not seen, nor for
one validated longer ago than the cache TTL (fail closed, as CPO)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import requests

from osk8s_testing.faultproxy.fixtures import FaultProxyFactory
from osk8s_testing.faultproxy.rules import Reset, error
from osk8s_testing.tls import TlsFiles

from .conftest import FakeKeystone, FakeUser, SkewedClock
from .test_keystone_webhook import alice, options, start, token_review, url

__all__ = ["alice", "start"]  # fixtures shared with the webhook suite

TOKENS = "/v3/auth/tokens$"


def _proxied(fake_keystone: FakeKeystone, fault_proxy: FaultProxyFactory) -> tuple[Any, str]:
    base = fake_keystone.url.removesuffix("/v3")
    proxy = fault_proxy(base)
    # Keystone behind a proxy names the proxy in its version document (public_endpoint).
    fake_keystone.public_endpoint = proxy.url
    return proxy, f"{proxy.url}/v3"


def test_keystone_503_once_is_retried_and_authenticates(
    start: Any,
    tls_files: TlsFiles,
    fake_keystone: FakeKeystone,
    alice: FakeUser,
    fault_proxy: FaultProxyFactory,
) -> None:
    proxy, keystone_url = _proxied(fake_keystone, fault_proxy)
    proxy.inject(error(503), method="GET", path=TOKENS, first=1)
    hook = start(replace(options(tls_files, fake_keystone), keystone_url=keystone_url))
    response = requests.post(
        url(hook), json=token_review("tok-alice"), verify=tls_files.cert, timeout=30
    )
    assert response.status_code == 200
    assert response.json()["status"]["authenticated"] is True
    assert [c.status for c in proxy.calls.matching("GET", TOKENS)] == [503, 200]


def test_keystone_resets_deny_new_tokens_and_cached_ones_past_the_ttl(  # noqa: PLR0917 - fixtures
    start: Any,
    tls_files: TlsFiles,
    fake_keystone: FakeKeystone,
    alice: FakeUser,
    fault_proxy: FaultProxyFactory,
    cache_clock: SkewedClock,
) -> None:
    proxy, keystone_url = _proxied(fake_keystone, fault_proxy)
    opts = replace(
        options(tls_files, fake_keystone, token_cache_ttl=30.0), keystone_url=keystone_url
    )
    hook = start(opts, clock=cache_clock)
    first = requests.post(
        url(hook), json=token_review("tok-alice"), verify=tls_files.cert, timeout=30
    )
    assert first.json()["status"]["authenticated"] is True
    proxy.inject(Reset(), path="/v3/")  # Keystone unreachable from now on
    fake_keystone.tokens["tok-new"] = alice
    cached = requests.post(
        url(hook), json=token_review("tok-alice"), verify=tls_files.cert, timeout=30
    )
    assert cached.status_code == 200 and cached.json()["status"]["authenticated"] is True
    new = requests.post(url(hook), json=token_review("tok-new"), verify=tls_files.cert, timeout=30)
    assert new.status_code == 401
    assert new.json()["status"]["authenticated"] is False
    cache_clock.advance(31)  # the validation of tok-alice is now older than the TTL
    late = requests.post(
        url(hook), json=token_review("tok-alice"), verify=tls_files.cert, timeout=30
    )
    assert late.status_code == 401
    assert late.json()["status"]["authenticated"] is False
    assert proxy.calls.count("GET", TOKENS) >= 3  # the outage was really hit
