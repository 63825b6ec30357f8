"""CustomResourceDefinitions: serve their resources at run time, and clean up on deletion.

Plays the apiextensions-apiserver controllers: a written CRD registers one resource type per
served version (status subresource when declared) and gets Established/NamesAccepted
conditions; a deleted CRD has its custom resources deleted, then its cleanup finalizer removed,
then stops being served. The custom resources' schemas are applied by :mod:`schema`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from osk8s_testing.kubeapi.errors import ApiError, invalid
from osk8s_testing.kubeapi.meta import Clock, deleting, finalizers, metadata, timestamp
from osk8s_testing.kubeapi.resources import Registry, ResourceType
from osk8s_testing.kubeapi.store import Key, Store

CRD_STORAGE = ("apiextensions.k8s.io", "customresourcedefinitions")
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


class Writer(Protocol):
    def mutate(
        self, key: Key, change: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any] | None: ...

    def delete_key(self, key: Key, propagation: str = ...) -> tuple[dict[str, Any], bool]: ...


def version_priority(name: str) -> tuple[int, int, int, int, str]:
    """Kubernetes version ordering: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > non-kube names."""
    match = _KUBE_VERSION.match(name)
    if not match:
        return (1, 0, 0, 0, name)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (0, rank, -int(major), -int(minor or 0), name)


def is_crd(key: Key) -> bool:
    return (key.group, key.plural) == CRD_STORAGE


def resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    kind = names["kind"]
    served = [v for v in spec.get("versions") or [] if v.get("served", True)]
    served.sort(key=lambda v: version_priority(v["name"]))
    return [
        ResourceType(
            group=spec["group"],
            version=v["name"],
            plural=names["plural"],
            singular=names.get("singular") or kind.lower(),
            kind=kind,
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()),
            status_subresource="status" in (v.get("subresources") or {}),
            tracks_generation=True,
            custom=True,
            return_deleted_object=True,
            field_selectors=tuple(
                str(f["jsonPath"]).lstrip(".") for f in v.get("selectableFields") or ()
            ),
            categories=tuple(names.get("categories") or ()),
        )
        for v in served
    ]


def validate(crd: dict[str, Any]) -> None:
    name = metadata(crd).get("name", "")
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}

    def fail(field: str, why: str) -> ApiError:
        return invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, field, why)

    group = spec.get("group") or ""
    if "." not in group:
        raise fail(
            "spec.group", f'Invalid value: "{group}": should be a domain with at least one dot'
        )
    if not names.get("plural") or not names.get("kind"):
        raise fail("spec.names", "Required value: plural and kind are required")
    if name != f"{names['plural']}.{group}":
        raise fail(
            "metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        raise fail("spec.scope", 'Unsupported value: must be "Namespaced" or "Cluster"')
    versions = spec.get("versions") or []
    if not versions:
        raise fail(
            "spec.versions",
            "Invalid value: must have exactly one version marked as storage version",
        )
    if sum(1 for v in versions if v.get("storage")) != 1:
        raise fail(
            "spec.versions",
            "Invalid value: must have exactly one version marked as storage version",
        )


class CrdController:
    def __init__(self, *, registry: Registry, store: Store, writer: Writer, clock: Clock) -> None:
        self._registry = registry
        self._store = store
        self._writer = writer
        self._clock = clock

    def before_create(self, key: Key, obj: dict[str, Any]) -> None:
        if is_crd(key):
            validate(obj)
            meta = metadata(obj)
            meta["finalizers"] = [*finalizers(obj), CLEANUP_FINALIZER]

    def before_update(self, key: Key, old: dict[str, Any], new: dict[str, Any]) -> None:
        if not is_crd(key):
            return
        validate(new)
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        for path in ("group", "scope"):
            if old_spec.get(path) != new_spec.get(path):
                raise invalid(
                    "CustomResourceDefinition",
                    "apiextensions.k8s.io",
                    metadata(old).get("name", ""),
                    f"spec.{path}",
                    "Invalid value: field is immutable",
                )

    def after_write(self, key: Key, obj: dict[str, Any]) -> None:
        if not is_crd(key) or deleting(obj):
            return
        spec = obj["spec"]
        self._registry.replace_group_resource(
            spec["group"], spec["names"]["plural"], resource_types(obj)
        )
        self._writer.mutate(key, self._establish)

    def _establish(self, crd: dict[str, Any]) -> None:
        spec = crd["spec"]
        names = dict(spec["names"])
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", f"{names['kind']}List")
        status = crd.setdefault("status", {})
        old = {c.get("type"): c for c in status.get("conditions") or []}
        now = timestamp(self._clock)

        def condition(kind: str, reason: str, message: str) -> dict[str, Any]:
            since = old.get(kind, {}).get("lastTransitionTime", now)
            return {
                "type": kind,
                "status": "True",
                "lastTransitionTime": since,
                "reason": reason,
                "message": message,
            }

        status["conditions"] = [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition(
                "Established", "InitialNamesAccepted", "the initial names have been accepted"
            ),
        ]
        status["acceptedNames"] = names
        storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
        stored = list(status.get("storedVersions") or [])
        if storage not in stored:
            stored.append(storage)
        status["storedVersions"] = stored

    def deletion_started(self, key: Key, obj: dict[str, Any]) -> None:
        if not is_crd(key):
            return
        spec = obj["spec"]
        for cr_key, _ in self._store.items(spec["group"], spec["names"]["plural"]):
            try:
                self._writer.delete_key(cr_key, "Background")
            except ApiError as exc:
                if exc.code != 404:
                    raise
        self._reconcile(key)

    def after_removal(self, key: Key, obj: dict[str, Any]) -> None:
        if is_crd(key):
            spec = obj["spec"]
            self._registry.replace_group_resource(spec["group"], spec["names"]["plural"], [])
            return
        crd_key = Key(*CRD_STORAGE, "", f"{key.plural}.{key.group}")
        crd = self._store.get(crd_key)
        if crd is not None and deleting(crd):
            self._reconcile(crd_key)

    def _reconcile(self, crd_key: Key) -> None:
        crd = self._store.get(crd_key)
        if crd is None or not deleting(crd):
            return
        spec = crd["spec"]
        if self._store.items(spec["group"], spec["names"]["plural"]):
            return

        def release(o: dict[str, Any]) -> None:
            remaining = [f for f in finalizers(o) if f != CLEANUP_FINALIZER]
            if remaining:
                metadata(o)["finalizers"] = remaining
            else:
                metadata(o).pop("finalizers", None)

        self._writer.mutate(crd_key, release)
