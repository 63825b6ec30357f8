"""Which Nodes back Services' load balancers: k8s.io/cloud-provider's node predicates.

Upstream's service controller (KEP-3458 "StableLoadBalancerNodeSet", GA since 1.30, the
only behaviour since 1.32) keeps a node in every load balancer unless it is being deleted,
carries the ``node.kubernetes.io/exclude-from-external-load-balancers`` label, or has the
cluster autoscaler's ``ToBeDeletedByClusterAutoscaler`` taint. Readiness is deliberately NOT
a predicate any more: a flapping kubelet must not reconfigure every load balancer; the LB's
health monitor takes unhealthy nodes out. Pure functions over Node JSON objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from osk8s_ccm.lb_provider import LoadBalancerNode
from osk8s_core.k8s.store import KubeObject

EXCLUDE_LABEL: Final = "node.kubernetes.io/exclude-from-external-load-balancers"
TO_BE_DELETED_TAINT: Final = "ToBeDeletedByClusterAutoscaler"


def _meta(node: KubeObject) -> dict[str, Any]:
    value = node.get("metadata")
    return value if isinstance(value, dict) else {}


def eligible(node: KubeObject) -> bool:
    """Upstream's ``stableNodeSetPredicates``: not deleting, not excluded, not being removed
    by the cluster autoscaler."""
    meta = _meta(node)
    if meta.get("deletionTimestamp"):
        return False
    if EXCLUDE_LABEL in (meta.get("labels") or {}):
        return False
    taints = (node.get("spec") or {}).get("taints") or ()
    return not any(t.get("key") == TO_BE_DELETED_TAINT for t in taints)


def eligible_nodes(nodes: Iterable[KubeObject]) -> tuple[LoadBalancerNode, ...]:
    """The eligible nodes as provider facts, sorted by name (a stable set to compare)."""
    found = [LoadBalancerNode.from_object(node) for node in nodes if eligible(node)]
    return tuple(sorted(found, key=lambda node: node.name))


def node_change_matters(old: KubeObject, new: KubeObject) -> bool:
    """True when a Node update can change some load balancer: eligibility, or the facts a
    provider uses (labels for ``node-selector``, addresses and providerID for members).
    Heartbeats and condition changes do not matter."""
    if eligible(old) != eligible(new):
        return True
    return LoadBalancerNode.from_object(old) != LoadBalancerNode.from_object(new)
