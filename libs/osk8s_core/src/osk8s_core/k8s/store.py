"""Thread-safe local cache of Kubernetes objects keyed by ``namespace/name``, with indexes.

Objects are the JSON dicts the API server sent. The store hands out its own dicts: callers
treat them as read-only and copy before changing (copying on every read would cost more than
the whole reconcile). It never talks to the API server; the informer keeps it current.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

KubeObject = Mapping[str, Any]
IndexFunc = Callable[[KubeObject], list[str]]

NAMESPACE_INDEX = "namespace"


def meta(obj: KubeObject) -> Mapping[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, Mapping) else {}


def object_key(obj: KubeObject) -> str:
    """``namespace/name`` for namespaced objects, ``name`` for cluster-scoped ones (client-go)."""
    m = meta(obj)
    namespace = m.get("namespace") or ""
    name = str(m.get("name") or "")
    return f"{namespace}/{name}" if namespace else name


def split_key(key: str) -> tuple[str, str]:
    """Inverse of ``object_key``: (namespace, name); namespace is "" when cluster-scoped."""
    namespace, sep, name = key.partition("/")
    return (namespace, name) if sep else ("", namespace)


def resource_version(obj: KubeObject) -> str:
    return str(meta(obj).get("resourceVersion") or "")


def _namespace_index(obj: KubeObject) -> list[str]:
    return [str(meta(obj).get("namespace") or "")]


class Store:
    """Objects by key plus named secondary indexes (``namespace`` is always present)."""

    def __init__(self, *, indexers: Mapping[str, IndexFunc] | None = None) -> None:
        self._lock = threading.RLock()
        self._items: dict[str, KubeObject] = {}
        self._indexers: dict[str, IndexFunc] = {NAMESPACE_INDEX: _namespace_index}
        self._indexers.update(indexers or {})
        self._indices: dict[str, dict[str, set[str]]] = {name: {} for name in self._indexers}

    def upsert(self, obj: KubeObject) -> KubeObject | None:
        """Add or replace ``obj``; return the previous version, if any."""
        key = object_key(obj)
        with self._lock:
            old = self._items.get(key)
            if old is not None:
                self._unindex(key, old)
            self._items[key] = obj
            self._index(key, obj)
            return old

    def delete(self, key: str) -> KubeObject | None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._unindex(key, old)
            return old

    def get(self, key: str) -> KubeObject | None:
        with self._lock:
            return self._items.get(key)

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._items)

    def objects(self) -> list[KubeObject]:
        with self._lock:
            return list(self._items.values())

    def by_index(self, index: str, value: str) -> list[KubeObject]:
        """Objects whose index function returned ``value`` (KeyError for an unknown index)."""
        with self._lock:
            keys = self._indices[index].get(value, set())
            return [self._items[k] for k in sorted(keys)]

    def replace(
        self, objs: Iterable[KubeObject]
    ) -> tuple[list[KubeObject], list[tuple[KubeObject, KubeObject]], list[KubeObject]]:
        """Make the store hold exactly ``objs``; return (added, (old, new) updated, deleted)."""
        added: list[KubeObject] = []
        updated: list[tuple[KubeObject, KubeObject]] = []
        with self._lock:
            fresh = {object_key(o): o for o in objs}
            deleted = [self._items[k] for k in self._items.keys() - fresh.keys()]
            for obj in deleted:
                self.delete(object_key(obj))
            for obj in fresh.values():
                old = self.upsert(obj)
                if old is None:
                    added.append(obj)
                elif resource_version(old) != resource_version(obj):
                    updated.append((old, obj))
        return added, updated, deleted

    def _index(self, key: str, obj: KubeObject) -> None:
        for name, func in self._indexers.items():
            for value in func(obj):
                self._indices[name].setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: KubeObject) -> None:
        for name, func in self._indexers.items():
            index = self._indices[name]
            for value in func(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
