"""retry.py: which errors are repeated, how long we back off, and wait_for_status."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from osk8s_core import errors
from osk8s_core.retry import (
    NO_RETRY,
    RetryPolicy,
    WaitPolicy,
    call_with_retry,
    wait_for_status,
)


@dataclass
class FakeTime:
    """A clock that only moves when someone sleeps."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _failing(*outcomes: BaseException | str) -> Callable[[], str]:
    """A call that raises/returns the given outcomes in order, recording how often it ran."""
    it: Iterator[BaseException | str] = iter(outcomes)

    def call() -> str:
        item = next(it)
        if isinstance(item, BaseException):
            raise item
        return item

    return call


POLICY = RetryPolicy(max_attempts=5, backoff_base=1.0, backoff_factor=2.0, jitter=0.0)


def _run(fn: Callable[[], str], t: FakeTime, policy: RetryPolicy = POLICY, **kw: bool) -> str:
    return call_with_retry(fn, policy=policy, sleep=t.sleep, clock=t.clock, rand=lambda: 0.5, **kw)


def test_server_errors_retried_with_exponential_backoff() -> None:
    t = FakeTime()
    fn = _failing(errors.ServerError("a", status=500), errors.ServerError("b", status=502), "ok")
    assert _run(fn, t) == "ok"
    assert t.sleeps == [1.0, 2.0]


def test_backoff_is_capped_and_jittered_within_bounds() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_factor=10.0, backoff_cap=5.0, jitter=0.2)
    assert policy.backoff(1, rand=0.5) == 1.0
    assert policy.backoff(3, rand=0.5) == 5.0  # 100 s capped at 5
    assert policy.backoff(3, rand=0.0) == pytest.approx(4.0)
    assert policy.backoff(3, rand=0.999999) == pytest.approx(6.0, abs=1e-4)


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    t = FakeTime()
    last = errors.ServiceUnavailable("down 3")
    fn = _failing(errors.ServiceUnavailable("1"), errors.ServiceUnavailable("2"), last, "never")
    with pytest.raises(errors.ServiceUnavailable) as info:
        _run(fn, t, RetryPolicy(max_attempts=3, backoff_base=1.0, jitter=0.0))
    assert info.value is last
    assert len(t.sleeps) == 2


def test_max_elapsed_stops_before_a_sleep_that_would_overrun() -> None:
    t = FakeTime()
    policy = RetryPolicy(
        max_attempts=100, max_elapsed=10.0, backoff_base=4.0, backoff_factor=1.0, jitter=0.0
    )
    fn = _failing(*[errors.ServerError("x", status=500)] * 10)
    with pytest.raises(errors.ServerError):
        _run(fn, t, policy)
    assert t.sleeps == [4.0, 4.0]  # a third 4 s sleep would end at 12 s > 10 s


def test_retry_after_is_honoured_even_above_the_cap() -> None:
    t = FakeTime()
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=2.0, jitter=0.0, max_elapsed=100.0)
    fn = _failing(errors.RateLimited("slow down", retry_after=42.0), "ok")
    assert _run(fn, t, policy) == "ok"
    assert t.sleeps == [42.0]


def test_retry_after_beyond_the_budget_gives_up() -> None:
    t = FakeTime()
    fn = _failing(errors.RateLimited("slow down", retry_after=500.0), "ok")
    with pytest.raises(errors.RateLimited):
        _run(fn, t, RetryPolicy(max_elapsed=60.0, jitter=0.0))
    assert t.sleeps == []


@pytest.mark.parametrize(
    "exc",
    [
        errors.NotFound("x"),
        errors.BadRequest("x"),
        errors.Unauthorized("x"),
        errors.Forbidden("x"),
        errors.OverLimit("x"),
        errors.Conflict("x"),
        ValueError("bug"),
    ],
)
def test_non_retryable_errors_are_raised_at_once(exc: BaseException) -> None:
    t = FakeTime()
    with pytest.raises(type(exc)):
        _run(_failing(exc, "ok"), t)
    assert t.sleeps == []


def test_conflict_retried_only_when_policy_says_safe() -> None:
    t = FakeTime()
    policy = RetryPolicy(retry_conflict=True, backoff_base=1.0, jitter=0.0)
    assert _run(_failing(errors.Conflict("PENDING_UPDATE"), "ok"), t, policy) == "ok"
    assert t.sleeps == [1.0]


@pytest.mark.parametrize(
    ("exc", "retried"),
    [
        (errors.ServiceUnavailable("refused", not_sent=True), True),
        (errors.RequestTimeout("connect timeout", not_sent=True), True),
        (errors.ServiceUnavailable("reset", not_sent=False), False),
        (errors.RequestTimeout("read timeout", not_sent=False), False),
        (errors.ServerError("500", status=500), False),
        (errors.RateLimited("429"), True),
    ],
)
def test_non_idempotent_calls_repeat_only_when_surely_not_applied(
    exc: BaseException, retried: bool
) -> None:
    t = FakeTime()
    fn = _failing(exc, "ok")
    if retried:
        assert _run(fn, t, idempotent=False) == "ok"
    else:
        with pytest.raises(type(exc)):
            _run(fn, t, idempotent=False)
    assert len(t.sleeps) == int(retried)


def test_no_retry_policy_makes_one_attempt() -> None:
    t = FakeTime()
    with pytest.raises(errors.ServerError):
        _run(_failing(errors.ServerError("x"), "ok"), t, NO_RETRY)
    assert t.sleeps == []


