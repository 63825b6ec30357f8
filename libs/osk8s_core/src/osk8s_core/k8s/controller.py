"""Controller loop: informers feed keys into a work queue, N worker threads reconcile them.

``reconcile(key)`` returns None when done, ``Requeue(after=…)`` to look again later, or raises
to be retried with per-key exponential backoff (given up after ``max_retries`` if set). A key is
never reconciled by two workers at once. What reconciling means is the caller's business.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from osk8s_core.k8s.informer import Handlers, Informer
from osk8s_core.k8s.queue import WorkQueue
from osk8s_core.k8s.store import KubeObject, object_key


@dataclass(frozen=True)
class Requeue:
    """Reconcile again: after ``after`` seconds, or (0) after the key's backoff delay."""

    after: float = 0.0


Reconcile = Callable[[str], Requeue | None]


@dataclass(frozen=True)
class ControllerSettings:
    workers: int = 1
    """Worker threads calling reconcile concurrently (different keys only)."""
    max_retries: int = 0
    """Failures of one key before it is dropped until its next change; 0 = retry forever."""
    sync_timeout: float = 0.0
    """Seconds to wait for informers' first list before starting workers; 0 = until stop."""


class Controller:
    """Runs until ``stop``; ``process_next`` is public so tests can step it."""

    def __init__(
        self,
        *,
        name: str,
        reconcile: Reconcile,
        queue: WorkQueue,
        informers: Sequence[Informer] = (),
        settings: ControllerSettings | None = None,
        logger: Any = None,
    ) -> None:
        self.name = name
        self._reconcile = reconcile
        self.queue = queue
        self._informers = list(informers)
        self._settings = settings or ControllerSettings()
        self._log = logger or structlog.get_logger("osk8s.k8s.controller").bind(controller=name)

    @property
    def settings(self) -> ControllerSettings:
        """What this controller runs with (worker count...)."""
        return self._settings

    def enqueue(self, obj: KubeObject) -> None:
        self.queue.add(object_key(obj))

    def handlers(self) -> Handlers:
        """Informer handlers that queue the changed object's own key."""
        return Handlers(
            on_add=self.enqueue,
            on_update=lambda _old, new: self.enqueue(new),
            on_delete=self.enqueue,
        )

    def run(self, stop: threading.Event) -> None:
        threads = [informer.start(stop) for informer in self._informers]
        if self._wait_for_sync(stop):
            self._log.info("caches synced; starting workers", workers=self._settings.workers)
            for i in range(self._settings.workers):
                worker = threading.Thread(target=self._work, name=f"{self.name}-worker-{i}")
                worker.daemon = True
                worker.start()
                threads.append(worker)
        stop.wait()
        self.queue.shut_down()
        for thread in threads:
            thread.join()

    def process_next(self, timeout: float | None = None) -> bool:
        """Reconcile one key; False when the queue is shut down (or ``timeout`` passed)."""
        key = self.queue.get(timeout)
        if key is None:
            return False
        try:
            with structlog.contextvars.bound_contextvars(controller=self.name, key=key):
                result = self._reconcile(key)
        except Exception as exc:
            self._failed(key, exc)
        else:
            if result is None or result.after > 0:
                self.queue.forget(key)
            if result is not None:
                if result.after > 0:
                    self.queue.add_after(key, result.after)
                else:
                    self.queue.add_rate_limited(key)
        finally:
            self.queue.done(key)
        return True

    def _failed(self, key: str, exc: Exception) -> None:
        retries = self.queue.num_requeues(key)
        limit = self._settings.max_retries
        if limit and retries >= limit:
            self._log.error("reconcile failed; giving up", key=key, retries=retries, error=str(exc))
            self.queue.forget(key)
            return
        self._log.warning("reconcile failed; will retry", key=key, retries=retries, error=str(exc))
        self.queue.add_rate_limited(key)

    def _work(self) -> None:
        while self.process_next():
            pass

    def _wait_for_sync(self, stop: threading.Event) -> bool:
        timeout = self._settings.sync_timeout or None
        for informer in self._informers:
            while not informer.wait_for_sync(0.1 if timeout is None else timeout):
                if stop.is_set() or timeout is not None:
                    self._log.error("informer did not sync", informer=informer.name)
                    return False
        return not stop.is_set()
