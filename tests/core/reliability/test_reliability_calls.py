"""Reliability of the core's OpenStack call layer, through the fault proxy.

Real HTTP end to end: openstacksdk (built by ``osk8s_core.credentials``) -> fault proxy -> a tiny
OpenStack upstream, every call made through ``OpenStackClient.call``. The proxy's call log says
how many attempts went out; the upstream's says which of them reached it; the registry says
what the metrics counted. Sleeps are recorded, not slept.
"""

from __future__ import annotations

import time

import pytest
from rel_cloud import PROJECT
from rel_harness import Harness

from osk8s_core import errors
from osk8s_core.retry import RetryPolicy
from osk8s_testing.faultproxy import Delay, Hang, Reset, error, rate_limited

VOLUMES = f"/volume/v3/{PROJECT}/volumes"
TOTAL = "openstack_api_requests_total"
ERRORS = "openstack_api_request_errors_total"


def _existing_volume(h: Harness) -> str:
    h.cloud.volumes["v1"] = {"id": "v1", "status": "available", "size": 1}
    return "v1"


def test_5xx_twice_then_success_takes_exactly_three_calls(harness: Harness) -> None:
    volume_id = _existing_volume(harness)
    harness.proxy.inject(error(503), method="GET", path=f"{VOLUMES}/{volume_id}$", first=2)
    volume = harness.client().call(
        "volume_get", harness.connection.block_storage.get_volume, volume_id
    )
    assert volume.status == "available"
    assert harness.proxy.calls.count("GET", f"{VOLUMES}/{volume_id}$") == 3
    assert harness.cloud.count("GET", f"{VOLUMES}/{volume_id}") == 1
    assert harness.sleeps == [0.5, 1.0]  # the policy's back-off, no jitter
    assert harness.metric(TOTAL, "volume_get") == 3
    assert harness.metric(ERRORS, "volume_get") == 2
    assert [w["status"] for w in harness.logger.warnings] == [503, 503]
    assert all(w["error"] == "ServerError" for w in harness.logger.warnings)


def test_429_retry_after_is_waited_at_least(harness: Harness) -> None:
    volume_id = _existing_volume(harness)
    harness.proxy.inject(rate_limited(retry_after=7), path=f"{VOLUMES}/", first=1)
    harness.client().call("volume_get", harness.connection.block_storage.get_volume, volume_id)
    assert harness.proxy.calls.count("GET", VOLUMES) == 2
    # The computed back-off (0.5 s) is shorter: the server's Retry-After wins.
    assert harness.sleeps == [7.0]
    assert harness.logger.warnings[0]["error"] == "RateLimited"


def test_short_retry_after_really_waits(harness: Harness) -> None:
    volume_id = _existing_volume(harness)
    client = harness.client(real_sleep=True)  # this one waits for real, to see it on the wire
    harness.connection.block_storage.get_volume(volume_id)  # authenticate before timing
    harness.proxy.calls.clear()
    harness.proxy.inject(rate_limited(retry_after=0.2), path=f"{VOLUMES}/", first=1)
    start = time.monotonic()
    client.call("volume_get", harness.connection.block_storage.get_volume, volume_id)
    elapsed = time.monotonic() - start
    assert elapsed >= 0.2
    assert [c.status for c in harness.proxy.calls.all()] == [429, 200]


def test_timeouts_are_retried(hang_harness: Harness) -> None:
    h = hang_harness
    volume_id = _existing_volume(h)
    h.proxy.inject(Hang(30.0), path=f"{VOLUMES}/", first=1)
    volume = h.client().call("volume_get", h.connection.block_storage.get_volume, volume_id)
    assert volume.id == volume_id
    assert [c.fault for c in h.proxy.calls.matching("GET", VOLUMES)] == ["hang", None]
    assert [w["error"] for w in h.logger.warnings] == ["RequestTimeout"]
    assert h.sleeps == [0.5]
    assert h.metric(ERRORS, "volume_get") == 1


def test_timeout_of_a_create_is_not_retried(hang_harness: Harness) -> None:
    h = hang_harness
    h.proxy.inject(Hang(30.0), method="POST", path=f"{VOLUMES}$", first=1)
    with pytest.raises(errors.RequestTimeout):
        h.client().call(
            "volume_create", h.connection.block_storage.create_volume, size=1, idempotent=False
        )
    assert h.proxy.calls.count("POST", f"{VOLUMES}$") == 1
    assert h.sleeps == []


def test_reset_is_retried_for_idempotent_calls(harness: Harness) -> None:
    volume_id = _existing_volume(harness)
    harness.proxy.inject(Reset(), path=f"{VOLUMES}/", first=1)
    harness.client().call("volume_get", harness.connection.block_storage.get_volume, volume_id)
    assert [c.fault for c in harness.proxy.calls.matching("GET", VOLUMES)] == ["reset", None]
    assert harness.logger.warnings[0]["error"] == "ServiceUnavailable"
    assert harness.metric(ERRORS, "volume_get") == 1


def test_reset_is_not_retried_for_non_idempotent_calls(harness: Harness) -> None:
    harness.proxy.inject(Reset(), method="POST", path=f"{VOLUMES}$", first=1)
    with pytest.raises(errors.ServiceUnavailable) as info:
        harness.client().call(
            "volume_create",
            harness.connection.block_storage.create_volume,
            size=1,
            idempotent=False,
        )
    # A reset may come after the server acted: the error must not claim "not sent".
    assert info.value.not_sent is False
    assert harness.proxy.calls.count("POST", f"{VOLUMES}$") == 1
    assert harness.sleeps == []
    assert harness.metric(TOTAL, "volume_create") == 1
    assert harness.metric(ERRORS, "volume_create") == 1


