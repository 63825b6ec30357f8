"""Token bucket (client QPS/burst) and per-key exponential backoff."""

from __future__ import annotations

import pytest

from osk8s_core.k8s.ratelimit import ItemBackoff, TokenBucket


def test_bucket_allows_burst_then_spaces_requests_at_rate(clock):
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.5)
    assert bucket.reserve() == pytest.approx(1.0)


def test_bucket_refills_over_time_but_not_above_burst(clock):
    bucket = TokenBucket(rate=1.0, burst=2, clock=clock)
    bucket.reserve()
    bucket.reserve()
    clock.advance(100.0)
    assert [bucket.reserve() for _ in range(2)] == [0.0, 0.0]
    assert bucket.reserve() == pytest.approx(1.0)


def test_acquire_sleeps_on_the_clock(clock):
    bucket = TokenBucket(rate=2.0, burst=1, clock=clock)
    for _ in range(3):
        bucket.acquire()
    assert clock.waited == [pytest.approx(0.5), pytest.approx(0.5)]


def test_bucket_rejects_nonsense():
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1, clock=None)  # type: ignore[arg-type]


def test_backoff_doubles_per_key_up_to_the_cap():
    backoff = ItemBackoff(base=0.005, cap=1000.0)
    delays = [backoff.when("a") for _ in range(4)]
    assert delays == [0.005, 0.01, 0.02, 0.04]
    assert backoff.when("b") == 0.005, "keys back off independently"
    for _ in range(200):
        last = backoff.when("a")
    assert last == 1000.0
    backoff.forget("a")
    assert backoff.failures("a") == 0
    assert backoff.when("a") == 0.005
