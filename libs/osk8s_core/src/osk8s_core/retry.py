"""Retry and wait policies as data, run by tenacity.

``RetryPolicy`` says which of our errors are worth repeating and how long to back off;
``wait_for_status`` is the one "poll until ACTIVE/available" loop. Both take ``sleep`` and
``clock`` so tests run in no time. This module sees only ``osk8s_core.errors`` types (mapping
library exceptions is ``openstack.errors``' job) and never logs: callers pass hooks.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final, TypeVar

import tenacity

from osk8s_core import errors

T = TypeVar("T")
Sleep = Callable[[float], None]
Clock = Callable[[], float]
Random = Callable[[], float]
BeforeSleep = Callable[[BaseException, int, float], None]
"""Called before each back-off with (error, attempt number, seconds about to sleep)."""

# RequestTimeout is a ServiceUnavailable, so it is covered too.
RETRYABLE: Final[tuple[type[errors.OpenStackError], ...]] = (
    errors.ServiceUnavailable,
    errors.ServerError,
    errors.RateLimited,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How one OpenStack call is repeated on transient failure."""

    max_attempts: int = 5
    """Total attempts including the first; 1 means never retry."""
    max_elapsed: float = 120.0
    """Seconds from the first attempt after which no new attempt starts (sleeps included)."""
    backoff_base: float = 0.5
    """Seconds before the second attempt."""
    backoff_factor: float = 2.0
    """Each further delay is the previous one times this."""
    backoff_cap: float = 30.0
    """Upper bound of a computed delay (a longer Retry-After is still honoured)."""
    jitter: float = 0.2
    """Delays are spread uniformly by +/- this fraction, so replicas do not retry in step."""
    retry_conflict: bool = False
    """Repeat on 409 too: only for calls where a conflict means "busy, try again" (e.g. Octavia
    PENDING_UPDATE), never where it means "already exists"."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.max_elapsed, self.backoff_base, self.backoff_cap, self.jitter) < 0:
            raise ValueError("durations and jitter must not be negative")
        if self.backoff_factor < 1 or self.jitter > 1:
            raise ValueError("backoff_factor must be >= 1 and jitter within [0, 1]")

    def backoff(self, attempt: int, rand: float = 0.5) -> float:
        """Delay after failed attempt number ``attempt`` (1-based); ``rand`` in [0, 1)."""
        raw = self.backoff_base * self.backoff_factor ** max(0, attempt - 1)
        delay = min(self.backoff_cap, raw)
        return max(0.0, delay * (1.0 + self.jitter * (2.0 * rand - 1.0)))

    def is_retryable(self, exc: BaseException, *, idempotent: bool = True) -> bool:
        """Whether ``exc`` is worth another attempt of the same call.

        A non-idempotent call (create, attach) is repeated only when the server surely did not
        act on it: the request never reached it, it answered 429 (refused before acting), or a
        409 the policy declares safe.
        """
        if isinstance(exc, errors.Conflict):
            return self.retry_conflict
        if isinstance(exc, errors.RateLimited):
            return True
        if not isinstance(exc, RETRYABLE):
            return False
        if idempotent:
            return True
        return isinstance(exc, errors.ServiceUnavailable) and exc.not_sent


NO_RETRY: Final = RetryPolicy(max_attempts=1)
DEFAULT_POLICY: Final = RetryPolicy()


class _Wait(tenacity.wait.wait_base):
    def __init__(self, policy: RetryPolicy, rand: Random) -> None:
        self._policy = policy
        self._rand = rand

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        delay = self._policy.backoff(retry_state.attempt_number, self._rand())
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(exc, errors.RateLimited) and exc.retry_after is not None:
            # Honour the server: never come back earlier than it asked.
            delay = max(delay, exc.retry_after)
        return delay


class _Stop(tenacity.stop.stop_base):
    def __init__(self, policy: RetryPolicy, clock: Clock) -> None:
        self._policy = policy
        self._clock = clock
        self._start = clock()

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        if retry_state.attempt_number >= self._policy.max_attempts:
            return True
        elapsed = self._clock() - self._start
        return elapsed + retry_state.upcoming_sleep > self._policy.max_elapsed


def call_with_retry(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    idempotent: bool = True,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
    rand: Random = random.random,
    before_sleep: BeforeSleep | None = None,
) -> T:
    """Call ``fn`` until it succeeds, a non-retryable error, or the policy's budget is spent;
    the last error is re-raised as it was (tenacity's RetryError never escapes)."""

    def _before_sleep(state: tenacity.RetryCallState) -> None:
        outcome = state.outcome
        if before_sleep is not None and outcome is not None and outcome.failed:
            exc = outcome.exception()
            if exc is not None:
                before_sleep(exc, state.attempt_number, state.upcoming_sleep)

    retrying = tenacity.Retrying(
        stop=_Stop(policy, clock),
        wait=_Wait(policy, rand),
        retry=tenacity.retry_if_exception(
            lambda exc: policy.is_retryable(exc, idempotent=idempotent)
        ),
        sleep=sleep,
        before_sleep=_before_sleep,
        reraise=True,
    )
    return retrying(fn)


@dataclass(frozen=True)
class WaitPolicy:
    """How ``wait_for_status`` polls."""

    timeout: float = 300.0
    """Seconds after which the wait fails with WaitTimeout."""
    interval: float = 1.0
    """Seconds between the first polls."""
    factor: float = 1.5
    """Each further interval is the previous one times this."""
    max_interval: float = 15.0
    """Upper bound of the poll interval."""
    max_transient_errors: int = 10
    """Consecutive transient errors (5xx, unreachable, 429) tolerated while polling."""

    def __post_init__(self) -> None:
        if self.timeout < 0 or self.interval <= 0 or self.factor < 1 or self.max_interval <= 0:
            raise ValueError("invalid wait policy")


def _status_attr(resource: object) -> str:
    if isinstance(resource, str):
        return resource
    return str(getattr(resource, "status", ""))


def wait_for_status(
    fetch: Callable[[], T],
    *,
    target: str | Collection[str],
    failure: Collection[str] = ("ERROR",),
    policy: WaitPolicy = WaitPolicy(),  # frozen, so sharing the default is safe
    describe: str,
    status_of: Callable[[T], str] = _status_attr,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
) -> T:
    """Poll ``fetch`` until ``status_of(result)`` is in ``target``; return that result.

    Raises ResourceError when a ``failure`` status shows up, WaitTimeout (with the last status
    seen) when ``policy.timeout`` passes. Transient errors while polling are tolerated up to
    ``policy.max_transient_errors`` in a row. For delete waits, let ``fetch`` turn NotFound
    into a status such as "DELETED" and pass that as ``target``. Statuses compare
    case-insensitively (Cinder says "available", Nova "ACTIVE").
    """
    targets = {target.upper()} if isinstance(target, str) else {t.upper() for t in target}
    failures = {f.upper() for f in failure}
    start = clock()
    last_status: list[str | None] = [None]
    errors_in_row = [0]

    def attempt() -> T:
        try:
            result = fetch()
        except RETRYABLE:
            errors_in_row[0] += 1
            raise
        errors_in_row[0] = 0
        status = status_of(result)
        last_status[0] = status
        if status.upper() in failures:
            raise errors.ResourceError(f"{describe} went into status {status}")
        return result

    def transient(exc: BaseException) -> bool:
        return isinstance(exc, RETRYABLE) and errors_in_row[0] <= policy.max_transient_errors

    def pending(result: T) -> bool:
        return status_of(result).upper() not in targets

    def wait(state: tenacity.RetryCallState) -> float:
        step = policy.interval * policy.factor ** (state.attempt_number - 1)
        remaining = policy.timeout - (clock() - start)
        return max(0.0, min(step, policy.max_interval, remaining))

    def stop(state: tenacity.RetryCallState) -> bool:
        return clock() - start >= policy.timeout

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(transient) | tenacity.retry_if_result(pending),
        wait=wait,
        stop=stop,
        sleep=sleep,
    )
    try:
        return retrying(attempt)
    except tenacity.RetryError as exc:
        last = exc.last_attempt
        cause = last.exception() if last.failed else None
        message = f"timed out after {policy.timeout:g}s waiting for {describe} to become " + (
            "/".join(sorted(targets)) + f" (last status {last_status[0] or 'unknown'})"
        )
        raise errors.WaitTimeout(message, last_status=last_status[0]) from cause