def test_reset_of_a_create_is_retried_when_declared_idempotent(harness: Harness) -> None:
    harness.proxy.inject(Reset(), method="POST", path=f"{VOLUMES}$", first=1)
    harness.client().call("volume_create", harness.connection.block_storage.create_volume, size=1)
    assert harness.proxy.calls.count("POST", f"{VOLUMES}$") == 2
    assert len(harness.cloud.volumes) == 1


def test_5xx_on_a_create_is_not_retried(harness: Harness) -> None:
    harness.proxy.inject(error(500), method="POST", path=f"{VOLUMES}$", first=1)
    with pytest.raises(errors.ServerError):
        harness.client().call(
            "volume_create",
            harness.connection.block_storage.create_volume,
            size=1,
            idempotent=False,
        )
    assert harness.proxy.calls.count("POST", f"{VOLUMES}$") == 1


def test_429_on_a_create_is_retried_and_creates_once(harness: Harness) -> None:
    harness.proxy.inject(rate_limited(retry_after=1), method="POST", path=f"{VOLUMES}$", first=1)
    harness.client().call(
        "volume_create",
        harness.connection.block_storage.create_volume,
        size=3,
        idempotent=False,
    )
    assert harness.proxy.calls.count("POST", f"{VOLUMES}$") == 2
    assert [v["size"] for v in harness.cloud.volumes.values()] == [3]
    assert harness.sleeps == [1.0]


def test_retry_budget_spent_raises_the_last_error(harness: Harness) -> None:
    volume_id = _existing_volume(harness)
    harness.proxy.inject(error(502), path=f"{VOLUMES}/")
    with pytest.raises(errors.ServerError) as info:
        harness.client(RetryPolicy(max_attempts=3, jitter=0.0)).call(
            "volume_get", harness.connection.block_storage.get_volume, volume_id
        )
    assert info.value.status == 502
    assert harness.proxy.calls.count("GET", VOLUMES) == 3
    assert harness.cloud.count("GET", VOLUMES) == 0
    assert harness.sleeps == [0.5, 1.0]
    assert harness.metric(TOTAL, "volume_get") == harness.metric(ERRORS, "volume_get") == 3


def test_not_found_is_not_retried(harness: Harness) -> None:
    with pytest.raises(errors.NotFound):
        harness.client().call("volume_get", harness.connection.block_storage.get_volume, "missing")
    assert harness.proxy.calls.count("GET", VOLUMES) == 1
    assert harness.sleeps == []


def test_keystone_outage_during_auth_is_retried(harness: Harness) -> None:
    volume_id = _existing_volume(harness)
    harness.proxy.inject(error(503), method="POST", path="/auth/tokens$", first=1)
    # A lambda: ``connection.block_storage`` itself authenticates and discovers on first use,
    # so it must be reached inside the call layer (see the xfail test below).
    volume = harness.client().call(
        "volume_get", lambda: harness.connection.block_storage.get_volume(volume_id)
    )
    assert volume.id == volume_id
    assert [c.status for c in harness.proxy.calls.matching("POST", "/auth/tokens$")] == [503, 201]
    assert harness.metric(ERRORS, "volume_get") == 1


def test_keystone_outage_on_first_proxy_access_is_retried(harness: Harness) -> None:
    # client.service() defers `connection.block_storage` (auth + discovery) into the call.
    volume_id = _existing_volume(harness)
    harness.proxy.inject(error(503), method="POST", path="/auth/tokens$", first=1)
    client = harness.client()
    volume = client.call("volume_get", client.service("block_storage").get_volume, volume_id)
    assert volume.id == volume_id
    assert [c.status for c in harness.proxy.calls.matching("POST", "/auth/tokens$")] == [503, 201]
    assert harness.metric(ERRORS, "volume_get") == 1


def test_added_latency_shows_in_the_duration_metric(harness: Harness) -> None:
    volume_id = _existing_volume(harness)
    harness.connection.block_storage.get_volume(volume_id)  # authenticate first
    harness.proxy.inject(Delay(0.2), path=f"{VOLUMES}/")
    harness.client().call("volume_get", harness.connection.block_storage.get_volume, volume_id)
    seconds = harness.metric("openstack_api_request_duration_seconds_sum", "volume_get")
    assert 0.2 <= seconds < 5.0  # upper bound only catches a wildly wrong unit


def test_seeded_random_failures_all_converge(harness: Harness) -> None:
    volume_id = _existing_volume(harness)
    rule = harness.proxy.inject(error(503), path=f"{VOLUMES}/", probability=0.4, seed=7)
    client = harness.client(RetryPolicy(max_attempts=10, jitter=0.0))
    for _ in range(10):
        client.call("volume_get", harness.connection.block_storage.get_volume, volume_id)
    assert rule.fired > 0
    assert harness.cloud.count("GET", f"{VOLUMES}/{volume_id}") == 10
    assert harness.metric(TOTAL, "volume_get") == 10 + rule.fired
    assert harness.metric(ERRORS, "volume_get") == rule.fired
