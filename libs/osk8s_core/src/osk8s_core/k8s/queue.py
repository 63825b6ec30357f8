"""Work queue of object keys for controllers (client-go's rate-limited delaying queue).

Guarantees: a key is handed to at most one worker at a time; adding a key already queued is a
no-op; a key added while a worker holds it is queued once more when the worker calls ``done``;
failed keys come back after a per-key exponential backoff until ``forget``. It holds keys only,
never objects (workers read the informer's cache), and never calls the API server.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import deque

from osk8s_core.k8s.clock import Clock
from osk8s_core.k8s.ratelimit import ItemBackoff


class WorkQueue:
    """Thread-safe; ``get`` blocks. After ``shut_down`` every ``get`` returns None at once."""

    def __init__(self, *, clock: Clock, backoff: ItemBackoff | None = None) -> None:
        self._clock = clock
        self._backoff = backoff or ItemBackoff()
        self._cond = threading.Condition()
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()  # keys waiting in _queue or to be re-queued on done()
        self._processing: set[str] = set()
        self._ready_at: dict[str, float] = {}  # delayed keys: earliest time each is due
        self._delayed: list[tuple[float, int, str]] = []  # heap; stale entries skipped
        self._seq = itertools.count()
        self._shutting_down = False

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        with self._cond:
            return self._shutting_down

    def add(self, key: str) -> None:
        with self._cond:
            self._add_locked(key)

    def add_after(self, key: str, delay: float) -> None:
        """Queue ``key`` once ``delay`` seconds have passed (the earliest request wins)."""
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shutting_down:
                return
            ready_at = self._clock.monotonic() + delay
            if self._ready_at.get(key, ready_at + 1) <= ready_at:
                return
            self._ready_at[key] = ready_at
            heapq.heappush(self._delayed, (ready_at, next(self._seq), key))
            self._cond.notify_all()  # a blocked get() may now have an earlier wake-up

    def add_rate_limited(self, key: str) -> None:
        """Re-queue a failed ``key`` after its backoff (grows with each failure)."""
        self.add_after(key, self._backoff.when(key))

    def forget(self, key: str) -> None:
        """The key succeeded: reset its backoff. Does not remove it from the queue."""
        self._backoff.forget(key)

    def num_requeues(self, key: str) -> int:
        return self._backoff.failures(key)

    def get(self, timeout: float | None = None) -> str | None:
        """Next key (now held by the caller until ``done``); None on shutdown or timeout."""
        with self._cond:
            deadline = None if timeout is None else self._clock.monotonic() + timeout
            while True:
                if self._shutting_down:
                    return None
                now = self._clock.monotonic()
                self._promote_due_locked(now)
                if self._queue:
                    key = self._queue.popleft()
                    self._dirty.discard(key)
                    self._processing.add(key)
                    return key
                wait = self._delayed[0][0] - now if self._delayed else None
                if deadline is not None:
                    if deadline <= now:
                        return None
                    wait = deadline - now if wait is None else min(wait, deadline - now)
                self._cond.wait(wait)

    def done(self, key: str) -> None:
        """The worker finished ``key``; if it was added meanwhile, queue it again now."""
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty and not self._shutting_down:
                self._queue.append(key)
                self._cond.notify()

    def shut_down(self) -> None:
        """Stop handing out keys and drop delayed ones; wakes every blocked ``get``."""
        with self._cond:
            self._shutting_down = True
            self._delayed.clear()
            self._ready_at.clear()
            self._cond.notify_all()

    def _add_locked(self, key: str) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return  # done() re-queues it, so two workers never hold the same key
        self._queue.append(key)
        self._cond.notify()

    def _promote_due_locked(self, now: float) -> None:
        while self._delayed and self._delayed[0][0] <= now:
            ready_at, _, key = heapq.heappop(self._delayed)
            if self._ready_at.get(key) == ready_at:
                del self._ready_at[key]
                self._add_locked(key)
