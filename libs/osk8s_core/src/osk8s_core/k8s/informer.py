"""Informer: keeps a local ``Store`` in step with one collection and notifies handlers.

Lists (remembering the resourceVersion), then watches from it; on 410 Gone and whenever a watch
stream ends it lists again and emits the difference (adds, updates, deletes), so missed events
are repaired. A resync thread re-announces every cached object as an update each
``resync_period``. Handlers run on the informer's threads: they must be quick and thread-safe
(typically: put the key on a work queue). It never writes to the API server.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from osk8s_core.errors import KubernetesGone
from osk8s_core.k8s.apierrors import from_status
from osk8s_core.k8s.clock import Clock
from osk8s_core.k8s.listwatch import ListWatch, WatchEvent, WatchStream
from osk8s_core.k8s.store import KubeObject, Store, object_key


@dataclass(frozen=True)
class Handlers:
    """Callbacks for cache changes; any may be None."""

    on_add: Callable[[KubeObject], None] | None = None
    on_update: Callable[[KubeObject, KubeObject], None] | None = None
    """Called with (old, new); on resync both are the same cached object."""
    on_delete: Callable[[KubeObject], None] | None = None
    """Called with the last state the informer knew."""


@dataclass(frozen=True)
class InformerSettings:
    resync_period: float = 0.0
    """Seconds between re-announcing every cached object; 0 disables (client-go semantics)."""
    watch_timeout: tuple[int, int] = (300, 600)
    """Server-side watch timeout is drawn from this range, spreading re-lists (client-go)."""
    backoff_initial: float = 0.8
    """Delay after a failed list/watch; doubles per consecutive failure (client-go: 800 ms)."""
    backoff_cap: float = 30.0
    """Longest delay between failed attempts, seconds."""
    min_watch_duration: float = 1.0
    """A watch that ends sooner counts as a failure, so a flapping server is not hammered."""


class Informer:
    """One collection's reflector + cache. ``run`` blocks until ``stop`` is set."""

    def __init__(
        self,
        list_watch: ListWatch,
        *,
        name: str,
        clock: Clock,
        settings: InformerSettings | None = None,
        store: Store | None = None,
        rng: random.Random | None = None,
        logger: Any = None,
    ) -> None:
        self.name = name
        self._lw = list_watch
        self._clock = clock
        self._settings = settings or InformerSettings()
        self.store = store or Store()
        self._rng = rng or random.Random()
        self._log = logger or structlog.get_logger("osk8s.k8s.informer").bind(informer=name)
        self._handlers: list[Handlers] = []
        self._synced = threading.Event()
        self._stream_lock = threading.Lock()
        self._stream: WatchStream | None = None
        self._stopped = False
        self._lists = 0

    @property
    def settings(self) -> InformerSettings:
        """What this informer runs with (resync period...)."""
        return self._settings

    def add_handlers(self, handlers: Handlers) -> None:
        """Register before ``run``; objects already cached are not replayed."""
        self._handlers.append(handlers)

    def has_synced(self) -> bool:
        return self._synced.is_set()

    def wait_for_sync(self, timeout: float | None = None) -> bool:
        return self._synced.wait(timeout)

    @property
    def list_count(self) -> int:
        """How many full lists were done (1 + re-lists); for tests and metrics."""
        return self._lists

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name=f"informer-{self.name}")
        thread.daemon = True
        thread.start()
        return thread

    def run(self, stop: threading.Event) -> None:
        self._stopped = False
        aux = threading.Thread(target=self._resync_loop, args=(stop,), daemon=True)
        aux.start()
        delay = self._settings.backoff_initial
        gone_in_row = 0
        while not stop.is_set():
            try:
                rv = self._list()
                started = self._clock.monotonic()
                self._watch(rv, stop)
                if stop.is_set():
                    break
                gone_in_row = 0
                if self._clock.monotonic() - started >= self._settings.min_watch_duration:
                    delay = self._settings.backoff_initial  # healthy again
                    continue
                self._log.info("watch ended early; backing off", delay=delay)
            except KubernetesGone:
                # The resourceVersion fell out of the server's history: list again, now;
                # but not in a tight loop if the server keeps saying so.
                gone_in_row += 1
                self._log.info("resource version too old; re-listing", times=gone_in_row)
                if gone_in_row == 1:
                    continue
            except Exception as exc:
                # The reflector must outlive any one failure (network, a bad event, a handler
                # bug); the next list repairs the cache.
                if stop.is_set():
                    break
                self._log.warning("list/watch failed", error=str(exc), delay=delay)
            if self._clock.wait(stop, delay):
                break
            delay = min(self._settings.backoff_cap, delay * 2)
        aux.join()

    def _list(self) -> str:
        objs, rv = self._lw.list()
        self._lists += 1
        added, updated, deleted = self.store.replace(objs)
        self._synced.set()
        for obj in added:
            self._notify_add(obj)
        for old, new in updated:
            self._notify_update(old, new)
        for obj in deleted:
            self._notify_delete(obj)
        return rv

    def _watch(self, rv: str, stop: threading.Event) -> None:
        low, high = self._settings.watch_timeout
        stream = self._lw.watch(rv, self._rng.randint(low, high))
        with self._stream_lock:
            if self._stopped:
                stream.close()
                return
            self._stream = stream
        try:
            for event in stream:
                if stop.is_set():
                    return
                self._apply(event)
        finally:
            with self._stream_lock:
                self._stream = None
            stream.close()

    def _apply(self, event: WatchEvent) -> None:
        kind = event.get("type")
        obj = event.get("object")
        if not isinstance(obj, dict):
            return
        if kind == "ERROR":
            code = obj.get("code")
            message = str(obj.get("message") or "")
            raise from_status(
                code if isinstance(code, int) else None, message, str(obj.get("reason") or "")
            )
        if kind in ("ADDED", "MODIFIED"):
            old = self.store.upsert(obj)
            if old is None:
                self._notify_add(obj)
            else:
                self._notify_update(old, obj)
        elif kind == "DELETED":
            # The event carries the object's final state, fresher than the cached one.
            self.store.delete(object_key(obj))
            self._notify_delete(obj)
        # BOOKMARK only moves the resourceVersion, and every watch ends in a re-list anyway.

    def _resync_loop(self, stop: threading.Event) -> None:
        period = self._settings.resync_period
        while not self._clock.wait(stop, period if period > 0 else 3600.0):
            if period > 0 and self.has_synced():
                for obj in self.store.objects():
                    self._notify_update(obj, obj)
        with self._stream_lock:
            self._stopped = True
            if self._stream is not None:
                self._stream.close()

    def _notify_add(self, obj: KubeObject) -> None:
        for h in self._handlers:
            if h.on_add is not None:
                self._call(h.on_add, obj)

    def _notify_update(self, old: KubeObject, new: KubeObject) -> None:
        for h in self._handlers:
            if h.on_update is not None:
                self._call(h.on_update, old, new)

    def _notify_delete(self, obj: KubeObject) -> None:
        for h in self._handlers:
            if h.on_delete is not None:
                self._call(h.on_delete, obj)

    def _call(self, func: Callable[..., None], *args: KubeObject) -> None:
        try:
            func(*args)
        except Exception:
            # One broken handler must not stop the cache or the other handlers.
            self._log.exception("informer handler failed", key=object_key(args[-1]))
