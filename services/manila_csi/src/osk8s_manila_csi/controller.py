"""CSI Controller service of the Manila driver (§3.2), plus ListVolumes, ControllerGetVolume
and cloning (beyond CPO).

Each RPC authenticates with the request's own secrets (``ManilaClients``). CreateVolume is
get-or-create by name, so a retry after a lost answer or a crash at any point converges on one
share with its rules. Handlers raise and never abort; errors map in ``CSI_STATUS``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from osk8s_core import errors
from osk8s_core.grpc.csi import (
    FailedPrecondition,
    InFlight,
    InvalidArgument,
    InvalidToken,
    ObjectNotFound,
    OutOfRange,
    Unavailable,
    Unimplemented,
    rpc,
)
from osk8s_core.openstack.shares import ShareSpec
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.proto.csi import csi_pb2, csi_pb2_grpc
from osk8s_manila_csi.adapters import Adapter
from osk8s_manila_csi.affinity import PvcHints, PvcReader, pvc_hints
from osk8s_manila_csi.manila import Manila, ManilaClients
from osk8s_manila_csi.params import VolumeParams, parse_volume_params, share_metadata
from osk8s_manila_csi.provision import (
    SHARE_DESCRIPTION,
    delete_share,
    ensure_rules,
    ensure_share,
    ensure_snapshot,
)
from osk8s_manila_csi.settings import TOPOLOGY_KEY

GIB: Final = 1 << 30
_Rpc = csi_pb2.ControllerServiceCapability.RPC
AccessMode = csi_pb2.VolumeCapability.AccessMode
SUPPORTED_MODES: Final = frozenset(
    {
        AccessMode.MULTI_NODE_MULTI_WRITER,
        AccessMode.MULTI_NODE_SINGLE_WRITER,
        AccessMode.MULTI_NODE_READER_ONLY,
        AccessMode.SINGLE_NODE_WRITER,
        AccessMode.SINGLE_NODE_READER_ONLY,
    }
)


@dataclass(frozen=True)
class ControllerOptions:
    protocol: str
    """``NFS`` or ``CEPHFS``: the only protocol this instance serves."""
    cluster_id: str = ""
    with_topology: bool = False
    default_secrets: Mapping[str, str] | None = None
    """Beyond CPO: credentials for RPCs without secrets; None = those RPCs not offered."""


def size_gib(capacity: csi_pb2.CapacityRange | None) -> int:
    """``required_bytes`` rounded up to GiB (default 1); OutOfRange above ``limit_bytes``."""
    required = capacity.required_bytes if capacity is not None else 0
    limit = capacity.limit_bytes if capacity is not None else 0
    if required < 0 or limit < 0:
        raise InvalidArgument("capacity must not be negative")
    gib = -(-required // GIB) if required > 0 else 1
    if limit > 0 and gib * GIB > limit:
        raise OutOfRange(f"{gib} GiB (rounded up) exceeds the limit of {limit} bytes")
    return gib


def unsupported_capability(caps: Any) -> str:
    """Why ``caps`` cannot be served ("" when they can): shares are mounts, never blocks."""
    for cap in caps:
        if cap.WhichOneof("access_type") != "mount":
            return "only mount volume capabilities are supported (no block access)"
        if cap.access_mode.mode not in SUPPORTED_MODES:
            return f"access mode {AccessMode.Mode.Name(cap.access_mode.mode)} is not supported"
    return ""


class ControllerService(csi_pb2_grpc.ControllerServicer):
    def __init__(
        self,
        *,
        clients: ManilaClients,
        adapter: Adapter,
        options: ControllerOptions,
        waiter: Waiter,
        pvc_reader: PvcReader | None = None,
    ) -> None:
        self._pvc_reader = pvc_reader
        self._clients = clients
        self._adapter = adapter
        self._options = options
        self._waiter = waiter
        self.in_flight = InFlight()

    # capabilities --------------------------------------------------------------------------

    def ControllerGetCapabilities(self, request: Any, context: Any) -> Any:  # noqa: N802
        kinds = [_Rpc.CREATE_DELETE_VOLUME, _Rpc.CREATE_DELETE_SNAPSHOT, _Rpc.EXPAND_VOLUME]
        kinds.append(_Rpc.CLONE_VOLUME)  # beyond CPO: through a temporary snapshot
        if self._options.default_secrets is not None:
            kinds += [_Rpc.LIST_VOLUMES, _Rpc.GET_VOLUME]  # beyond CPO
        caps = [
            csi_pb2.ControllerServiceCapability(
                rpc=csi_pb2.ControllerServiceCapability.RPC(type=kind)
            )
            for kind in kinds
        ]
        return csi_pb2.ControllerGetCapabilitiesResponse(capabilities=caps)

    # volumes -------------------------------------------------------------------------------

    @rpc(required=("name", "volume_capabilities"), lock="name")
    def CreateVolume(self, request: Any, context: Any) -> Any:  # noqa: N802
        problem = unsupported_capability(request.volume_capabilities)
        if problem:
            raise InvalidArgument(problem)
        for cap in request.volume_capabilities:
            if not cap.HasField("access_mode"):
                raise InvalidArgument("volume capability needs an access mode")
        params = parse_volume_params(request.parameters)
        size = size_gib(request.capacity_range if request.HasField("capacity_range") else None)
        specs = self._adapter.wanted_rules(params, request.name)  # bad clients: before any share
        manila = self._clients.for_secrets(request.secrets)
        hints = (
            pvc_hints(manila, params, self._pvc_reader)
            if self._pvc_reader is not None
            else PvcHints({}, params.group_id, {})
        )
        snapshot_id = self._source_snapshot(manila, request, size)
        spec = self._spec(request, params, size, snapshot_id, hints.group_id)
        share = ensure_share(
            manila, spec, snapshot_id=snapshot_id, scheduler_hints=hints.scheduler_hints
        )
        if request.volume_content_source.HasField("volume"):
            self._drop_clone_snapshot(manila, request.name)
        rules = ensure_rules(manila, share.id, self._adapter, specs, self._waiter)
        volume_context = {
            "shareID": share.id,
            "shareAccessIDs": ",".join(r.id for r in rules),
            **dict(params.node_context or {}),
        }
        if hints.group_id:
            volume_context["groupID"] = hints.group_id
        volume_context.update(hints.context)
        volume = csi_pb2.Volume(
            volume_id=share.id,
            capacity_bytes=int(share.size or size) * GIB,
            volume_context=volume_context,
            accessible_topology=self._topology(share),
        )
        if request.HasField("volume_content_source"):
            volume.content_source.CopyFrom(request.volume_content_source)
        return csi_pb2.CreateVolumeResponse(volume=volume)

    def _spec(
        self,
        request: Any,
        params: VolumeParams,
        size: int,
        snapshot_id: str | None,
        group_id: str,
    ) -> ShareSpec:
        zone = params.availability
        if params.auto_topology and self._options.with_topology and not zone:
            zone = _zone_from(request.accessibility_requirements)
        return ShareSpec(
            name=request.name,
            size_gb=size,
            protocol=self._adapter.protocol,
            share_type=params.share_type,
            availability_zone=zone or None,
            share_network_id=params.share_network_id or None,
            snapshot_id=snapshot_id,
            description=SHARE_DESCRIPTION,
            metadata=share_metadata(params, cluster_id=self._options.cluster_id),
            share_group_id=group_id or None,
        )

    def _source_snapshot(self, manila: Manila, request: Any, size: int) -> str | None:
        source = request.volume_content_source
        if source.HasField("snapshot"):
            snapshot = _get(manila.snapshots.get, source.snapshot.snapshot_id, "snapshot")
            status = str(snapshot.status or "").lower()
            if status != "available":
                raise Unavailable(f"snapshot {snapshot.id} is {status}, not available")
            if int(snapshot.size or 0) > size:
                raise OutOfRange(f"snapshot {snapshot.id} is larger than {size} GiB")
            return str(snapshot.id)
        if source.HasField("volume"):
            return self._clone_snapshot(manila, request.name, source.volume.volume_id, size)
        return None

    def _clone_snapshot(self, manila: Manila, name: str, source_id: str, size: int) -> str | None:
        """Beyond CPO: snapshot the source under a name derived from the new volume's, so a
        retry reuses it; once the clone share exists no new snapshot is taken."""
        existing = manila.shares.find_by_name(name)
        if existing is not None:
            return getattr(existing, "snapshot_id", None)
        source = _get(manila.shares.get, source_id, "source volume")
        if str(source.share_protocol or "").upper() != self._adapter.protocol:
            raise InvalidArgument(
                f"source volume {source_id} is not a {self._adapter.protocol} share"
            )
        if int(source.size or 0) > size:
            raise OutOfRange(f"source volume {source_id} is larger than {size} GiB")
        _require_snapshot_support(manila, source_id)
        return str(ensure_snapshot(manila, _clone_name(name), source_id, wait=True).id)

    def _drop_clone_snapshot(self, manila: Manila, name: str) -> None:
        temporary = manila.snapshots.find_by_name(_clone_name(name))
        if temporary is not None:
            manila.snapshots.delete(temporary.id, wait=True)

    def _topology(self, share: Any) -> list[csi_pb2.Topology]:
        zone = getattr(share, "availability_zone", None)
        if not self._options.with_topology or not zone:
            return []
        return [csi_pb2.Topology(segments={TOPOLOGY_KEY: zone})]

    @rpc(required=("volume_id",), lock="volume_id")
    def DeleteVolume(self, request: Any, context: Any) -> Any:  # noqa: N802
        manila = self._clients.for_secrets(request.secrets)
        if _settle(manila.shares.get, manila.shares.wait_available, request.volume_id):
            delete_share(manila, request.volume_id, waiter=self._waiter)
        return csi_pb2.DeleteVolumeResponse()

    @rpc(required=("volume_id", "capacity_range"), lock="volume_id")
    def ControllerExpandVolume(self, request: Any, context: Any) -> Any:  # noqa: N802
        size = size_gib(request.capacity_range)
        manila = self._clients.for_secrets(request.secrets)
        _get(manila.shares.get, request.volume_id, "volume")
        share = manila.shares.extend(request.volume_id, size, wait=True)
        return csi_pb2.ControllerExpandVolumeResponse(
            capacity_bytes=int(share.size or size) * GIB, node_expansion_required=False
        )

    @rpc(required=("volume_id", "volume_capabilities"))
    def ValidateVolumeCapabilities(self, request: Any, context: Any) -> Any:  # noqa: N802
        manila = self._clients.for_secrets(request.secrets)
        share = _get(manila.shares.get, request.volume_id, "volume")
        status = str(share.status or "").lower()
        if status == "creating":
            raise Unavailable(f"share {share.id} is still being created")
        if status != "available":
            raise FailedPrecondition(f"share {share.id} is {status}, not available")
        if str(share.share_protocol or "").upper() != self._adapter.protocol:
            raise InvalidArgument(f"share {share.id} is not a {self._adapter.protocol} share")
        problem = unsupported_capability(request.volume_capabilities)
        if problem:
            return csi_pb2.ValidateVolumeCapabilitiesResponse(message=problem)
        confirmed = csi_pb2.ValidateVolumeCapabilitiesResponse.Confirmed(
            volume_context=request.volume_context,
            volume_capabilities=request.volume_capabilities,
            parameters=request.parameters,
        )
        return csi_pb2.ValidateVolumeCapabilitiesResponse(confirmed=confirmed)

    # beyond CPO: listing ---------------------------------------------------------------------

    def _default_manila(self) -> Manila:
        if self._options.default_secrets is None:
            raise Unimplemented("needs --controller-secrets-dir (requests carry no secrets)")
        return self._clients.for_secrets(self._options.default_secrets)

    def ListVolumes(self, request: Any, context: Any) -> Any:  # noqa: N802
        if request.max_entries < 0:
            raise InvalidArgument("max_entries must not be negative")
        manila = self._default_manila()
        ours = sorted(
            (
                s
                for s in manila.shares.query()
                if s.description == SHARE_DESCRIPTION
                and str(s.share_protocol or "").upper() == self._adapter.protocol
            ),
            key=lambda s: str(s.id),
        )
        start = _start_index(request.starting_token, ours)
        end = len(ours) if request.max_entries == 0 else start + request.max_entries
        entries = [
            csi_pb2.ListVolumesResponse.Entry(
                volume=self._volume(s),
                status=csi_pb2.ListVolumesResponse.VolumeStatus(volume_condition=_condition(s)),
            )
            for s in ours[start:end]
        ]
        next_token = str(ours[end].id) if end < len(ours) else ""
        return csi_pb2.ListVolumesResponse(entries=entries, next_token=next_token)

    @rpc(required=("volume_id",))
    def ControllerGetVolume(self, request: Any, context: Any) -> Any:  # noqa: N802
        share = _get(self._default_manila().shares.get, request.volume_id, "volume")
        status = csi_pb2.ControllerGetVolumeResponse.VolumeStatus(
            volume_condition=_condition(share)
        )
        return csi_pb2.ControllerGetVolumeResponse(volume=self._volume(share), status=status)

    def _volume(self, share: Any) -> csi_pb2.Volume:
        return csi_pb2.Volume(
            volume_id=share.id,
            capacity_bytes=int(share.size or 0) * GIB,
            volume_context={"shareID": share.id},
            accessible_topology=self._topology(share),
        )

    # snapshots ---------------------------------------------------------------------------------

    @rpc(required=("name", "source_volume_id"), lock="name")
    def CreateSnapshot(self, request: Any, context: Any) -> Any:  # noqa: N802
        manila = self._clients.for_secrets(request.secrets)
        share = _get(manila.shares.get, request.source_volume_id, "source volume")
        if str(share.share_protocol or "").upper() != self._adapter.protocol:
            raise InvalidArgument(
                f"source volume {share.id} is not a {self._adapter.protocol} share"
            )
        _require_snapshot_support(manila, share.id)
        snapshot = ensure_snapshot(manila, request.name, share.id, wait=False)
        ready = str(snapshot.status or "").lower() == "available"
        out = csi_pb2.Snapshot(
            snapshot_id=snapshot.id,
            source_volume_id=share.id,
            size_bytes=int(snapshot.size or share.size or 0) * GIB,
            ready_to_use=ready,
        )
        created = str(getattr(snapshot, "created_at", "") or "")
        if created:
            out.creation_time.FromJsonString(_rfc3339(created))
        return csi_pb2.CreateSnapshotResponse(snapshot=out)

    @rpc(required=("snapshot_id",), lock="snapshot_id")
    def DeleteSnapshot(self, request: Any, context: Any) -> Any:  # noqa: N802
        manila = self._clients.for_secrets(request.secrets)
        if _settle(manila.snapshots.get, manila.snapshots.wait_available, request.snapshot_id):
            manila.snapshots.delete(request.snapshot_id, wait=True)
        return csi_pb2.DeleteSnapshotResponse()


_TRANSIENT: Final = frozenset({"creating", "extending", "shrinking", "restoring"})


def _settle(fetch: Any, wait: Any, ident: str) -> bool:
    """Whether ``ident`` still exists, once it is no longer being created: Manila refuses to
    delete what is (400), and a CO may delete a snapshot it has just asked for."""
    try:
        status = str(fetch(ident).status or "").lower()
    except errors.NotFound:
        return False  # already gone: DeleteVolume/DeleteSnapshot succeed with one GET
    if status in _TRANSIENT:
        with contextlib.suppress(errors.ResourceError, errors.NotFound):
            wait(ident)
    return True


def _clone_name(volume_name: str) -> str:
    return f"csi-clone-source-{volume_name}"


def _get(fetch: Any, ident: str, what: str) -> Any:
    try:
        return fetch(ident)
    except errors.NotFound as exc:
        raise ObjectNotFound(f"{what} {ident} not found") from exc


def _require_snapshot_support(manila: Manila, share_id: str) -> None:
    """CPO's check: the share type must allow snapshots and shares made from them."""
    shown = manila.api.show(share_id)
    if not shown.get("snapshot_support"):
        raise InvalidArgument(f"share {share_id}: its share type does not support snapshots")
    if not shown.get("create_share_from_snapshot_support"):
        raise InvalidArgument(
            f"share {share_id}: its share type cannot create shares from snapshots"
        )


def _zone_from(requirements: Any) -> str:
    for topology in (*requirements.preferred, *requirements.requisite):
        zone = topology.segments.get(TOPOLOGY_KEY)
        if zone:
            return str(zone)
    return ""


def _start_index(token: str, shares: list[Any]) -> int:
    if not token:
        return 0
    for index, share in enumerate(shares):
        if str(share.id) == token:
            return index
    raise InvalidToken(f"starting_token {token!r} does not name a volume of this driver")


def _condition(share: Any) -> csi_pb2.VolumeCondition:
    status = str(share.status or "").lower()
    return csi_pb2.VolumeCondition(abnormal=status != "available", message=f"share status {status}")


def _rfc3339(text: str) -> str:
    """Manila's ``2026-12-04T09:00:00.000000`` (UTC, no zone) as RFC 3339."""
    return text if text.endswith("Z") or "+" in text[10:] else f"{text}Z"
