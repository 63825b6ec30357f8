"""The record of calls a fault proxy saw, so tests can assert how many retries happened.

Thread-safe (the proxy's loop appends, the test thread reads). Records only what a test
asserts on: method, path, status, the fault applied; never headers or bodies (tokens live there).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    """Raw request path (percent-encoding kept), without the query string."""
    query: str
    status: int | None
    """Status sent to the client; None when the connection was reset or dropped unanswered."""
    fault: str | None
    """Kind of the terminal fault applied ("respond", "reset", "hang", "lose_answer"), None if
    forwarded and answered."""
    delayed: float = 0.0
    """Latency added before the call went on, in seconds."""
    upstream_status: int | None = None
    """For "lose_answer": the status the upstream answered and the client never received."""

    @property
    def forwarded(self) -> bool:
        """Whether the call reached the upstream (a lost answer did: only the reply was lost)."""
        return self.fault is None or self.fault == "lose_answer"


class CallLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []

    def append(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def clear(self) -> None:
        with self._lock:
            self._calls = []

    def all(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def matching(self, method: str | None = None, path: str = "") -> list[Call]:
        """Calls with this method (None: any) whose path contains a match of the regex."""
        return [
            c
            for c in self.all()
            if (method is None or c.method == method.upper()) and re.search(path, c.path)
        ]

    def count(self, method: str | None = None, path: str = "") -> int:
        return len(self.matching(method, path))
