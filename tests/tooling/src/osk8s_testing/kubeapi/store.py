"""The object store: objects by key, one global resourceVersion counter, bounded event history.

Every write bumps the counter, stamps ``metadata.resourceVersion`` and appends a watch event
(with the previous state, so watchers can apply selectors to transitions and lists can be
served at an exact older version). History is bounded: once an event is evicted, watching or
listing from before it answers 410 Gone. No API semantics (finalizers, generation...) here.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from osk8s_testing.kubeapi.errors import gone


@dataclass(frozen=True, order=True)
class Key:
    """Storage key; namespace is "" for cluster-scoped objects."""

    group: str
    plural: str
    namespace: str
    name: str


@dataclass(frozen=True)
class Event:
    rv: int
    type: str
    """ADDED, MODIFIED or DELETED."""
    key: Key
    obj: dict[str, Any]
    """State after the write (for DELETED: the last state, stamped with the deletion version)."""
    prev: dict[str, Any] | None


class Store:
    """Thread-safe; hold :attr:`lock` across read-modify-write sequences."""

    def __init__(self, *, history_limit: int = 5000) -> None:
        self.lock = threading.Condition(threading.RLock())
        self._objects: dict[Key, dict[str, Any]] = {}
        self._uids: dict[str, Key] = {}
        self._rv = 0
        self._history: deque[Event] = deque()
        self._history_limit = history_limit
        self._compacted_rv = 0
        self.closed = False

    @property
    def resource_version(self) -> int:
        with self.lock:
            return self._rv

    @property
    def compacted_resource_version(self) -> int:
        """Events up to and including this version are gone from the history."""
        with self.lock:
            return self._compacted_rv

    def get(self, key: Key) -> dict[str, Any] | None:
        with self.lock:
            obj = self._objects.get(key)
            return copy.deepcopy(obj) if obj is not None else None

    def key_of_uid(self, uid: str) -> Key | None:
        with self.lock:
            return self._uids.get(uid)

    def items(
        self, group: str, plural: str, namespace: str | None = None
    ) -> list[tuple[Key, dict[str, Any]]]:
        """Copies of the stored objects of one resource, sorted by (namespace, name)."""
        with self.lock:
            found = [
                (k, copy.deepcopy(o))
                for k, o in self._objects.items()
                if k.group == group
                and k.plural == plural
                and (namespace is None or k.namespace == namespace)
            ]
        return sorted(found, key=lambda kv: kv[0])

    def all_items(self) -> list[tuple[Key, dict[str, Any]]]:
        with self.lock:
            return [(k, copy.deepcopy(o)) for k, o in self._objects.items()]

    def write(self, key: Key, obj: dict[str, Any]) -> dict[str, Any]:
        """Store obj (ADDED or MODIFIED) at a new resourceVersion; returns a copy."""
        with self.lock:
            prev = self._objects.get(key)
            self._rv += 1
            stored = copy.deepcopy(obj)
            stored.setdefault("metadata", {})["resourceVersion"] = str(self._rv)
            self._objects[key] = stored
            uid = stored["metadata"].get("uid")
            if uid:
                self._uids[uid] = key
            self._record(Event(self._rv, "MODIFIED" if prev else "ADDED", key, stored, prev))
            return copy.deepcopy(stored)

    def remove(self, key: Key) -> dict[str, Any]:
        """Delete key; the DELETED event and the returned copy carry the deletion version."""
        with self.lock:
            prev = self._objects.pop(key)
            self._rv += 1
            final = copy.deepcopy(prev)
            final["metadata"]["resourceVersion"] = str(self._rv)
            self._uids.pop(final["metadata"].get("uid", ""), None)
            self._record(Event(self._rv, "DELETED", key, final, prev))
            return copy.deepcopy(final)

    def _record(self, event: Event) -> None:
        self._history.append(event)
        while len(self._history) > self._history_limit:
            self._compacted_rv = self._history.popleft().rv
        self.lock.notify_all()

    def compact(self) -> None:
        """Forget the whole history (like an etcd compaction): older watches get 410."""
        with self.lock:
            self._history.clear()
            self._compacted_rv = self._rv

    def events_after(self, rv: int) -> list[Event]:
        """Events with a version above rv; 410 Gone if some of them were evicted."""
        with self.lock:
            if rv < self._compacted_rv:
                raise gone(f"too old resource version: {rv} ({self._compacted_rv + 1})")
            out: list[Event] = []
            for event in reversed(self._history):
                if event.rv <= rv:
                    break
                out.append(event)
            out.reverse()
            return out

    def items_at(
        self, rv: int, group: str, plural: str, namespace: str | None
    ) -> list[tuple[Key, dict[str, Any]]]:
        """The resource's objects as they were at version rv, rebuilt from the history."""
        with self.lock:
            state = {k: o for k, o in self.items(group, plural, namespace)}
            for event in reversed(self.events_after(rv)):
                k = event.key
                if (k.group, k.plural) != (group, plural) or (
                    namespace is not None and k.namespace != namespace
                ):
                    continue
                if event.prev is None:
                    state.pop(k, None)
                else:
                    state[k] = copy.deepcopy(event.prev)
        return sorted(state.items(), key=lambda kv: kv[0])

    def wait(self, timeout: float) -> None:
        """Block until the next write (or timeout); call with :attr:`lock` held."""
        self.lock.wait(timeout)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.lock.notify_all()

    def __iter__(self) -> Iterator[Key]:
        with self.lock:
            return iter(list(self._objects))
