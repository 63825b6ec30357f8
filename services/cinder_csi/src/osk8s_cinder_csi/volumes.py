"""CreateVolume's decisions: parameters -> ``NewVolume``, sources, and the CSI response.

Matches CPO: ``type``/``availability`` parameters, AZ from topology (preferred, then
requisite), cluster + PVC/PV metadata, a snapshot source that is really a backup id, the
``resizeRequired`` context for restored/cloned volumes. Talks to one ``CinderCloud``; owns no
locks or gRPC details.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from osk8s_cinder_csi.capabilities import size_gib, zone_from_topology
from osk8s_cinder_csi.cloud import CinderCloud, NewVolume, VolumeInfo
from osk8s_cinder_csi.options import (
    CLUSTER_KEY,
    GIB,
    RESIZE_REQUIRED_KEY,
    TOPOLOGY_KEY,
    VOLUME_DESCRIPTION,
    ControllerOptions,
)
from osk8s_core import errors
from osk8s_core.grpc.csi import ObjectNotFound, Unavailable
from osk8s_core.proto.csi import csi_pb2

# csi-provisioner --extra-create-metadata parameters copied into volume metadata (as CPO).
PVC_METADATA_KEYS = (
    "csi.storage.k8s.io/pvc/name",
    "csi.storage.k8s.io/pvc/namespace",
    "csi.storage.k8s.io/pv/name",
)


def volume_metadata(params: Mapping[str, str], cluster: str) -> dict[str, str]:
    meta = {key: params[key] for key in PVC_METADATA_KEYS if params.get(key)}
    if cluster:
        meta[CLUSTER_KEY] = cluster
    return meta


def availability_zone(req: csi_pb2.CreateVolumeRequest, opts: ControllerOptions) -> str:
    """``availability`` parameter beats topology (as CPO)."""
    zone = req.parameters.get("availability", "")
    if not zone and opts.with_topology and req.HasField("accessibility_requirements"):
        zone = zone_from_topology(req.accessibility_requirements)
    return zone


def plan(req: csi_pb2.CreateVolumeRequest, opts: ControllerOptions) -> NewVolume:
    """The volume to ask for, before looking at its content source."""
    capacity = req.capacity_range if req.HasField("capacity_range") else None
    return NewVolume(
        name=req.name,
        size_gb=size_gib(capacity),
        volume_type=req.parameters.get("type", ""),
        availability_zone=availability_zone(req, opts),
        description=VOLUME_DESCRIPTION,
        metadata=volume_metadata(req.parameters, opts.cluster),
    )


def with_source(cloud: CinderCloud, spec: NewVolume, req: csi_pb2.CreateVolumeRequest) -> NewVolume:
    """Resolve the content source: snapshot (or a backup of that id), or a volume."""
    if not req.HasField("volume_content_source"):
        return spec
    source = req.volume_content_source
    kind = source.WhichOneof("type")
    if kind == "snapshot":
        return _from_snapshot(cloud, spec, source.snapshot.snapshot_id)
    if kind == "volume":
        volume_id = source.volume.volume_id
        try:
            cloud.get_volume(volume_id)
        except errors.NotFound as exc:
            raise ObjectNotFound(f"source volume {volume_id} not found") from exc
        return replace(spec, source_volume_id=volume_id)
    return spec


def _from_snapshot(cloud: CinderCloud, spec: NewVolume, snapshot_id: str) -> NewVolume:
    try:
        snapshot = cloud.get_snapshot(snapshot_id)
    except errors.NotFound:
        # Matches CPO: a "snapshot" id may be a backup made by a `type: backup` class.
        try:
            backup = cloud.get_backup(snapshot_id)
        except errors.NotFound as exc:
            raise ObjectNotFound(f"snapshot or backup {snapshot_id} not found") from exc
        if backup.status != "available":
            raise Unavailable(f"backup {snapshot_id} is {backup.status}, not available") from None
        return replace(spec, backup_id=snapshot_id)
    if snapshot.status != "available":
        raise Unavailable(f"snapshot {snapshot_id} is {snapshot.status}, not available")
    return replace(spec, snapshot_id=snapshot_id)


def response(
    volume: VolumeInfo, req: csi_pb2.CreateVolumeRequest, opts: ControllerOptions
) -> csi_pb2.CreateVolumeResponse:
    context: dict[str, str] = {}
    source = None
    if req.HasField("volume_content_source"):
        # Echoed as asked (a backup stays a snapshot source); the FS must grow on stage.
        source = req.volume_content_source
        context[RESIZE_REQUIRED_KEY] = "true"
    out = csi_pb2.Volume(
        volume_id=volume.id,
        capacity_bytes=volume.size_gb * GIB,
        volume_context=context,
        content_source=source,
    )
    if opts.with_topology:
        if opts.ignore_volume_az:
            if req.HasField("accessibility_requirements"):
                out.accessible_topology.extend(req.accessibility_requirements.preferred)
        elif volume.availability_zone:
            out.accessible_topology.append(
                csi_pb2.Topology(segments={TOPOLOGY_KEY: volume.availability_zone})
            )
    return csi_pb2.CreateVolumeResponse(volume=out)
