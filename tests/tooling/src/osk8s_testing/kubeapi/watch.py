"""Watch streams: events after a resourceVersion, filtered, with bookmarks and 410 Gone.

Yields watch events as the real API encodes them (``{"type": ..., "object": ...}``). Without a
resourceVersion (or with "0") the current objects come first as synthetic ADDED events. A
version older than the retained history gives one ERROR event carrying a 410 ``Expired``
Status, like kube-apiserver's watch cache. Selector transitions become ADDED/DELETED. This
module produces events only; writing them to a socket is the handler's job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from osk8s_testing.kubeapi.errors import ApiError
from osk8s_testing.kubeapi.resources import ResourceType
from osk8s_testing.kubeapi.selectors import Selector
from osk8s_testing.kubeapi.store import Event, Store

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
_TICK = 0.2
"""Seconds between liveness checks while idle (client gone, server stopping)."""


class WireConverter(Protocol):
    def to_wire(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class WatchRequest:
    rt: ResourceType
    namespace: str | None
    selector: Selector
    resource_version: str | None
    allow_bookmarks: bool
    send_initial_events: bool
    timeout: float


def watch(
    *,
    store: Store,
    converter: WireConverter,
    request: WatchRequest,
    bookmark_interval: float,
    alive: Callable[[], bool],
) -> Iterator[dict[str, Any]]:
    stream = _Stream(store=store, converter=converter, request=request)
    yield from stream.run(bookmark_interval=bookmark_interval, alive=alive)


class _Stream:
    def __init__(self, *, store: Store, converter: WireConverter, request: WatchRequest) -> None:
        self._store = store
        self._converter = converter
        self._req = request
        self._group, self._plural = request.rt.storage_key

    def run(
        self, *, bookmark_interval: float, alive: Callable[[], bool]
    ) -> Iterator[dict[str, Any]]:
        req = self._req
        rv_text = req.resource_version or ""
        deadline = time.monotonic() + req.timeout
        if rv_text in ("", "0") or req.send_initial_events:
            with self._store.lock:
                last_rv = self._store.resource_version
                items = self._store.items(self._group, self._plural, self._namespace())
            for _, obj in items:
                wire = self._converter.to_wire(req.rt, obj)
                if req.selector.matches(wire):
                    yield {"type": "ADDED", "object": wire}
            if req.send_initial_events and req.allow_bookmarks:
                yield self._bookmark(last_rv, initial_end=True)
        else:
            try:
                last_rv = int(rv_text)
            except ValueError:
                yield _error(ApiError(400, "BadRequest", f"invalid resource version: {rv_text!r}"))
                return
        next_bookmark = time.monotonic() + bookmark_interval
        while True:
            with self._store.lock:
                if self._store.closed:
                    return
                expired: ApiError | None = None
                try:
                    events = self._store.events_after(last_rv)
                    if not events:
                        now = time.monotonic()
                        self._store.wait(max(0.0, min(_TICK, deadline - now, next_bookmark - now)))
                        events = self._store.events_after(last_rv)
                        if not events:
                            # nothing pending up to the head: bookmarks may advance to it
                            last_rv = self._store.resource_version
                except ApiError as exc:
                    events, expired = [], exc
            if expired is not None:
                yield _error(expired)
                return
            for event in events:
                last_rv = event.rv
                out = self._translate(event)
                if out is not None:
                    yield out
            now = time.monotonic()
            if now >= deadline or not alive():
                return
            if req.allow_bookmarks and now >= next_bookmark:
                yield self._bookmark(last_rv)
                next_bookmark = now + bookmark_interval

    def _namespace(self) -> str | None:
        return self._req.namespace if self._req.rt.namespaced else None

    def _translate(self, event: Event) -> dict[str, Any] | None:
        key, req = event.key, self._req
        if (key.group, key.plural) != (self._group, self._plural):
            return None
        namespace = self._namespace()
        if namespace is not None and key.namespace != namespace:
            return None
        current = self._converter.to_wire(req.rt, event.obj)
        now_matches = req.selector.matches(current)
        if event.type != "MODIFIED" or event.prev is None:
            return {"type": event.type, "object": current} if now_matches else None
        was_matching = req.selector.matches(self._converter.to_wire(req.rt, event.prev))
        if now_matches and was_matching:
            return {"type": "MODIFIED", "object": current}
        if now_matches:
            return {"type": "ADDED", "object": current}
        if was_matching:
            return {"type": "DELETED", "object": current}
        return None

    def _bookmark(self, rv: int, *, initial_end: bool = False) -> dict[str, Any]:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {INITIAL_EVENTS_END: "true"}
        rt = self._req.rt
        return {
            "type": "BOOKMARK",
            "object": {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta},
        }


def _error(exc: ApiError) -> dict[str, Any]:
    return {"type": "ERROR", "object": exc.status()}
