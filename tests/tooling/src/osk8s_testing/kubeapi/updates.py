"""How an update is merged into the stored object, as kube-apiserver's registry strategies do.

Preconditions (uid, stale resourceVersion -> 409; custom resources refuse unconditional PUT),
immutable metadata kept from the stored object, status subresource split both ways, the
namespace ``finalize`` subresource, no new finalizers while deleting, immutable ConfigMaps and
Secrets, and generation bumps on spec changes only. Pure functions: no store access.
"""

from __future__ import annotations

import copy
from typing import Any

from osk8s_testing.kubeapi import defaults, errors
from osk8s_testing.kubeapi.meta import deleting, finalizers, metadata, spec_changed
from osk8s_testing.kubeapi.resources import ResourceType

_FIXED_META = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "namespace",
    "name",
)


def check_preconditions(
    rt: ResourceType, old: dict[str, Any], new: dict[str, Any], *, require_rv: bool
) -> None:
    meta, old_meta = metadata(new), metadata(old)
    name = old_meta["name"]
    if meta.get("uid") and meta["uid"] != old_meta.get("uid"):
        raise errors.precondition_failed(rt, name, "UID", meta["uid"], old_meta.get("uid"))
    rv = meta.get("resourceVersion")
    if rv:
        if rv != old_meta.get("resourceVersion"):
            raise errors.conflict(rt.plural, rt.group, name, errors.STALE)
    elif require_rv and rt.custom:
        # custom resources do not allow unconditional updates (AllowUnconditionalUpdate false)
        raise errors.invalid(
            rt.kind,
            rt.group,
            name,
            "metadata.resourceVersion",
            "Invalid value: 0x0: must be specified for an update",
        )


def prepare_update(
    rt: ResourceType,
    old: dict[str, Any],
    new: dict[str, Any],
    *,
    subresource: str,
    allocator: defaults.Allocator,
) -> dict[str, Any]:
    if subresource == "status":
        # status writes take status only; spec and metadata stay as stored
        result = copy.deepcopy(old)
        if "status" in new:
            result["status"] = new["status"]
        else:
            result.pop("status", None)
        return result
    if subresource == "finalize":
        result = copy.deepcopy(old)
        spec = new.get("spec") or {}
        result.setdefault("spec", {})["finalizers"] = spec.get("finalizers") or []
        return result
    meta, old_meta = metadata(new), metadata(old)
    for fixed in _FIXED_META:
        if fixed in old_meta:
            meta[fixed] = old_meta[fixed]
        else:
            meta.pop(fixed, None)
    meta.pop("resourceVersion", None)
    if rt.status_subresource:
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
    _check_finalizers(rt, old, new)
    _check_immutable(rt, old, new)
    defaults.on_update(rt.kind, old, new, allocator)
    if rt.tracks_generation:
        generation = int(old_meta.get("generation") or 1)
        if spec_changed(old, new, has_status=rt.status_subresource, custom=rt.custom):
            generation += 1
        meta["generation"] = generation
    else:
        meta.pop("generation", None)
    return new


def _check_finalizers(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
    if not deleting(old):
        return
    added = sorted(set(finalizers(new)) - set(finalizers(old)))
    if added:
        raise errors.invalid(
            rt.kind,
            rt.group,
            metadata(old)["name"],
            "metadata.finalizers",
            "Forbidden: no new finalizers can be added if the object is being deleted, "
            f"found new finalizers {added}",
        )


def _check_immutable(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
    if not old.get("immutable") or rt.kind not in ("ConfigMap", "Secret"):
        return
    for part in ("data", "binaryData", "immutable"):
        if old.get(part) != new.get(part):
            raise errors.invalid(
                rt.kind,
                rt.group,
                metadata(old)["name"],
                part,
                "Forbidden: field is immutable when `immutable` is set",
            )
