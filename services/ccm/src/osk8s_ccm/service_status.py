"""The service controller's writes to a Service: finalizer, annotations, status.

Content types and shapes are those kube-apiserver accepts for a built-in type: strategic merge
patches. The finalizer and annotations go to the Service itself (``metadata.finalizers`` is a
merged set, removed with ``$deleteFromPrimitiveList``; CPO's RBAC grants ``services`` patch);
``status.loadBalancer`` and the ``LoadBalancerReady`` condition go to ``services/status``
(``ingress`` has no merge strategy, so it is replaced whole; ``conditions`` merge by ``type``
and the other conditions are kept). Nothing is sent when nothing would change.

The condition (osk8s, beyond upstream) says why a Service's load balancer is not ready
(waiting for Octavia, quota, bad subnet...) where ``kubectl get svc -o yaml`` shows it, instead
of only in a log line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from osk8s_ccm.lb_provider import IngressPoint
from osk8s_core.errors import KubernetesNotFound
from osk8s_core.k8s.apierrors import translate_api_errors
from osk8s_core.k8s.store import KubeObject

FINALIZER: Final = "service.kubernetes.io/load-balancer-cleanup"
CONDITION_TYPE: Final = "LoadBalancerReady"
STRATEGIC_MERGE_PATCH: Final = "application/strategic-merge-patch+json"
MAX_MESSAGE: Final = 32768  # metav1.Condition message limit
FALLBACK_REASON: Final = "SyncFailed"
_REASON: Final = re.compile(r"[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?")  # metav1.Condition


class ServiceApi(Protocol):
    """The two calls of ``kubernetes.client.CoreV1Api`` used here."""

    def patch_namespaced_service(
        self, name: str, namespace: str, body: Any, *, _content_type: str | None = ...
    ) -> Any: ...

    def patch_namespaced_service_status(
        self, name: str, namespace: str, body: Any, *, _content_type: str | None = ...
    ) -> Any: ...


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str
    """CamelCase (metav1.Condition reason syntax)."""
    message: str


def _meta(obj: KubeObject) -> Mapping[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, Mapping) else {}


def _name(obj: KubeObject) -> tuple[str, str]:
    meta = _meta(obj)
    return str(meta.get("name") or ""), str(meta.get("namespace") or "")


def has_finalizer(obj: KubeObject) -> bool:
    return FINALIZER in (_meta(obj).get("finalizers") or ())


def add_finalizer(api: ServiceApi, obj: KubeObject) -> bool:
    """Add the cleanup finalizer unless present; True when a patch was sent."""
    if has_finalizer(obj):
        return False
    name, namespace = _name(obj)
    body = {"metadata": {"finalizers": [FINALIZER]}}
    with translate_api_errors(f"add finalizer to service {namespace}/{name}"):
        api.patch_namespaced_service(name, namespace, body, _content_type=STRATEGIC_MERGE_PATCH)
    return True


def remove_finalizer(api: ServiceApi, obj: KubeObject) -> bool:
    """Remove the cleanup finalizer if present (a gone Service counts as done)."""
    if not has_finalizer(obj):
        return False
    name, namespace = _name(obj)
    body = {"metadata": {"$deleteFromPrimitiveList/finalizers": [FINALIZER]}}
    try:
        with translate_api_errors(f"remove finalizer from service {namespace}/{name}"):
            api.patch_namespaced_service(name, namespace, body, _content_type=STRATEGIC_MERGE_PATCH)
    except KubernetesNotFound:
        return False
    return True


def annotation_changes(obj: KubeObject, wanted: Mapping[str, str]) -> dict[str, str]:
    current = _meta(obj).get("annotations") or {}
    return {key: value for key, value in wanted.items() if current.get(key) != value}


def patch_annotations(api: ServiceApi, obj: KubeObject, wanted: Mapping[str, str]) -> bool:
    """Set the changed ``wanted`` annotations (CPO's deferred service patcher)."""
    changes = annotation_changes(obj, wanted)
    if not changes:
        return False
    name, namespace = _name(obj)
    with translate_api_errors(f"annotate service {namespace}/{name}"):
        api.patch_namespaced_service(
            name,
            namespace,
            {"metadata": {"annotations": changes}},
            _content_type=STRATEGIC_MERGE_PATCH,
        )
    return True


def _current_condition(obj: KubeObject) -> Mapping[str, Any] | None:
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") == CONDITION_TYPE:
            return dict(condition)
    return None


def _condition(obj: KubeObject, readiness: Readiness, now: datetime) -> dict[str, Any] | None:
    """The condition to write, or None when the current one already says this."""
    status = "True" if readiness.ready else "False"
    message = readiness.message[:MAX_MESSAGE]
    # kube-apiserver refuses the whole patch for a malformed reason: never send one.
    reason = readiness.reason if _REASON.fullmatch(readiness.reason) else FALLBACK_REASON
    readiness = Readiness(readiness.ready, reason[:1024], message)
    generation = int(_meta(obj).get("generation") or 0)
    current = _current_condition(obj)
    if current is not None and (
        current.get("status"),
        current.get("reason"),
        current.get("message"),
        int(current.get("observedGeneration") or 0),
    ) == (status, readiness.reason, message, generation):
        return None
    transition = (
        current.get("lastTransitionTime")
        if current is not None and current.get("status") == status
        else now.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    condition: dict[str, Any] = {
        "type": CONDITION_TYPE,
        "status": status,
        "reason": readiness.reason,
        "message": message,
        "lastTransitionTime": transition,
    }
    if generation:
        condition["observedGeneration"] = generation
    return condition


def status_patch(
    obj: KubeObject,
    *,
    ingress: Sequence[IngressPoint] | None,
    readiness: Readiness | None,
    now: datetime,
) -> dict[str, Any] | None:
    """The ``services/status`` patch, or None when nothing changes.

    ``ingress``: None keeps the published ingress; () clears it (upstream publishes an empty
    status after deleting the LB). ``readiness``: None removes the condition."""
    status: dict[str, Any] = {}
    published = (obj.get("status") or {}).get("loadBalancer") or {}
    if ingress is not None:
        wanted = [point.to_object() for point in ingress]
        if [dict(i) for i in published.get("ingress") or ()] != wanted:
            status["loadBalancer"] = {"ingress": wanted or None}
    if readiness is None:
        if _current_condition(obj) is not None:
            status["conditions"] = [{"type": CONDITION_TYPE, "$patch": "delete"}]
    else:
        condition = _condition(obj, readiness, now)
        if condition is not None:
            status["conditions"] = [condition]
    return {"status": status} if status else None


def patch_status(api: ServiceApi, obj: KubeObject, body: Mapping[str, Any]) -> None:
    """Send a ``status_patch`` to ``services/status``; a gone Service is ignored (upstream:
    the finalizer was just removed and the Service is already deleted)."""
    name, namespace = _name(obj)
    try:
        with translate_api_errors(f"patch service {namespace}/{name} status"):
            api.patch_namespaced_service_status(
                name, namespace, dict(body), _content_type=STRATEGIC_MERGE_PATCH
            )
    except KubernetesNotFound:
        pass
