"""Refresh of initialised Nodes' addresses on ``--node-status-update-frequency`` (upstream's
cloud node controller ``UpdateNodeStatus``), with the Beyond-CPO cost: one ``SyncSnapshot``
per pass serves every node, so a pass costs a constant number of list calls instead of a
server GET and a port list per node.

Nodes still carrying the uninitialized taint are the initialiser's; nodes whose server is not
found are the lifecycle controller's; both are skipped here. A node whose addresses are
unchanged is not written. One node's failure is logged and does not stop the pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from osk8s_ccm.instances import InstanceNotFound, InstancesV2, NodeRef
from osk8s_ccm.lookup import CloudLookup
from osk8s_ccm.node_init import UNINITIALIZED_TAINT
from osk8s_ccm.node_update import STRATEGIC_MERGE_PATCH, NodeApi, addresses_patch
from osk8s_ccm.provided_ip import PROVIDED_NODE_IP_ANNOTATION, honour_provided_ip
from osk8s_core import errors
from osk8s_core.k8s.apierrors import translate_api_errors


@dataclass(frozen=True)
class PassResult:
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    skipped: tuple[str, ...]
    failed: tuple[str, ...]


def _tainted(node: Mapping[str, Any]) -> bool:
    taints = (node.get("spec") or {}).get("taints") or []
    return any(t.get("key") == UNINITIALIZED_TAINT for t in taints)


class AddressRefresher:
    def __init__(
        self,
        *,
        api: NodeApi,
        instances: InstancesV2,
        snapshot: Callable[[], CloudLookup],
        logger: Any = None,
    ) -> None:
        self._api = api
        self._instances = instances
        self._snapshot = snapshot
        self._log = logger or structlog.get_logger("osk8s.ccm.node_addresses")

    def sync_all(self, nodes: Iterable[Mapping[str, Any]]) -> PassResult:
        """One pass over ``nodes`` (Node JSON as the informer caches it)."""
        lookup = self._snapshot()
        result: dict[str, list[str]] = {"updated": [], "unchanged": [], "skipped": [], "failed": []}
        for node in nodes:
            name = str(node["metadata"]["name"])
            result[self._sync_one(lookup, node, name)].append(name)
        return PassResult(**{k: tuple(v) for k, v in result.items()})

    def _sync_one(self, lookup: CloudLookup, node: Mapping[str, Any], name: str) -> str:
        if _tainted(node):
            return "skipped"
        ref = NodeRef(name=name, provider_id=str((node.get("spec") or {}).get("providerID") or ""))
        annotations = (node.get("metadata") or {}).get("annotations") or {}
        try:
            meta = self._instances.instance_metadata(lookup, ref)
            found = honour_provided_ip(
                meta.node_addresses, str(annotations.get(PROVIDED_NODE_IP_ANNOTATION) or "")
            )
        except InstanceNotFound:
            return "skipped"
        except errors.Osk8sError as exc:
            self._log.warning("node addresses not refreshed", node=name, error=str(exc))
            return "failed"
        wanted = [a.as_dict() for a in found]
        if ((node.get("status") or {}).get("addresses") or []) == wanted:
            return "unchanged"
        try:
            with translate_api_errors(f"patch node {name} status"):
                self._api.patch_node_status(
                    name, addresses_patch(wanted), _content_type=STRATEGIC_MERGE_PATCH
                )
        except errors.KubernetesError as exc:  # logged; the next pass tries again
            self._log.warning("node addresses not written", node=name, error=str(exc))
            return "failed"
        return "updated"
