"""The built-in mutating admission plugins DefaultIngressClass and DefaultStorageClass.

Both are enabled by default in kube-apiserver and run before the admission webhooks: on
CREATE of an Ingress without ``spec.ingressClassName`` (and without the legacy
``kubernetes.io/ingress.class`` annotation), or of a PersistentVolumeClaim without
``spec.storageClassName`` (and without ``volume.beta.kubernetes.io/storage-class``), the
class annotated ``...is-default-class: "true"`` is filled in; with several defaults the
newest wins, ties by name (plugin/pkg/admission/network/defaultingressclass,
plugin/pkg/admission/storage/storageclass/setdefault). Reads the store, never writes it.
"""

from __future__ import annotations

from typing import Any

from osk8s_testing.kubeapi.meta import metadata
from osk8s_testing.kubeapi.resources import ResourceType
from osk8s_testing.kubeapi.store import Store

_INGRESS = ("networking.k8s.io", "Ingress")
_PVC = ("", "PersistentVolumeClaim")
_CLASSES = {
    _INGRESS: (
        ("networking.k8s.io", "ingressclasses"),
        "ingressclass.kubernetes.io/is-default-class",
        "ingressClassName",
        "kubernetes.io/ingress.class",
    ),
    _PVC: (
        ("storage.k8s.io", "storageclasses"),
        "storageclass.kubernetes.io/is-default-class",
        "storageClassName",
        "volume.beta.kubernetes.io/storage-class",
    ),
}


def default_class(store: Store, rt: ResourceType, obj: dict[str, Any]) -> None:
    """Fill in the default class on create (in place); nothing when there is none."""
    found = _CLASSES.get((rt.group, rt.kind))
    if found is None:
        return
    (group, plural), default_annotation, field, legacy_annotation = found
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict) or spec.get(field) is not None:
        return  # "" is an explicit choice (no class) and is kept
    if legacy_annotation in (metadata(obj).get("annotations") or {}):
        return
    defaults = [
        c
        for _, c in store.items(group, plural)
        if (metadata(c).get("annotations") or {}).get(default_annotation) == "true"
    ]
    if not defaults:
        return
    # newest first; equal timestamps (second precision) by name
    defaults.sort(key=lambda c: str(metadata(c).get("name")))
    defaults.sort(key=lambda c: str(metadata(c).get("creationTimestamp")), reverse=True)
    spec[field] = metadata(defaults[0])["name"]
