"""Which Service changes matter to the service controller, in upstream's terms: whether a
Service wants a load balancer (``wantsLoadBalancer``), needs its cleanup (``needsCleanup``),
whether an update is worth a sync (``needsUpdate``) and the Normal events upstream records
about it. Pure functions over Service JSON objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from osk8s_ccm.lb_provider import LoadBalancerService
from osk8s_ccm.service_status import has_finalizer
from osk8s_core.k8s.store import KubeObject


def wants_load_balancer(obj: KubeObject) -> bool:
    """Upstream's ``wantsLoadBalancer``: type LoadBalancer and no ``loadBalancerClass``."""
    spec = obj.get("spec") or {}
    return spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")


def needs_cleanup(obj: KubeObject) -> bool:
    """Upstream's ``needsCleanup``: our finalizer, and deleting or no longer ours."""
    if not has_finalizer(obj):
        return False
    deleting = bool((obj.get("metadata") or {}).get("deletionTimestamp"))
    return deleting or not wants_load_balancer(obj)


def service_facts(obj: KubeObject) -> LoadBalancerService:
    """The Service as compared between syncs (the published status is not an input)."""
    return replace(LoadBalancerService.from_object(obj), current_ingress=())


def relevant(obj: KubeObject) -> tuple[Any, ...]:
    """What makes an update worth a sync (upstream's needsUpdate or needsCleanup). Not our
    finalizer: adding it must not bypass the backoff of a Service whose ensure failed."""
    meta = obj.get("metadata") or {}
    return (
        service_facts(obj),
        (obj.get("spec") or {}).get("type"),
        bool(meta.get("deletionTimestamp")),
    )


def _go(value: Any) -> str:
    """Go's ``%v`` of a string slice or scalar (``[a b]``, ``<nil>``-free)."""
    if isinstance(value, list | tuple):
        return "[" + " ".join(str(item) for item in value) + "]"
    return "" if value is None else str(value)


def _changed(
    before: Mapping[str, Any], after: Mapping[str, Any], fields: Sequence[tuple[str, str, Any]]
) -> list[tuple[str, str]]:
    out = []
    for name, reason, empty in fields:
        was, now = before.get(name) or empty, after.get(name) or empty
        if was != now:
            out.append((reason, f"{_go(was)} -> {_go(now)}"))
    return out


def spec_change_events(old: KubeObject, new: KubeObject) -> list[tuple[str, str]]:
    """The Normal events upstream's ``needsUpdate`` records about a changed Service."""
    before, after = old.get("spec") or {}, new.get("spec") or {}
    out: list[tuple[str, str]] = []
    if wants_load_balancer(old) != wants_load_balancer(new):
        out.append(("Type", f"{_go(before.get('type'))} -> {_go(after.get('type'))}"))
    changed: tuple[tuple[str, str, Any], ...] = (
        ("loadBalancerSourceRanges", "LoadBalancerSourceRanges", []),
        ("loadBalancerIP", "LoadbalancerIP", ""),
    )
    out.extend(_changed(before, after, changed))
    old_ips, new_ips = before.get("externalIPs") or [], after.get("externalIPs") or []
    if len(old_ips) != len(new_ips):
        out.append(("ExternalIP", f"Count: {len(old_ips)} -> {len(new_ips)}"))
    else:
        out.extend(
            ("ExternalIP", f"Added: {ip}")
            for ip, was in zip(new_ips, old_ips, strict=True)
            if ip != was
        )
    old_uid = (old.get("metadata") or {}).get("uid")
    new_uid = (new.get("metadata") or {}).get("uid")
    if old_uid != new_uid:
        out.append(("UID", f"{_go(old_uid)} -> {_go(new_uid)}"))
    policy: tuple[tuple[str, str, Any], ...] = (
        ("externalTrafficPolicy", "ExternalTrafficPolicy", ""),
        ("healthCheckNodePort", "HealthCheckNodePort", 0),
    )
    out.extend(_changed(before, after, policy))
    return out
