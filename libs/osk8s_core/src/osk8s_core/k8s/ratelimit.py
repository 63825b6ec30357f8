"""Rate limits of the Kubernetes runtime: a client-side token bucket and per-key backoff.

``TokenBucket`` caps requests to the API server (client-go's QPS/burst); ``ItemBackoff`` spaces
the retries of one failing work-queue key exponentially, with a cap (client-go's
``ItemExponentialFailureRateLimiter``). Both are thread-safe and read time only from the
injected clock; neither knows about HTTP or queues.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

from osk8s_core.k8s.clock import Clock


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` stored; each request takes one."""

    def __init__(self, *, rate: float, burst: int, clock: Clock) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._last = clock.monotonic()

    def reserve(self) -> float:
        """Take a token now, possibly borrowed; return how long the caller must wait first."""
        with self._lock:
            now = self._clock.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0
            # A negative balance is a queue of callers already promised future tokens.
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> None:
        """Block until a token is available (never raises, never gives up)."""
        delay = self.reserve()
        if delay > 0:
            self._clock.wait(threading.Event(), delay)


class ItemBackoff:
    """Per-key exponential delay: ``base * 2**failures``, capped at ``cap`` seconds."""

    def __init__(self, *, base: float = 0.005, cap: float = 1000.0) -> None:
        if base <= 0 or cap < base:
            raise ValueError("backoff needs 0 < base <= cap")
        self.base = base
        self.cap = cap
        self._lock = threading.Lock()
        self._failures: dict[Hashable, int] = {}

    def when(self, key: Hashable) -> float:
        """Record one more failure of ``key`` and return the delay before its retry."""
        with self._lock:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
        # Exponent bounded so 2**n cannot overflow a float for a key failing forever.
        return min(self.cap, self.base * 2.0 ** min(failures, 62))

    def failures(self, key: Hashable) -> int:
        with self._lock:
            return self._failures.get(key, 0)

    def forget(self, key: Hashable) -> None:
        """Reset ``key`` after a success: its next failure starts again at ``base``."""
        with self._lock:
            self._failures.pop(key, None)
