"""The Cluster API core contract as seen from an infrastructure provider (capo.md §1.11).

Owner lookups, pause (``Cluster.spec.paused`` or the ``cluster.x-k8s.io/paused``
annotation), externally managed objects, the watch filter and finalizer edits, as pure
functions over JSON objects. Shared by the cluster and machine controllers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from osk8s_capo.kube import (
    CAPI_GROUP,
    CLUSTER_NAME_LABEL,
    MANAGED_BY_ANNOTATION,
    PAUSED_ANNOTATION,
    WATCH_FILTER_LABEL,
    annotations_of,
    labels_of,
    meta,
)


def owner_name(obj: Mapping[str, Any], kind: str, group: str = CAPI_GROUP) -> str | None:
    """Name of the owner of ``kind`` in ``group`` (any version), as CAPI's GetOwnerCluster."""
    for ref in meta(obj).get("ownerReferences") or []:
        api_version = str(ref.get("apiVersion") or "")
        if ref.get("kind") == kind and api_version.split("/", maxsplit=1)[0] == group:
            return str(ref.get("name") or "") or None
    return None


def cluster_name_label(obj: Mapping[str, Any]) -> str | None:
    return labels_of(obj).get(CLUSTER_NAME_LABEL) or None


def has_paused_annotation(obj: Mapping[str, Any]) -> bool:
    return PAUSED_ANNOTATION in annotations_of(obj)


def is_paused(cluster: Mapping[str, Any] | None, obj: Mapping[str, Any]) -> bool:
    """``annotations.IsPaused``: the Cluster's spec.paused or the object's annotation."""
    spec = (cluster or {}).get("spec") or {}
    return bool(spec.get("paused")) or has_paused_annotation(obj)


def is_externally_managed(obj: Mapping[str, Any]) -> bool:
    """``cluster.x-k8s.io/managed-by`` present: someone else runs this infrastructure."""
    return MANAGED_BY_ANNOTATION in annotations_of(obj)


def matches_watch_filter(obj: Mapping[str, Any], watch_filter: str) -> bool:
    return not watch_filter or labels_of(obj).get(WATCH_FILTER_LABEL) == watch_filter


def has_finalizer(obj: Mapping[str, Any], finalizer: str) -> bool:
    return finalizer in (meta(obj).get("finalizers") or [])


def finalizers_with(obj: Mapping[str, Any], finalizer: str) -> list[str]:
    current = list(meta(obj).get("finalizers") or [])
    return current if finalizer in current else [*current, finalizer]


def finalizers_without(obj: Mapping[str, Any], finalizer: str) -> list[str]:
    return [f for f in meta(obj).get("finalizers") or [] if f != finalizer]


def is_deleting(obj: Mapping[str, Any]) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def infrastructure_ref_name(cluster: Mapping[str, Any], kind: str) -> str | None:
    """``Cluster.spec.infrastructureRef`` (v1beta2: apiGroup/kind/name) when it is ``kind``."""
    ref = (cluster.get("spec") or {}).get("infrastructureRef") or {}
    if ref.get("kind") == kind:
        return str(ref.get("name") or "") or None
    return None
