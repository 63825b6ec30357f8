"""CSI Controller service: volumes, attachments, snapshots, expansion (CPO §2.3 semantics).

Each handler checks required fields and holds the per-id in-flight lock (``@rpc``), then
asks the cloud chosen by the ``cloud`` secret. Decisions for CreateVolume and snapshots live
in ``volumes`` and ``snapshots``; errors are raised, never aborted here (see ``status``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from osk8s_cinder_csi import affinity, snapshots, volumes
from osk8s_cinder_csi.affinity import PvcReader
from osk8s_cinder_csi.capabilities import (
    check_capabilities,
    check_capability,
    size_gib,
    unconfirmed,
)
from osk8s_cinder_csi.cloud import CinderCloud, Clouds, VolumeInfo
from osk8s_cinder_csi.options import GIB, ControllerOptions
from osk8s_core import errors
from osk8s_core.grpc.csi import (
    FailedPrecondition,
    InFlight,
    InvalidArgument,
    InvalidToken,
    ObjectNotFound,
    rpc,
)
from osk8s_core.proto.csi import csi_pb2, csi_pb2_grpc

_Cap = csi_pb2.ControllerServiceCapability.RPC.Type
CAPABILITIES = (
    _Cap.LIST_VOLUMES,
    _Cap.CREATE_DELETE_VOLUME,
    _Cap.PUBLISH_UNPUBLISH_VOLUME,
    _Cap.CREATE_DELETE_SNAPSHOT,
    _Cap.LIST_SNAPSHOTS,
    _Cap.EXPAND_VOLUME,
    _Cap.CLONE_VOLUME,
    _Cap.LIST_VOLUMES_PUBLISHED_NODES,
    _Cap.GET_VOLUME,
)
DEVICE_PATH_KEY = "DevicePath"
READY_STATUSES = frozenset({"available", "in-use"})


class ControllerService(csi_pb2_grpc.ControllerServicer):
    def __init__(
        self,
        *,
        clouds: Clouds,
        options: ControllerOptions,
        in_flight: InFlight | None = None,
        pvc_reader: PvcReader | None = None,
    ) -> None:
        self._clouds = clouds
        self._opts = options
        self._pvcs = pvc_reader
        self.in_flight = in_flight if in_flight is not None else InFlight()

    # volumes -------------------------------------------------------------------------------

    @rpc(required=("name", "volume_capabilities"), lock="name")
    def CreateVolume(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.CreateVolumeRequest, context: Any
    ) -> csi_pb2.CreateVolumeResponse:
        check_capabilities(request.volume_capabilities)
        cloud = self._clouds.pick(request.secrets)
        spec = volumes.plan(request, self._opts)
        found = cloud.find_volumes(request.name)
        if len(found) > 1:
            raise errors.AmbiguousMatch(f"{len(found)} volumes named {request.name!r}")
        if found:
            # Matches CPO: idempotent by name; another size is ALREADY_EXISTS.
            if found[0].size_gb != spec.size_gb:
                raise errors.AlreadyExists(
                    f"volume {request.name!r} exists with {found[0].size_gb} GiB, "
                    f"not {spec.size_gb} GiB"
                )
            volume = found[0]
            if volume.status not in READY_STATUSES:
                # An earlier call created it and ran out of time waiting (or crashed): wait as
                # that call would have; never hand out a volume still `creating` (CPO does).
                volume = cloud.wait_volume_available(volume.id)
            return volumes.response(volume, request, self._opts)
        spec = volumes.with_source(cloud, spec, request)
        extra: dict[str, str] = {}
        if self._opts.pvc_annotations and self._pvcs is not None:
            scheduler_hints, extra = affinity.hints(cloud, request.parameters, self._pvcs)
            spec = replace(spec, scheduler_hints=scheduler_hints)
        try:
            volume = cloud.create_volume(spec)
        except errors.NotFound as exc:
            # The source was found just above; a 404 on the create names a parameter Cinder
            # does not know (volume type): a bad StorageClass, not a missing source.
            raise InvalidArgument(f"Cinder refused volume {request.name!r}: {exc}") from exc
        response = volumes.response(volume, request, self._opts)
        response.volume.volume_context.update(extra)
        return response

    @rpc(required=("volume_id",), lock="volume_id")
    def DeleteVolume(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.DeleteVolumeRequest, context: Any
    ) -> csi_pb2.DeleteVolumeResponse:
        cloud = self._clouds.pick(request.secrets)
        try:
            volume = cloud.get_volume(request.volume_id)
        except errors.NotFound:
            return csi_pb2.DeleteVolumeResponse()
        if volume.attached_servers:
            raise FailedPrecondition(
                f"volume {request.volume_id} is still attached to "
                + ", ".join(volume.attached_servers)
            )
        try:
            # Returns once the volume is gone (an earlier call's delete is waited for), so a
            # CO never lists a volume it was told is deleted.
            cloud.delete_volume(request.volume_id)
        except errors.BadRequest as exc:
            # Cinder's 400 on delete is a state refusal (snapshots, migrating, in a group):
            # CSI's "volume in use", FAILED_PRECONDITION, which the CO retries with back-off.
            raise FailedPrecondition(
                f"volume {request.volume_id} cannot be deleted: {exc}"
            ) from exc
        return csi_pb2.DeleteVolumeResponse()

    @rpc(required=("volume_id", "node_id", "volume_capability"), lock="volume_id")
    def ControllerPublishVolume(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.ControllerPublishVolumeRequest, context: Any
    ) -> csi_pb2.ControllerPublishVolumeResponse:
        check_capability(request.volume_capability)
        cloud = self._clouds.pick(request.secrets)
        volume = _get(cloud, request.volume_id)
        node = request.node_id
        if node in volume.attached_servers:
            device = volume.attachment_devices.get(node, "")
        else:
            if volume.attached_servers and not volume.multiattach:
                raise FailedPrecondition(
                    f"volume {volume.id} is attached to {volume.attached_servers[0]} and is "
                    "not multiattach"
                )
            if not cloud.server_exists(node):
                raise ObjectNotFound(f"node (instance) {node} not found")
            device = cloud.attach(node, volume.id)
        return csi_pb2.ControllerPublishVolumeResponse(publish_context={DEVICE_PATH_KEY: device})

    @rpc(required=("volume_id",), lock="volume_id")
    def ControllerUnpublishVolume(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.ControllerUnpublishVolumeRequest, context: Any
    ) -> csi_pb2.ControllerUnpublishVolumeResponse:
        cloud = self._clouds.pick(request.secrets)
        try:
            volume = cloud.get_volume(request.volume_id)
        except errors.NotFound:
            return csi_pb2.ControllerUnpublishVolumeResponse()
        # An empty node id means "from every node" (CSI spec).
        nodes = [request.node_id] if request.node_id else list(volume.attached_servers)
        for node in nodes:
            # Matches CPO: a deleted instance has nothing left to detach (Nova would 404 and
            # Cinder may keep a stale attachment we would wait on forever).
            if node in volume.attached_servers and cloud.server_exists(node):
                cloud.detach(node, volume.id)
        return csi_pb2.ControllerUnpublishVolumeResponse()

    def ListVolumes(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.ListVolumesRequest, context: Any
    ) -> csi_pb2.ListVolumesResponse:
        if request.max_entries < 0:
            raise InvalidArgument("max_entries must not be negative")
        names = self._clouds.names()
        marker, cloud_name = _parse_token(request.starting_token, names)
        entries: list[csi_pb2.ListVolumesResponse.Entry] = []
        limit = request.max_entries
        for index in range(names.index(cloud_name), len(names)):
            cloud = self._clouds.get(names[index])
            assert cloud is not None
            remaining = limit - len(entries) if limit else 0
            page = cloud.list_volumes(limit=remaining, marker=marker)
            marker = ""
            entries.extend(_entry(v) for v in page.volumes)
            if page.next_marker:
                token = f"{page.next_marker}:{names[index]}"
                return csi_pb2.ListVolumesResponse(entries=entries, next_token=token)
            if limit and len(entries) >= limit and index + 1 < len(names):
                return csi_pb2.ListVolumesResponse(
                    entries=entries, next_token=f":{names[index + 1]}"
                )
        return csi_pb2.ListVolumesResponse(entries=entries)

    @rpc(required=("volume_id",))
    def ControllerGetVolume(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.ControllerGetVolumeRequest, context: Any
    ) -> csi_pb2.ControllerGetVolumeResponse:
        # Matches CPO: no secrets in this RPC, so every cloud is searched.
        for _, cloud in self._clouds:
            try:
                volume = cloud.get_volume(request.volume_id)
            except errors.NotFound:
                continue
            entry = _entry(volume)
            return csi_pb2.ControllerGetVolumeResponse(
                volume=entry.volume,
                status=csi_pb2.ControllerGetVolumeResponse.VolumeStatus(
                    published_node_ids=entry.status.published_node_ids
                ),
            )
        raise ObjectNotFound(f"volume {request.volume_id} not found")

    @rpc(required=("volume_id", "volume_capabilities"))
    def ValidateVolumeCapabilities(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.ValidateVolumeCapabilitiesRequest, context: Any
    ) -> csi_pb2.ValidateVolumeCapabilitiesResponse:
        check_capabilities(request.volume_capabilities)
        cloud = self._clouds.pick(request.secrets)
        _get(cloud, request.volume_id)
        reason = unconfirmed(request.volume_capabilities)
        if reason:
            return csi_pb2.ValidateVolumeCapabilitiesResponse(message=reason)
        confirmed = csi_pb2.ValidateVolumeCapabilitiesResponse.Confirmed(
            volume_context=request.volume_context,
            volume_capabilities=request.volume_capabilities,
            parameters=request.parameters,
        )
        return csi_pb2.ValidateVolumeCapabilitiesResponse(confirmed=confirmed)

    @rpc(required=("volume_id", "capacity_range"), lock="volume_id")
    def ControllerExpandVolume(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.ControllerExpandVolumeRequest, context: Any
    ) -> csi_pb2.ControllerExpandVolumeResponse:
        size = size_gib(request.capacity_range)
        cloud = self._clouds.pick(request.secrets)
        volume = _get(cloud, request.volume_id)
        if volume.size_gb < size:
            in_use = volume.status == "in-use"
            if in_use and self._opts.ignore_volume_microversion:
                raise FailedPrecondition(
                    "expanding an in-use volume needs Cinder microversion 3.42, disabled by "
                    "ignore-volume-microversion"
                )
            volume = cloud.expand_volume(volume.id, size, in_use=in_use)
        # Matches CPO: the node always grows the filesystem (a no-op when it already fits).
        return csi_pb2.ControllerExpandVolumeResponse(
            capacity_bytes=max(volume.size_gb, size) * GIB, node_expansion_required=True
        )

    def ControllerGetCapabilities(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.ControllerGetCapabilitiesRequest, context: Any
    ) -> csi_pb2.ControllerGetCapabilitiesResponse:
        caps = [
            csi_pb2.ControllerServiceCapability(
                rpc=csi_pb2.ControllerServiceCapability.RPC(type=kind)
            )
            for kind in CAPABILITIES
        ]
        return csi_pb2.ControllerGetCapabilitiesResponse(capabilities=caps)

    # snapshots -----------------------------------------------------------------------------

    @rpc(required=("name", "source_volume_id"), lock="name")
    def CreateSnapshot(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.CreateSnapshotRequest, context: Any
    ) -> csi_pb2.CreateSnapshotResponse:
        cloud = self._clouds.pick(request.secrets)
        snapshot = snapshots.create(cloud, request, cluster=self._opts.cluster)
        return csi_pb2.CreateSnapshotResponse(snapshot=snapshot)

    @rpc(required=("snapshot_id",), lock="snapshot_id")
    def DeleteSnapshot(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.DeleteSnapshotRequest, context: Any
    ) -> csi_pb2.DeleteSnapshotResponse:
        snapshots.delete(self._clouds.pick(request.secrets), request.snapshot_id)
        return csi_pb2.DeleteSnapshotResponse()

    def ListSnapshots(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.ListSnapshotsRequest, context: Any
    ) -> csi_pb2.ListSnapshotsResponse:
        return snapshots.list_page(self._clouds.pick(request.secrets), request)


def _get(cloud: CinderCloud, volume_id: str) -> VolumeInfo:
    try:
        return cloud.get_volume(volume_id)
    except errors.NotFound as exc:
        raise ObjectNotFound(f"volume {volume_id} not found") from exc


def _entry(volume: VolumeInfo) -> csi_pb2.ListVolumesResponse.Entry:
    return csi_pb2.ListVolumesResponse.Entry(
        volume=csi_pb2.Volume(volume_id=volume.id, capacity_bytes=volume.size_gb * GIB),
        status=csi_pb2.ListVolumesResponse.VolumeStatus(
            published_node_ids=list(volume.attached_servers)
        ),
    )


def _parse_token(token: str, names: list[str]) -> tuple[str, str]:
    """``<marker>:<cloud>`` (CPO's multi-cloud token); a bare marker is for the first cloud."""
    if not token:
        return "", names[0]
    marker, sep, cloud = token.rpartition(":")
    if not sep:
        return token, names[0]
    if cloud not in names:
        raise InvalidToken(f"starting token {token!r} names an unknown cloud")
    return marker, cloud
