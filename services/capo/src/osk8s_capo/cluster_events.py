"""CAPO's events for the cluster's OpenStack objects (``SuccessfulCreateNetwork`` ...,
"Created network <name> with id <id>"), derived from what a reconcile newly recorded in
status, so one create gives one event and an unchanged cluster gives none. Objects the
user supplied (an existing network, ``spec.router``, ``apiServer.floatingIP``) are not
announced as created.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_GROUPS = ("controlPlaneSecurityGroup", "workerSecurityGroup", "bastionSecurityGroup")


def _new(field: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """``after[field]`` when it carries an ID ``before[field]`` did not have, else {}."""
    item = after.get(field) or {}
    return item if item.get("id") and item["id"] != (before.get(field) or {}).get("id") else {}


def _event(kind: str, words: str, item: Mapping[str, Any]) -> tuple[str, str]:
    return f"SuccessfulCreate{kind}", f"Created {words} {item['name']} with id {item['id']}"


def created(
    spec: Mapping[str, Any], before: Mapping[str, Any], after: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """(reason, message) of each managed object this pass recorded in status first."""
    out: list[tuple[str, str]] = []
    if spec.get("managedSubnets"):
        if network := _new("network", before, after):
            out.append(_event("Network", "network", network))
        known = {s.get("id") for s in (before.get("network") or {}).get("subnets") or []}
        for subnet in (after.get("network") or {}).get("subnets") or []:
            if subnet.get("id") not in known:
                out.append(_event("Subnet", "subnet", subnet))
        if (router := _new("router", before, after)) and not spec.get("router"):
            out.append(_event("Router", "router", router))
    for field in _GROUPS:
        if group := _new(field, before, after):
            out.append(_event("SecurityGroup", "security group", group))
    if lb := _new("apiServerManagedLoadBalancer", before, after):
        out.append(_event("LoadBalancer", "load balancer", lb))
    current = after.get("apiServerManagedLoadBalancer") or {}
    ip = current.get("ip")
    user_ip = (spec.get("apiServer") or {}).get("floatingIP")
    known_ip = (before.get("apiServerManagedLoadBalancer") or {}).get("ip")
    if ip and ip not in (current.get("internalIP"), user_ip, known_ip):
        out.append(("SuccessfulCreateFloatingIP", f"Created floating IP {ip}"))
    return out
