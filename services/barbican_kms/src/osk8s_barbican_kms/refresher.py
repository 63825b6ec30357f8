"""Runs ``KeyStore.refresh`` on a schedule and on demand (SIGHUP) in one background thread.

While the current key is not loaded it retries with a growing delay (1 s to the interval);
once loaded it refreshes every ``interval``. ``trigger()`` only sets an event, so it is safe
to call from a signal handler. It owns no keys and never blocks a gRPC call.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from osk8s_barbican_kms.keystore import RefreshResult


class Refreshable(Protocol):
    def refresh(self) -> RefreshResult: ...


class Logger(Protocol):
    def error(self, event: str, **kw: Any) -> Any: ...


class Refresher:
    def __init__(
        self,
        *,
        store: Refreshable,
        interval: float,
        logger: Logger,
        first_retry: float = 1.0,
    ) -> None:
        self._store = store
        self._interval = interval
        self._first_retry = min(first_retry, interval)
        self._log = logger
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0
        """Refreshes done by this thread (observability, tests)."""

    def start(self, *, loaded: bool) -> None:
        """Start the loop; ``loaded`` says whether the first (start-up) refresh succeeded."""
        self._thread = threading.Thread(
            target=self._run, args=(loaded,), name="kms-key-refresh", daemon=True
        )
        self._thread.start()

    def trigger(self) -> None:
        """Refresh now (SIGHUP). Async-signal-safe: sets an event only."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, loaded: bool) -> None:
        delay = self._interval if loaded else self._first_retry
        while True:
            self._wake.wait(delay)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                result = self._store.refresh()
            except Exception as exc:  # the loop must survive anything a refresh throws
                self._log.error("key_refresh_crashed", error_type=type(exc).__name__)
                delay = self._interval
                continue
            self.runs += 1
            if result.ring.current_problem() is None:
                delay = self._interval
            else:
                delay = min(self._interval, max(self._first_retry, delay * 2))
