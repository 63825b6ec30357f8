"""The cloud node lifecycle controller (upstream ``k8s.io/cloud-provider``'s, rewritten on the
core runtime): on every ``--node-monitor-period`` pass over all Nodes,
- a Ready node loses the ``node.cloudprovider.kubernetes.io/shutdown`` taint if it has it;
- a node not Ready whose server is gone is deleted (Normal event ``DeletingNode`` first);
- a node not Ready whose server is SHUTOFF gets the shutdown taint (NoSchedule).

Beyond CPO: a node with an empty providerID whose server is gone is found gone by its name
and deleted; CPO's name lookup answers its own not-found error rather than the cloud
provider's ``InstanceNotFound``, so such nodes stay forever (CPO #2999, #3114). Here both
lookups end in ``InstanceNotFound``.
One ``SyncSnapshot`` per pass serves every node (constant list calls, per-node fallback).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import structlog
from kubernetes.client import V1Node, V1Taint

from osk8s_ccm.instances import InstancesV2, NodeRef
from osk8s_ccm.lookup import CloudLookup
from osk8s_ccm.node_init import Recorder
from osk8s_ccm.node_update import NodeApi, parts, update_node
from osk8s_core import errors
from osk8s_core.k8s.apierrors import translate_api_errors
from osk8s_core.k8s.events import ObjectRef

SHUTDOWN_TAINT: Final = "node.cloudprovider.kubernetes.io/shutdown"


@dataclass
class PassResult:
    deleted: list[str] = field(default_factory=list)
    tainted: list[str] = field(default_factory=list)
    untainted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def ready_status(node: Mapping[str, Any]) -> str:
    """The Ready condition's status; ``Unknown`` when the node reports none (as upstream)."""
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return str(condition.get("status") or "Unknown")
    return "Unknown"


def _has_taint(node: V1Node, key: str) -> bool:
    return any(t.key == key for t in parts(node)[1].taints or [])


def _add_shutdown_taint(node: V1Node) -> bool:
    if _has_taint(node, SHUTDOWN_TAINT):
        return False
    spec = parts(node)[1]
    spec.taints = [*(spec.taints or []), V1Taint(key=SHUTDOWN_TAINT, effect="NoSchedule")]
    return True


def _remove_shutdown_taint(node: V1Node) -> bool:
    if not _has_taint(node, SHUTDOWN_TAINT):
        return False
    spec = parts(node)[1]
    spec.taints = [t for t in spec.taints or [] if t.key != SHUTDOWN_TAINT] or None
    return True


class NodeLifecycle:
    def __init__(
        self,
        *,
        api: NodeApi,
        instances: InstancesV2,
        snapshot: Callable[[], CloudLookup],
        recorder: Recorder,
        logger: Any = None,
    ) -> None:
        self._api = api
        self._instances = instances
        self._snapshot = snapshot
        self._recorder = recorder
        self._log = logger or structlog.get_logger("osk8s.ccm.node_lifecycle")

    def monitor(self, nodes: Iterable[Mapping[str, Any]]) -> PassResult:
        """One pass over ``nodes`` (Node JSON as the informer caches it)."""
        result = PassResult()
        lookup: CloudLookup | None = None
        for node in nodes:
            name = str(node["metadata"]["name"])
            try:
                if ready_status(node) == "True":
                    if update_node(self._api, name, _remove_shutdown_taint):
                        result.untainted.append(name)
                    continue
                lookup = lookup or self._snapshot()  # only when some node is not Ready
                self._not_ready(lookup, node, name, result)
            except errors.Osk8sError as exc:
                self._log.warning("node lifecycle check failed", node=name, error=str(exc))
                result.failed.append(name)
        return result

    def _not_ready(
        self, lookup: CloudLookup, node: Mapping[str, Any], name: str, result: PassResult
    ) -> None:
        provider_id = str((node.get("spec") or {}).get("providerID") or "")
        ref = NodeRef(name=name, provider_id=provider_id)
        if not self._instances.instance_exists(lookup, ref):
            meta = node.get("metadata") or {}
            self._recorder.normal(
                ObjectRef(kind="Node", name=name, uid=str(meta.get("uid") or "")),
                "DeletingNode",
                f"Deleting node {name} because it does not exist in the cloud provider",
            )
            try:
                with translate_api_errors(f"delete node {name}"):
                    self._api.delete_node(name)
            except errors.KubernetesNotFound:
                pass
            result.deleted.append(name)
            return
        if self._instances.instance_shutdown(lookup, ref) and update_node(
            self._api, name, _add_shutdown_taint
        ):
            result.tainted.append(name)