def test_before_sleep_hook_sees_each_retried_error() -> None:
    t = FakeTime()
    seen: list[tuple[str, int, float]] = []
    first, second = errors.ServerError("first"), errors.ServerError("second")
    call_with_retry(
        _failing(first, second, "ok"),
        policy=POLICY,
        sleep=t.sleep,
        clock=t.clock,
        before_sleep=lambda e, n, d: seen.append((str(e), n, d)),
    )
    assert seen == [("first", 1, 1.0), ("second", 2, 2.0)]


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"backoff_base": -1.0}, {"backoff_factor": 0.5}, {"jitter": 2.0}],
)
def test_invalid_policies_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


# --- wait_for_status -------------------------------------------------------------------------


@dataclass
class Volume:
    status: str


WAIT = WaitPolicy(timeout=60.0, interval=1.0, factor=2.0, max_interval=8.0)


def _statuses(*outcomes: BaseException | str) -> Callable[[], Volume]:
    inner = _failing(*outcomes)
    return lambda: Volume(inner())


def test_wait_returns_the_resource_when_target_reached() -> None:
    t = FakeTime()
    fetch = _statuses("creating", "creating", "available")
    vol = wait_for_status(
        fetch, target="available", policy=WAIT, describe="volume v1", sleep=t.sleep, clock=t.clock
    )
    assert vol == Volume("available")
    assert t.sleeps == [1.0, 2.0]


def test_wait_is_case_insensitive_and_accepts_several_targets() -> None:
    t = FakeTime()
    vol = wait_for_status(
        _statuses("BUILD", "active"),
        target=("ACTIVE", "SHUTOFF"),
        policy=WAIT,
        describe="server s1",
        sleep=t.sleep,
        clock=t.clock,
    )
    assert vol.status == "active"


def test_wait_raises_resource_error_on_failure_status() -> None:
    t = FakeTime()
    with pytest.raises(errors.ResourceError, match="volume v1 went into status error"):
        wait_for_status(
            _statuses("creating", "error", "available"),
            target="available",
            failure=("error", "error_restoring"),
            policy=WAIT,
            describe="volume v1",
            sleep=t.sleep,
            clock=t.clock,
        )
    assert t.sleeps == [1.0]


def test_wait_timeout_carries_last_status() -> None:
    t = FakeTime()
    policy = WaitPolicy(timeout=10.0, interval=1.0, factor=2.0, max_interval=4.0)
    with pytest.raises(errors.WaitTimeout) as info:
        wait_for_status(
            lambda: Volume("PENDING_UPDATE"),
            target="ACTIVE",
            policy=policy,
            describe="load balancer lb1",
            sleep=t.sleep,
            clock=t.clock,
        )
    assert info.value.last_status == "PENDING_UPDATE"
    assert "lb1" in str(info.value)
    assert "PENDING_UPDATE" in str(info.value)
    # 1 + 2 + 4 + 3 (clipped to the deadline): the last poll happens exactly at the timeout.
    assert t.sleeps == [1.0, 2.0, 4.0, 3.0]
    assert t.now - 1000.0 == 10.0


def test_wait_tolerates_transient_errors_while_polling() -> None:
    t = FakeTime()
    fetch = _statuses(
        "creating",
        errors.ServerError("503", status=503),
        errors.ServiceUnavailable("reset"),
        "available",
    )
    vol = wait_for_status(
        fetch, target="available", policy=WAIT, describe="volume v1", sleep=t.sleep, clock=t.clock
    )
    assert vol.status == "available"


def test_wait_gives_up_after_too_many_transient_errors_in_a_row() -> None:
    t = FakeTime()
    policy = WaitPolicy(timeout=1000.0, interval=1.0, factor=1.0, max_transient_errors=2)
    boom = [errors.ServerError(f"e{i}", status=500) for i in range(3)]
    with pytest.raises(errors.ServerError) as info:
        wait_for_status(
            _statuses(*boom, "available"),
            target="available",
            policy=policy,
            describe="volume v1",
            sleep=t.sleep,
            clock=t.clock,
        )
    assert info.value is boom[2]


def test_wait_does_not_swallow_permanent_errors() -> None:
    t = FakeTime()
    with pytest.raises(errors.Forbidden):
        wait_for_status(
            _statuses(errors.Forbidden("policy"), "available"),
            target="available",
            policy=WAIT,
            describe="volume v1",
            sleep=t.sleep,
            clock=t.clock,
        )
    assert t.sleeps == []


def test_wait_for_deletion_via_not_found() -> None:
    t = FakeTime()
    inner = _failing("deleting", errors.NotFound("gone"))

    def fetch() -> str:
        try:
            return inner()
        except errors.NotFound:
            return "DELETED"

    assert (
        wait_for_status(
            fetch, target="DELETED", policy=WAIT, describe="volume v1", sleep=t.sleep, clock=t.clock
        )
        == "DELETED"
    )


def test_wait_timeout_after_transient_error_chains_it() -> None:
    t = FakeTime()
    policy = WaitPolicy(timeout=3.0, interval=1.0, factor=1.0)
    err = errors.ServiceUnavailable("down")
    fetch = _statuses("creating", *[err] * 10)
    with pytest.raises(errors.WaitTimeout) as info:
        wait_for_status(
            fetch,
            target="available",
            policy=policy,
            describe="volume v1",
            sleep=t.sleep,
            clock=t.clock,
        )
    assert info.value.last_status == "creating"
    assert info.value.__cause__ is err
