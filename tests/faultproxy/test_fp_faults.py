"""Every fault kind through the proxy, seen by a real HTTP client (requests)."""

from __future__ import annotations

import time

import pytest
import requests
from fp_upstream import Upstream

from osk8s_testing.faultproxy import Delay, FaultProxy, Hang, Reset, error, rate_limited


def test_status_fault_answers_with_body_and_never_reaches_upstream(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    proxy.inject(error(503, '{"badRequest": {"message": "down"}}'))
    r = requests.get(f"{proxy.url}/v2.0/ports", timeout=5)
    assert r.status_code == 503
    assert r.json() == {"badRequest": {"message": "down"}}
    assert r.headers["Content-Type"].startswith("application/json")
    assert upstream.hits == 0
    [call] = proxy.calls.all()
    assert (call.status, call.fault, call.forwarded) == (503, "respond", False)


def test_default_error_body_is_openstack_like(proxy: FaultProxy) -> None:
    proxy.inject(error(500))
    r = requests.get(f"{proxy.url}/x", timeout=5)
    assert r.json()["error"]["code"] == 500


def test_rate_limit_sends_429_with_retry_after(proxy: FaultProxy) -> None:
    proxy.inject(rate_limited(retry_after=2))
    r = requests.get(f"{proxy.url}/x", timeout=5)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "2"
    proxy.reset()
    proxy.inject(rate_limited(retry_after="Wed, 21 Oct 2026 07:28:00 GMT"))
    assert requests.get(f"{proxy.url}/x", timeout=5).headers["Retry-After"].startswith("Wed")


def test_latency_delays_then_forwards(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.inject(Delay(0.15), path="^/slow")
    start = time.monotonic()
    r = requests.get(f"{proxy.url}/slow", timeout=5)
    elapsed = time.monotonic() - start
    assert r.status_code == 200
    assert elapsed >= 0.15
    assert upstream.hits == 1
    assert proxy.calls.all()[0].delayed == pytest.approx(0.15)
    requests.get(f"{proxy.url}/fast", timeout=5)
    assert [c.delayed for c in proxy.calls.all()] == [pytest.approx(0.15), 0.0]


def test_latencies_add_up_and_combine_with_a_terminal_fault(proxy: FaultProxy) -> None:
    proxy.inject(Delay(0.05))
    proxy.inject(Delay(0.05))
    proxy.inject(error(502))
    start = time.monotonic()
    assert requests.get(f"{proxy.url}/x", timeout=5).status_code == 502
    assert time.monotonic() - start >= 0.1


def test_reset_closes_the_connection_without_response(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    proxy.inject(Reset())
    with pytest.raises(requests.ConnectionError) as info:
        requests.get(f"{proxy.url}/x", timeout=5)
    assert "reset" in str(info.value).lower()
    assert upstream.hits == 0
    [call] = proxy.calls.all()
    assert (call.status, call.fault) == (None, "reset")


def test_hang_makes_the_client_time_out(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.inject(Hang(30.0))
    start = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{proxy.url}/x", timeout=0.2)
    assert time.monotonic() - start < 15  # not the 30 s hang (slack for a loaded machine)
    assert upstream.hits == 0
    # stop() must not wait for the held connection to finish its 30 s.
    start = time.monotonic()
    proxy.stop()
    assert time.monotonic() - start < 15  # not the 30 s hang (slack for a loaded machine)


def test_hang_then_close_without_answer(proxy: FaultProxy) -> None:
    proxy.inject(Hang(0.1))
    with pytest.raises(requests.ConnectionError) as info:
        requests.get(f"{proxy.url}/x", timeout=5)
    assert "without response" in str(info.value)


def test_upstream_errors_are_recorded_too(proxy: FaultProxy) -> None:
    requests.get(f"{proxy.url}/status/500", timeout=5)
    assert [(c.status, c.forwarded) for c in proxy.calls.all()] == [(500, True)]
