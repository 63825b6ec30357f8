"""CSI Node service of the Manila driver: every RPC is forwarded to the partner plugin.

Stage and publish resolve the share (``shareID`` or ``shareName``), check protocol and status,
and hand the partner its own volume context and secrets (adapters); the result is cached per
volume (stage cache) so publish needs no credentials after stage. NodeGetInfo answers from
instance metadata. Capabilities are the partner's (§3.1).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

from osk8s_core import errors
from osk8s_core.grpc.csi import FailedPrecondition, InFlight, ObjectNotFound, Unimplemented, rpc
from osk8s_core.proto.csi import csi_pb2, csi_pb2_grpc
from osk8s_manila_csi.adapters import Adapter, PartnerVolume, read_runtime_config
from osk8s_manila_csi.manila import Manila, ManilaClients
from osk8s_manila_csi.params import parse_node_context
from osk8s_manila_csi.partner import Partner
from osk8s_manila_csi.settings import TOPOLOGY_KEY

_NodeRpc = csi_pb2.NodeServiceCapability.RPC


class Metadata(Protocol):
    def instance_id(self) -> str: ...
    def availability_zone(self) -> str: ...


@dataclass(frozen=True)
class NodeOptions:
    with_topology: bool = False
    runtime_config_file: str = ""


class StageCache:
    """Partner volumes by volume id, filled by stage, dropped by unstage."""

    def __init__(self) -> None:
        self._entries: dict[str, PartnerVolume] = {}
        self._lock = threading.Lock()

    def put(self, volume_id: str, volume: PartnerVolume) -> None:
        with self._lock:
            self._entries[volume_id] = volume

    def get(self, volume_id: str) -> PartnerVolume | None:
        with self._lock:
            return self._entries.get(volume_id)

    def drop(self, volume_id: str) -> None:
        with self._lock:
            self._entries.pop(volume_id, None)


class NodeService(csi_pb2_grpc.NodeServicer):
    def __init__(
        self,
        *,
        clients: ManilaClients,
        adapter: Adapter,
        partner: Partner,
        metadata: Metadata,
        options: NodeOptions,
    ) -> None:
        self._clients = clients
        self._adapter = adapter
        self._partner = partner
        self._metadata = metadata
        self._options = options
        self.cache = StageCache()
        self.in_flight = InFlight()

    def NodeGetCapabilities(self, request: Any, context: Any) -> Any:  # noqa: N802
        return csi_pb2.NodeGetCapabilitiesResponse(capabilities=self._partner.capabilities)

    def NodeGetInfo(self, request: Any, context: Any) -> Any:  # noqa: N802
        response = csi_pb2.NodeGetInfoResponse(node_id=self._metadata.instance_id())
        if self._options.with_topology:
            zone = self._metadata.availability_zone()
            response.accessible_topology.CopyFrom(csi_pb2.Topology(segments={TOPOLOGY_KEY: zone}))
        return response

    @rpc(required=("volume_id", "staging_target_path", "volume_capability"), lock="volume_id")
    def NodeStageVolume(self, request: Any, context: Any) -> Any:  # noqa: N802
        volume = self.cache.get(request.volume_id)
        if volume is None:
            volume = self._resolve(request.volume_id, request.volume_context, request.secrets)
            self.cache.put(request.volume_id, volume)
        forwarded = csi_pb2.NodeStageVolumeRequest()
        forwarded.CopyFrom(request)
        _rewrite(forwarded, volume)
        return self._partner.call("NodeStageVolume", forwarded)

    @rpc(required=("volume_id", "staging_target_path"), lock="volume_id")
    def NodeUnstageVolume(self, request: Any, context: Any) -> Any:  # noqa: N802
        response = self._partner.call("NodeUnstageVolume", request)
        self.cache.drop(request.volume_id)
        return response

    # Publish/unpublish lock the target path: pods on one node share a volume (RWX), and
    # their publishes must not abort each other.
    @rpc(required=("volume_id", "target_path", "volume_capability"), lock="target_path")
    def NodePublishVolume(self, request: Any, context: Any) -> Any:  # noqa: N802
        volume = self.cache.get(request.volume_id)
        if volume is None:  # a partner without STAGE_UNSTAGE (csi-driver-nfs): resolve here
            volume = self._resolve(request.volume_id, request.volume_context, request.secrets)
        forwarded = csi_pb2.NodePublishVolumeRequest()
        forwarded.CopyFrom(request)
        _rewrite(forwarded, volume)
        return self._partner.call("NodePublishVolume", forwarded)

    @rpc(required=("volume_id", "target_path"), lock="target_path")
    def NodeUnpublishVolume(self, request: Any, context: Any) -> Any:  # noqa: N802
        return self._partner.call("NodeUnpublishVolume", request)

    @rpc(required=("volume_id", "volume_path"))
    def NodeGetVolumeStats(self, request: Any, context: Any) -> Any:  # noqa: N802
        return self._partner.call("NodeGetVolumeStats", request)

    @rpc(required=("volume_id", "volume_path"), lock="volume_id")
    def NodeExpandVolume(self, request: Any, context: Any) -> Any:  # noqa: N802
        # Beyond CPO (which answers Unimplemented): forwarded when the partner can expand.
        if not self._partner.has(_NodeRpc.EXPAND_VOLUME):
            raise Unimplemented("the node plugin does not expand volumes")
        return self._partner.call("NodeExpandVolume", request)

    def _resolve(self, volume_id: str, context: Any, secrets: Any) -> PartnerVolume:
        node = parse_node_context(context)
        manila = self._clients.for_secrets(secrets)
        share = self._share(manila, node.share_id, node.share_name)
        if str(share.share_protocol or "").upper() != self._adapter.protocol:
            raise FailedPrecondition(f"share {share.id} is not a {self._adapter.protocol} share")
        status = str(share.status or "").lower()
        if status != "available":
            raise FailedPrecondition(f"share {share.id} is {status}, not available")
        rules = manila.shares.access_rules(share.id)
        locations = manila.shares.export_locations(share.id)
        runtime = read_runtime_config(self._options.runtime_config_file)
        return self._adapter.partner_volume(share, locations, rules, node, runtime)

    @staticmethod
    def _share(manila: Manila, share_id: str, share_name: str) -> Any:
        try:
            if share_id:
                return manila.shares.get(share_id)
        except errors.NotFound as exc:
            raise ObjectNotFound(f"share {share_id} not found") from exc
        found = manila.shares.find_by_name(share_name)
        if found is None:
            raise ObjectNotFound(f"share named {share_name!r} not found")
        return found


def _rewrite(request: Any, volume: PartnerVolume) -> None:
    request.volume_context.clear()
    request.volume_context.update(volume.context)
    request.secrets.clear()
    request.secrets.update(volume.secrets)
