"""The cloud node controller's initialisation of one Node (upstream ``k8s.io/cloud-provider``'s
cloud node controller, which we cannot import, rewritten on the core's runtime).

A Node carrying the ``node.cloudprovider.kubernetes.io/uninitialized`` taint gets, from its
server's InstancesV2 metadata: ``spec.providerID`` (when empty), the zone, region and
instance-type labels (GA and the legacy ones upstream still writes), its addresses, and then
loses the taint. All or nothing, in this order:
1. every OpenStack read first, so a Nova or Neutron failure writes nothing;
2. ``status.addresses`` through the status subresource (a strategic merge patch, as upstream,
   whose ``$patch: replace`` replaces the list whole: a merge keyed on ``type`` would mangle
   two InternalIPs);
3. one Node update holding providerID, labels and the taint's removal, retried on conflict
   from a fresh read: a node never shows the taint gone without its labels.
A server that is not found leaves the node tainted, records a Warning event and is retried;
so does a kubelet ``--node-ip`` (``alpha.kubernetes.io/provided-node-ip``) the server does not
have. When the server has it, it is honoured as upstream does (see ``provided_ip``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, Protocol

from kubernetes.client import V1Node

from osk8s_ccm import labels
from osk8s_ccm.addresses import NodeAddress
from osk8s_ccm.instances import InstanceMetadata, InstanceNotFound, InstancesV2, NodeRef
from osk8s_ccm.lookup import CloudLookup
from osk8s_ccm.node_update import (
    STRATEGIC_MERGE_PATCH,
    NodeApi,
    addresses_patch,
    parts,
    update_node,
)
from osk8s_ccm.provided_ip import (
    PROVIDED_NODE_IP_ANNOTATION,
    ProvidedNodeIpMismatch,
    honour_provided_ip,
)
from osk8s_core.errors import KubernetesNotFound
from osk8s_core.k8s.apierrors import translate_api_errors
from osk8s_core.k8s.controller import Requeue
from osk8s_core.k8s.events import ObjectRef
from osk8s_core.k8s.store import split_key

UNINITIALIZED_TAINT: Final = "node.cloudprovider.kubernetes.io/uninitialized"


class Recorder(Protocol):
    def normal(self, ref: ObjectRef, reason: str, message: str) -> None: ...

    def warning(self, ref: ObjectRef, reason: str, message: str) -> None: ...


def is_uninitialized(node: V1Node) -> bool:
    taints = (node.spec.taints if node.spec else None) or []
    return any(t.key == UNINITIALIZED_TAINT for t in taints)


def node_labels(meta: InstanceMetadata) -> dict[str, str]:
    """The labels upstream's cloud node controller writes (empty values are left out)."""
    pairs = {
        labels.INSTANCE_TYPE_LABEL: meta.instance_type,
        labels.LEGACY_INSTANCE_TYPE_LABEL: meta.instance_type,
        labels.ZONE_LABEL: meta.zone,
        labels.LEGACY_ZONE_LABEL: meta.zone,
        labels.REGION_LABEL: meta.region,
        labels.LEGACY_REGION_LABEL: meta.region,
    }
    return {key: value for key, value in pairs.items() if value}


def _ref(node: V1Node) -> ObjectRef:
    meta, _ = parts(node)
    return ObjectRef(kind="Node", name=str(meta.name or ""), uid=str(meta.uid or ""))


class NodeInitializer:
    """``reconcile(key)`` for the core ``Controller`` over a Node informer."""

    def __init__(
        self,
        *,
        api: NodeApi,
        instances: InstancesV2,
        lookup: Callable[[], CloudLookup],
        recorder: Recorder,
        retry_after: float = 10.0,
    ) -> None:
        self._api = api
        self._instances = instances
        self._lookup = lookup
        self._recorder = recorder
        self._retry_after = retry_after

    def reconcile(self, key: str) -> Requeue | None:
        _, name = split_key(key)
        try:
            with translate_api_errors(f"get node {name}"):
                node = self._api.read_node(name)
        except KubernetesNotFound:
            return None
        if not is_uninitialized(node):
            return None
        ref = NodeRef(name=name, provider_id=str(parts(node)[1].provider_id or ""))
        try:
            meta = self._instances.instance_metadata(self._lookup(), ref)
        except InstanceNotFound as exc:
            self._recorder.warning(
                _ref(node), "FailedToInitialize", f"no server found for node {name}: {exc}"
            )
            return Requeue(after=self._retry_after)
        provided = (parts(node)[0].annotations or {}).get(PROVIDED_NODE_IP_ANNOTATION, "")
        try:
            addresses = honour_provided_ip(meta.node_addresses, provided)
        except ProvidedNodeIpMismatch as exc:
            self._recorder.warning(_ref(node), "FailedToInitialize", str(exc))
            return Requeue(after=self._retry_after)
        self._write_addresses(name, addresses)
        self._finish(name, meta)
        self._recorder.normal(_ref(node), "Synced", "Node synced successfully")
        return None

    def _write_addresses(self, name: str, addresses: Sequence[NodeAddress]) -> None:
        body = addresses_patch(a.as_dict() for a in addresses)
        with translate_api_errors(f"patch node {name} status"):
            self._api.patch_node_status(name, body, _content_type=STRATEGIC_MERGE_PATCH)

    def _finish(self, name: str, meta: InstanceMetadata) -> None:
        def initialise(node: V1Node) -> bool:
            metadata, spec = parts(node)
            if not spec.provider_id:
                spec.provider_id = meta.provider_id
            metadata.labels = {**(metadata.labels or {}), **node_labels(meta)}
            kept = [t for t in spec.taints or [] if t.key != UNINITIALIZED_TAINT]
            spec.taints = kept or None
            return True

        update_node(self._api, name, initialise)
