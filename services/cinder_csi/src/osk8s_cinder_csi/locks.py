"""Per-object in-flight locks: a second call on the same volume id gets ABORTED at once.

CSI sidecars retry with back-off, so refusing a concurrent call on the same id is cheaper and
safer than queueing it behind a long attach. Keys are plain strings (volume ids, names); the
lock set holds no other state and never blocks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from osk8s_cinder_csi.status import OperationPending


class InFlight:
    """The set of ids with a call in progress; thread-safe."""

    def __init__(self) -> None:
        self._held: set[str] = set()
        self._lock = threading.Lock()

    def try_acquire(self, key: str) -> bool:
        with self._lock:
            if key in self._held:
                return False
            self._held.add(key)
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._held.discard(key)

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Hold ``key`` for the block; OperationPending if another call holds it."""
        if not self.try_acquire(key):
            raise OperationPending(f"an operation on {key} is already in progress")
        try:
            yield
        finally:
            self.release(key)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._held
