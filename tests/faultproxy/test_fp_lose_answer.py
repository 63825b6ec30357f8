""" "Forward, then lose the answer": the upstream acts on the request, the client hears nothing.

Pins the three ways the answer is lost (reset at once, close without response, hold until the
client's read timeout) and that the call is recorded as forwarded with the status the upstream
gave, so tests can tell "the create happened" from "the create never arrived".
"""

from __future__ import annotations

import json
import time

import pytest
import requests
from fp_upstream import Upstream

from osk8s_testing.faultproxy import FaultProxy, LoseAnswer
from osk8s_testing.faultproxy.control import rule_from_json


def test_reset_after_the_upstream_answered(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.inject(LoseAnswer(), method="POST", path="^/volumes$")
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{proxy.url}/volumes", json={"size": 1}, timeout=5)
    assert upstream.hits == 1  # the request reached the service: only the answer was lost
    [call] = proxy.calls.all()
    assert (call.status, call.fault, call.upstream_status) == (None, "lose_answer", 200)
    assert call.forwarded


def test_close_without_response(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.inject(LoseAnswer(after="close"))
    with pytest.raises(requests.ConnectionError) as info:
        requests.post(f"{proxy.url}/x", data=b"payload", timeout=5)
    assert "without response" in str(info.value)
    assert upstream.hits == 1


def test_hang_turns_the_lost_answer_into_a_read_timeout(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    proxy.inject(LoseAnswer(after="hang", seconds=30.0))
    start = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        requests.post(f"{proxy.url}/x", timeout=0.5)
    assert time.monotonic() - start < 15  # not the 30 s hang (slack for a loaded machine)
    deadline = time.monotonic() + 30
    while upstream.hits == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert upstream.hits == 1


def test_only_scheduled_calls_lose_their_answer(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.inject(LoseAnswer(), method="POST", first=1)
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{proxy.url}/x", timeout=5)
    retried = requests.post(f"{proxy.url}/x", timeout=5)
    assert retried.status_code == 200
    assert upstream.hits == 2
    assert [(c.fault, c.forwarded) for c in proxy.calls.all()] == [
        ("lose_answer", True),
        (None, True),
    ]


def test_upstream_unreachable_is_not_a_lost_answer(fault_proxy: object) -> None:
    proxy = fault_proxy("http://127.0.0.1:9")  # type: ignore[operator]
    proxy.inject(LoseAnswer())
    r = requests.get(f"{proxy.url}/x", timeout=5)
    assert r.status_code == 502
    [call] = proxy.calls.all()
    assert call.fault is None


def test_control_endpoint_accepts_lose_answer(proxy: FaultProxy, upstream: Upstream) -> None:
    rule = {"method": "POST", "fault": "lose_answer", "after": "close", "first": 1}
    r = requests.post(f"{proxy.url}/__faults__", data=json.dumps(rule), timeout=5)
    assert r.status_code == 201
    [armed] = r.json()["rules"]
    assert (armed["fault"], armed["after"]) == ("lose_answer", "close")
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{proxy.url}/x", timeout=5)
    calls = requests.get(f"{proxy.url}/__faults__/calls", timeout=5).json()["calls"]
    assert calls[0]["upstream_status"] == 200
    assert upstream.hits == 1


@pytest.mark.parametrize(
    "rule",
    [
        {"fault": "lose_answer", "after": "sometime"},
        {"fault": "lose_answer", "after": "hang"},
    ],
)
def test_bad_lose_answer_rules_are_refused(rule: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="after"):
        rule_from_json(rule)
