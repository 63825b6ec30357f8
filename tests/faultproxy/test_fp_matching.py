"""Which calls a rule hits: method + path regex, the Nth call, the first N, a seeded probability."""

from __future__ import annotations

import requests
from fp_upstream import Upstream

from osk8s_testing.faultproxy import FaultProxy, error
from osk8s_testing.faultproxy.fixtures import FaultProxyFactory


def _statuses(proxy: FaultProxy, method: str, path: str, times: int) -> list[int]:
    return [
        requests.request(method, f"{proxy.url}{path}", timeout=5).status_code for _ in range(times)
    ]


def test_method_and_path_regex_select_calls(proxy: FaultProxy) -> None:
    proxy.inject(error(503), method="post", path=r"^/v2\.0/ports$")
    assert requests.post(f"{proxy.url}/v2.0/ports", timeout=5).status_code == 503
    assert requests.get(f"{proxy.url}/v2.0/ports", timeout=5).status_code == 200
    assert requests.post(f"{proxy.url}/v2.0/networks", timeout=5).status_code == 200
    assert requests.post(f"{proxy.url}/v2.0/ports/abc", timeout=5).status_code == 200
    # the query string is not part of what the regex sees
    assert requests.post(f"{proxy.url}/v2.0/ports?fields=id", timeout=5).status_code == 503


def test_fail_the_nth_call_only(proxy: FaultProxy) -> None:
    rule = proxy.inject(error(500), path="^/volumes", nth=3)
    requests.get(f"{proxy.url}/other", timeout=5)  # does not match: not counted
    assert _statuses(proxy, "GET", "/volumes", 5) == [200, 200, 500, 200, 200]
    assert (rule.matched, rule.fired) == (5, 1)


def test_fail_the_first_n_calls_then_succeed(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.inject(error(503), first=2)
    assert _statuses(proxy, "GET", "/x", 3) == [503, 503, 200]
    assert upstream.hits == 1
    assert [c.status for c in proxy.calls.all()] == [503, 503, 200]
    assert proxy.calls.count("GET", "^/x") == 3


def test_seeded_probability_is_reproducible(
    fault_proxy: FaultProxyFactory, upstream: Upstream
) -> None:
    runs = []
    for _ in range(2):
        proxy = fault_proxy(upstream.url)
        proxy.inject(error(500), probability=0.5, seed=42)
        runs.append(_statuses(proxy, "GET", "/x", 12))
    assert runs[0] == runs[1]
    assert 500 in runs[0] and 200 in runs[0]


def test_first_terminal_rule_wins_and_others_only_count(proxy: FaultProxy) -> None:
    first = proxy.inject(error(502), first=1)
    second = proxy.inject(error(504), nth=2)
    assert _statuses(proxy, "GET", "/x", 3) == [502, 504, 200]
    assert (first.matched, first.fired) == (3, 1)
    assert (second.matched, second.fired) == (3, 1)


def test_reset_forgets_rules_and_calls(proxy: FaultProxy) -> None:
    proxy.inject(error(500))
    requests.get(f"{proxy.url}/x", timeout=5)
    proxy.reset()
    assert proxy.calls.all() == []
    assert requests.get(f"{proxy.url}/x", timeout=5).status_code == 200
