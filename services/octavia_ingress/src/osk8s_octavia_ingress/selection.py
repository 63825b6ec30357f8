"""Which Ingresses this controller owns.

CPO: only ``kubernetes.io/ingress.class: openstack``. Beyond CPO: ``spec.ingressClassName``
naming an IngressClass whose ``spec.controller`` is ``CONTROLLER_NAME``, and an Ingress with
neither is ours when the one IngressClass marked default
(``ingressclass.kubernetes.io/is-default-class: "true"``) is ours. The annotation, when
present, wins over the field (as Kubernetes documents for the deprecated annotation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from osk8s_octavia_ingress.ingress_settings import CLASS_ANNOTATION

CONTROLLER_NAME: Final = "openstack.org/octavia-ingress-controller"
"""``spec.controller`` of IngressClasses served by this controller."""
LEGACY_CLASS: Final = "openstack"
DEFAULT_CLASS_ANNOTATION: Final = "ingressclass.kubernetes.io/is-default-class"


def _is_default(ingress_class: Mapping[str, Any]) -> bool:
    annotations = (ingress_class.get("metadata") or {}).get("annotations") or {}
    return annotations.get(DEFAULT_CLASS_ANNOTATION) == "true"


def _ours(ingress_class: Mapping[str, Any]) -> bool:
    return (ingress_class.get("spec") or {}).get("controller") == CONTROLLER_NAME


def is_ours(ingress: Mapping[str, Any], classes: Iterable[Mapping[str, Any]]) -> bool:
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    if CLASS_ANNOTATION in annotations:
        return bool(annotations[CLASS_ANNOTATION] == LEGACY_CLASS)
    classes = list(classes)
    class_name = (ingress.get("spec") or {}).get("ingressClassName")
    if class_name:
        return any(c["metadata"]["name"] == class_name and _ours(c) for c in classes)
    defaults = [c for c in classes if _is_default(c)]
    return len(defaults) == 1 and _ours(defaults[0])
