"""Time source for the Kubernetes runtime, injectable so tests can drive it.

``monotonic`` measures intervals (lease expiry, backoff, resync); ``now`` stamps objects sent to
the API server (Lease renewTime, Event timestamps); ``wait`` sleeps until a deadline or until a
stop event is set. This module holds no state and must not grow scheduling logic.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What the runtime needs from time."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, never going backwards."""
        ...

    def now(self) -> dt.datetime:
        """Wall-clock time, timezone-aware UTC."""
        ...

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Sleep up to ``seconds``; return True at once if ``stop`` is (or gets) set."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        return stop.wait(max(seconds, 0.0))
