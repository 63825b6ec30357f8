"""Garbage collection by ownerReferences, foreground deletion and namespace termination.

Does synchronously what kube-controller-manager's garbage collector and namespace controller
do asynchronously: when an owner is removed its dependents are deleted (background) or had
their owner reference removed (orphan); a foreground owner waits, with the
``foregroundDeletion`` finalizer, until dependents with ``blockOwnerDeletion`` are gone; a
terminating namespace has its content deleted and is removed once empty. Writes only through
the :class:`Writer` it is given, never into the store directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from osk8s_testing.kubeapi.errors import ApiError
from osk8s_testing.kubeapi.meta import deleting, finalizers, metadata, owner_uids
from osk8s_testing.kubeapi.store import Key, Store

FOREGROUND_FINALIZER = "foregroundDeletion"
ORPHAN_FINALIZER = "orphan"
NAMESPACE_FINALIZER = "kubernetes"


class Writer(Protocol):
    def mutate(
        self, key: Key, change: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any] | None: ...

    def delete_key(self, key: Key, propagation: str = ...) -> tuple[dict[str, Any], bool]: ...


def _refs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list(metadata(obj).get("ownerReferences") or [])


class Collector:
    def __init__(self, *, store: Store, writer: Writer) -> None:
        self._store = store
        self._writer = writer

    def dependents(self, uid: str) -> list[tuple[Key, dict[str, Any]]]:
        if not uid:
            return []
        return [(k, o) for k, o in self._store.all_items() if uid in owner_uids(o)]

    def has_dependents(self, uid: str) -> bool:
        return bool(self.dependents(uid))

    def orphan_dependents(self, uid: str) -> None:
        for key, _ in self.dependents(uid):
            self._writer.mutate(
                key, lambda o: _set_refs(o, [r for r in _refs(o) if r.get("uid") != uid])
            )

    def deletion_started(self, key: Key, obj: dict[str, Any]) -> None:
        uid = metadata(obj).get("uid", "")
        if ORPHAN_FINALIZER in finalizers(obj):
            # the collector's orphan step: drop the owner reference from every dependent,
            # then the finalizer (the owner goes once no other finalizer holds it)
            self.orphan_dependents(uid)
            self._writer.mutate(key, _drop_finalizer(ORPHAN_FINALIZER))
            return
        if FOREGROUND_FINALIZER in finalizers(obj):
            for dep_key, dep in self.dependents(uid):
                if not deleting(dep):
                    self._delete(dep_key, "Foreground")
            self._check_foreground(key)
        if (key.group, key.plural) == ("", "namespaces"):
            for item_key in list(self._store):
                if item_key.namespace == key.name:
                    self._delete(item_key, "Background")
            self._reconcile_namespace(key.name)

    def after_removal(self, key: Key, obj: dict[str, Any]) -> None:
        uid = metadata(obj).get("uid", "")
        for dep_key, dep in self.dependents(uid):
            remaining = [r for r in _refs(dep) if r.get("uid") != uid]
            live = [r for r in remaining if self._store.key_of_uid(str(r.get("uid")))]
            if live:
                # other owners still exist: drop the dangling reference, keep the object
                self._writer.mutate(dep_key, lambda o, live=live: _set_refs(o, live))  # type: ignore[misc]
            else:
                self._delete(dep_key, "Background")
        for owner_uid in owner_uids(obj):
            owner_key = self._store.key_of_uid(owner_uid)
            if owner_key is not None:
                self._check_foreground(owner_key)
        if key.namespace:
            self._reconcile_namespace(key.namespace)

    def _check_foreground(self, owner_key: Key) -> None:
        owner = self._store.get(owner_key)
        if owner is None or FOREGROUND_FINALIZER not in finalizers(owner):
            return
        uid = metadata(owner).get("uid")
        blocking = [
            d
            for _, d in self.dependents(str(uid))
            if any(r.get("uid") == uid and r.get("blockOwnerDeletion") for r in _refs(d))
        ]
        if not blocking:
            self._writer.mutate(owner_key, _drop_finalizer(FOREGROUND_FINALIZER))

    def _reconcile_namespace(self, name: str) -> None:
        ns_key = Key("", "namespaces", "", name)
        ns = self._store.get(ns_key)
        if ns is None or not deleting(ns):
            return
        if any(k.namespace == name for k in self._store):
            return

        def finalize(o: dict[str, Any]) -> None:
            spec = o.setdefault("spec", {})
            spec["finalizers"] = [
                f for f in spec.get("finalizers") or [] if f != NAMESPACE_FINALIZER
            ]

        self._writer.mutate(ns_key, finalize)

    def _delete(self, key: Key, propagation: str) -> None:
        try:
            self._writer.delete_key(key, propagation)
        except ApiError as exc:
            if exc.code != 404:  # already gone through another cascade path
                raise


def _set_refs(obj: dict[str, Any], refs: list[dict[str, Any]]) -> None:
    meta = metadata(obj)
    if refs:
        meta["ownerReferences"] = refs
    else:
        meta.pop("ownerReferences", None)


def _drop_finalizer(name: str) -> Callable[[dict[str, Any]], None]:
    def change(obj: dict[str, Any]) -> None:
        remaining = [f for f in finalizers(obj) if f != name]
        meta = metadata(obj)
        if remaining:
            meta["finalizers"] = remaining
        else:
            meta.pop("finalizers", None)

    return change
