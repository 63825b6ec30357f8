"""Structural schemas of custom resources applied on the API's write and read paths.

Per served version of a CRD: on decode of a write (create, update, patch body) unknown fields
are pruned and defaults applied; after the registry's own preparation (status split,
generation...) the object is validated against that version's schema and CEL rules, with the
stored object (read in the same version) as ``oldSelf`` on updates; on reads from storage the
object is pruned and defaulted again with the requested version's schema (not written back),
as kube-apiserver's schema-coercing storage decoder does.

Versions: with ``conversion.strategy: None`` objects are stored in the storage version and
only ``apiVersion`` changes between versions. A CRD whose conversion strategy is ``Webhook``
is served in its storage version only: any other version answers 500, as kube-apiserver does
when the conversion webhook cannot be reached, because this fake never calls one.

Parsed CRDs are cached per registered resource type object: a CRD write registers new
ResourceType objects, which invalidates the entry without watching the CRD.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any

from osk8s_testing.kubeapi.errors import ApiError, bad_request
from osk8s_testing.kubeapi.resources import ResourceType
from osk8s_testing.kubeapi.schema import defaulting, fielderrors, pruning, validation
from osk8s_testing.kubeapi.schema.structural import Schema
from osk8s_testing.kubeapi.store import Key, Store

_CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")
_CACHE_LIMIT = 512


@dataclass(frozen=True)
class CrdSchemas:
    """What the write path needs from one CRD."""

    group: str
    kind: str
    storage_version: str
    conversion: str
    """``None`` or ``Webhook`` (spec.conversion.strategy)."""
    schemas: dict[str, Schema | None]
    """Served version -> openAPIV3Schema (None: no schema, everything is preserved)."""

    def schema(self, version: str) -> Schema | None:
        return self.schemas.get(version)


def parse(crd: dict[str, Any]) -> CrdSchemas:
    spec = crd.get("spec") or {}
    versions = spec.get("versions") or []
    schemas: dict[str, Schema | None] = {}
    for v in versions:
        raw = ((v.get("schema") or {}).get("openAPIV3Schema")) or None
        schemas[str(v["name"])] = raw if isinstance(raw, dict) else None
    storage = next((str(v["name"]) for v in versions if v.get("storage")), "")
    return CrdSchemas(
        group=str(spec.get("group") or ""),
        kind=str((spec.get("names") or {}).get("kind") or ""),
        storage_version=storage,
        conversion=str((spec.get("conversion") or {}).get("strategy") or "None"),
        schemas=schemas,
    )


class CustomResourceSchemas:
    """Pruning, defaulting, validation and version checks for the custom resources served."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[ResourceType, CrdSchemas | None]] = {}
        # per request (one handler thread each): fieldValidation mode and unknown fields seen
        self._request = threading.local()

    # -- fieldValidation: unknown fields warned (default), rejected (Strict) or ignored ------

    def begin_request(self, field_validation: str) -> None:
        self._request.mode = field_validation or "Warn"
        self._request.unknown = []

    def warnings(self) -> list[str]:
        """``Warning`` header texts for the current request (kube-apiserver's wording)."""
        unknown: list[str] = getattr(self._request, "unknown", [])
        return [f'unknown field "{path}"' for path in dict.fromkeys(unknown)]

    def crd(self, rt: ResourceType) -> CrdSchemas | None:
        with self._lock:
            hit = self._cache.get(id(rt))
            if hit is not None and hit[0] is rt:
                return hit[1]
        stored = self._store.get(Key(*_CRDS, "", f"{rt.plural}.{rt.group}"))
        parsed = parse(stored) if stored is not None else None
        with self._lock:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[id(rt)] = (rt, parsed)
        return parsed

    # -- versions --------------------------------------------------------------------------

    def check_conversion(self, rt: ResourceType) -> None:
        """500 for a version that would need a conversion webhook (never called here)."""
        if not rt.custom:
            return
        crd = self.crd(rt)
        if crd is None or crd.conversion != "Webhook" or rt.version == crd.storage_version:
            return
        raise ApiError(
            500,
            "InternalError",
            f"Internal error occurred: conversion webhook for {crd.group}/{crd.storage_version}, "
            f"Kind={crd.kind} failed: conversion webhooks are not supported by the osk8s fake "
            f"kube-apiserver (spec.conversion.strategy: Webhook); only the storage version "
            f"{crd.storage_version} is served",
        )

    # -- write path ------------------------------------------------------------------------

    def decode(self, rt: ResourceType, obj: dict[str, Any]) -> list[str]:
        """Prune unknown fields and apply defaults in place; returns the pruned paths."""
        schema = self._schema(rt)
        if schema is None:
            return []
        dropped = pruning.prune_object(obj, schema)
        mode = getattr(self._request, "mode", "Warn")
        if dropped and mode == "Strict":
            raise bad_request(
                "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in dropped)
            )
        if dropped and mode == "Warn" and hasattr(self._request, "unknown"):
            self._request.unknown.extend(dropped)  # only HTTP requests collect warnings
        defaulting.apply_defaults(obj, schema, root=True)
        return dropped

    def validate_create(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        self._validate(rt, obj, None, subresource="")
        self._to_storage_version(rt, obj)

    def validate_update(
        self, rt: ResourceType, old: dict[str, Any], new: dict[str, Any], *, subresource: str
    ) -> None:
        """``old`` is the stored object; it is read in the request's version for ``oldSelf``.

        Parts of ``new`` copied from storage (status on a main write, everything but status on
        a status write) are coerced as upstream reads them: pruned and defaulted.
        """
        schema = self._schema(rt)
        if schema is not None:
            pruning.prune_object(new, schema)
            defaulting.apply_defaults(new, schema, root=True)
        self._validate(rt, new, self.on_read(rt, old), subresource=subresource)
        self._to_storage_version(rt, new)

    def _validate(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        *,
        subresource: str,
    ) -> None:
        schema = self._schema(rt)
        if schema is None:
            return
        errs = validation.validate(
            obj,
            schema,
            old=validation.missing() if old is None else old,
            scope="status" if subresource == "status" else None,
        )
        if errs:
            crd = self.crd(rt)
            group = crd.group if crd else rt.group
            name = str((obj.get("metadata") or {}).get("name") or "")
            raise fielderrors.invalid(rt.kind, group, name, errs)

    def _to_storage_version(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        crd = self.crd(rt)
        if crd is not None and crd.storage_version and crd.conversion == "None":
            obj["apiVersion"] = f"{crd.group}/{crd.storage_version}"

    # -- read path -------------------------------------------------------------------------

    def on_read(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """The stored object read in the request's version: pruned and defaulted (a copy)."""
        schema = self._schema(rt)
        if schema is None:
            return obj
        out = copy.deepcopy(obj)
        pruning.prune_object(out, schema)
        defaulting.apply_defaults(out, schema, root=True)
        return out

    def _schema(self, rt: ResourceType) -> Schema | None:
        if not rt.custom:
            return None
        crd = self.crd(rt)
        return crd.schema(rt.version) if crd is not None else None
