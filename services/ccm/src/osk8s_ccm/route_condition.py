"""The Node ``NetworkUnavailable`` condition after a routes pass, as upstream's route
controller writes it: ``False``/``RouteCreated`` once every pod CIDR of the node has its
route, ``True``/``NoRouteCreated`` otherwise; nothing is written when the condition already
says so. A strategic merge patch of ``nodes/status`` (merge key ``type``: the other
conditions are kept), the content type upstream's ``PatchStatus`` sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any, Final, Protocol

from osk8s_ccm.routes import PassResult, RouteReconciler, RouteUpdateFailed, node_from_k8s
from osk8s_core.k8s.apierrors import translate_api_errors

NETWORK_UNAVAILABLE: Final = "NetworkUnavailable"
STRATEGIC_MERGE_PATCH: Final = "application/strategic-merge-patch+json"
CREATED: Final = ("False", "RouteCreated", "RouteController created a route")
NOT_CREATED: Final = ("True", "NoRouteCreated", "RouteController failed to create a route")


class NodeStatusApi(Protocol):
    def patch_node_status(
        self, name: str, body: dict[str, Any], *, _content_type: str | None = ...
    ) -> Any: ...


def _current(node: Mapping[str, Any]) -> str | None:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == NETWORK_UNAVAILABLE:
            return str(condition.get("status"))
    return None


def set_network_condition(
    api: NodeStatusApi, node: Mapping[str, Any], *, routed: bool, now: datetime
) -> bool:
    """Write the condition for ``node`` (a Node as JSON); True when a patch was sent."""
    status, reason, message = CREATED if routed else NOT_CREATED
    if _current(node) == status:
        return False
    name = str((node.get("metadata") or {}).get("name", ""))
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    condition = {
        "type": NETWORK_UNAVAILABLE,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": stamp,
        "lastHeartbeatTime": stamp,
    }
    with translate_api_errors(f"patch node {name} status"):
        api.patch_node_status(
            name, {"status": {"conditions": [condition]}}, _content_type=STRATEGIC_MERGE_PATCH
        )
    return True


class NodeListApi(NodeStatusApi, Protocol):
    api_client: Any

    def list_node(self) -> Any: ...


def write_conditions(
    api: NodeStatusApi,
    nodes: Iterable[Mapping[str, Any]],
    routed: AbstractSet[str],
    *,
    now: datetime,
) -> None:
    """Each node with a pod CIDR gets its condition (nodes without one are skipped, as
    upstream skips nodes not yet given a CIDR)."""
    for node in nodes:
        view = node_from_k8s(node)
        if view.pod_cidrs:
            set_network_condition(api, node, routed=view.name in routed, now=now)


def sync_routes(api: NodeListApi, reconciler: RouteReconciler, *, now: datetime) -> PassResult:
    """One routes pass over every Node (listed): the router changed by ``reconciler``, then
    each node with a pod CIDR gets its ``NetworkUnavailable`` condition. When the router
    update fails, the conditions say what the router has, then ``RouteUpdateFailed`` is
    raised (the next pass retries)."""
    with translate_api_errors("list nodes"):
        listed = api.list_node()
    nodes = [api.api_client.sanitize_for_serialization(n) for n in listed.items]
    try:
        result = reconciler.reconcile([node_from_k8s(n) for n in nodes])
    except RouteUpdateFailed as failed:
        write_conditions(api, nodes, failed.result.routed_nodes, now=now)
        raise
    write_conditions(api, nodes, result.routed_nodes, now=now)
    return result
