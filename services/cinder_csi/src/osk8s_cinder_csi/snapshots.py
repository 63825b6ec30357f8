"""CreateSnapshot/DeleteSnapshot/ListSnapshots decisions for both VolumeSnapshotClass types.

``type: snapshot`` (default) is a Cinder snapshot; ``type: backup`` is a Cinder backup made
from an intermediate snapshot that is deleted afterwards (CPO PR #2480), the backup id then
being the CSI snapshot id. Idempotent by name. Talks to one ``CinderCloud``; no locks here.
"""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf.timestamp_pb2 import Timestamp

from osk8s_cinder_csi.cloud import BackupInfo, CinderCloud, SnapshotInfo
from osk8s_cinder_csi.options import CLUSTER_KEY, GIB, parse_bool
from osk8s_core import errors
from osk8s_core.grpc.csi import FailedPrecondition, InvalidArgument
from osk8s_core.proto.csi import csi_pb2

SNAPSHOT_METADATA_KEYS = (
    "csi.storage.k8s.io/volumesnapshot/name",
    "csi.storage.k8s.io/volumesnapshot/namespace",
    "csi.storage.k8s.io/volumesnapshotcontent/name",
)
BACKUP_SECONDS_PER_GB = 20
"""``backup-max-duration-seconds-per-gb`` default (CPO)."""
BACKUP_BASE_SECONDS = 30


def snapshot_metadata(params: Mapping[str, str], cluster: str) -> dict[str, str]:
    meta = {key: params[key] for key in SNAPSHOT_METADATA_KEYS if params.get(key)}
    if cluster:
        meta[CLUSTER_KEY] = cluster
    return meta


def _timestamp(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def to_csi(item: SnapshotInfo | BackupInfo, *, ready: bool) -> csi_pb2.Snapshot:
    return csi_pb2.Snapshot(
        snapshot_id=item.id,
        source_volume_id=item.volume_id,
        size_bytes=item.size_gb * GIB,
        creation_time=_timestamp(item.created_at),
        ready_to_use=ready,
    )


def _same_source(item: SnapshotInfo | BackupInfo, volume_id: str, what: str) -> None:
    if item.volume_id != volume_id:
        raise errors.AlreadyExists(
            f"{what} {item.name!r} exists for volume {item.volume_id}, not {volume_id}"
        )


def _one(items: list[SnapshotInfo] | list[BackupInfo], what: str) -> SnapshotInfo | BackupInfo:
    if len(items) > 1:
        raise errors.AmbiguousMatch(f"{len(items)} {what}s named {items[0].name!r}")
    return items[0]


def create(
    cloud: CinderCloud, req: csi_pb2.CreateSnapshotRequest, *, cluster: str
) -> csi_pb2.Snapshot:
    params = req.parameters
    kind = params.get("type", "") or "snapshot"
    if kind not in {"snapshot", "backup"}:
        raise InvalidArgument(f"snapshot type {kind!r} is not snapshot or backup")
    force = parse_bool(params.get("force-create", "false"), flag="force-create")
    metadata = snapshot_metadata(params, cluster)
    if kind == "backup":
        return _create_backup(cloud, req, force=force, metadata=metadata)
    found = cloud.find_snapshots(req.name)
    if found:
        snapshot = _one(found, "snapshot")
        _same_source(snapshot, req.source_volume_id, "snapshot")
        return to_csi(snapshot, ready=snapshot.status == "available")
    snapshot = cloud.create_snapshot(req.name, req.source_volume_id, metadata=metadata, force=force)
    return to_csi(snapshot, ready=True)


def _create_backup(
    cloud: CinderCloud,
    req: csi_pb2.CreateSnapshotRequest,
    *,
    force: bool,
    metadata: Mapping[str, str],
) -> csi_pb2.Snapshot:
    params = req.parameters
    found_backups = cloud.find_backups(req.name)
    if found_backups:
        backup = _one(found_backups, "backup")
        _same_source(backup, req.source_volume_id, "backup")
        return to_csi(backup, ready=backup.status == "available")
    per_gb = _positive_int(params.get("backup-max-duration-seconds-per-gb"), BACKUP_SECONDS_PER_GB)
    found = cloud.find_snapshots(req.name)
    if found:
        snapshot = _one(found, "snapshot")
        _same_source(snapshot, req.source_volume_id, "snapshot")
    else:
        snapshot = cloud.create_snapshot(
            req.name, req.source_volume_id, metadata=metadata, force=force
        )
    backup = cloud.create_backup(
        req.name,
        req.source_volume_id,
        snapshot.id,
        availability_zone=params.get("availability", ""),
        timeout=per_gb * max(snapshot.size_gb, 1) + BACKUP_BASE_SECONDS,
    )
    # The intermediate snapshot only served as the backup's consistent source.
    cloud.delete_snapshot(snapshot.id)
    return to_csi(backup, ready=backup.status == "available")


def _positive_int(text: str | None, default: int) -> int:
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise InvalidArgument(
            f"backup-max-duration-seconds-per-gb {text!r} is no integer"
        ) from None
    if value <= 0:
        raise InvalidArgument("backup-max-duration-seconds-per-gb must be positive")
    return value


def delete(cloud: CinderCloud, snapshot_id: str) -> None:
    """A backup id deletes the backup; otherwise the snapshot. Gone already is success."""
    try:
        cloud.get_backup(snapshot_id)
    except errors.NotFound:
        _delete_snapshot(cloud, snapshot_id)
        return
    cloud.delete_backup(snapshot_id)


def _delete_snapshot(cloud: CinderCloud, snapshot_id: str) -> None:
    try:
        cloud.delete_snapshot(snapshot_id)  # waits until gone
    except errors.BadRequest as exc:
        # Cinder refuses a delete while the snapshot is in use (a volume being created from
        # it, a backup): a precondition the CO retries, not an invalid argument.
        raise FailedPrecondition(f"snapshot {snapshot_id} cannot be deleted: {exc}") from exc


def list_page(
    cloud: CinderCloud, req: csi_pb2.ListSnapshotsRequest
) -> csi_pb2.ListSnapshotsResponse:
    if req.max_entries < 0:
        raise InvalidArgument("max_entries must not be negative")
    if req.snapshot_id:
        try:
            snapshot = cloud.get_snapshot(req.snapshot_id)
        except errors.NotFound:
            return csi_pb2.ListSnapshotsResponse()
        if req.source_volume_id and snapshot.volume_id != req.source_volume_id:
            return csi_pb2.ListSnapshotsResponse()
        snapshots, token = [snapshot], ""
    else:
        snapshots, token = cloud.list_snapshots(
            volume_id=req.source_volume_id, limit=req.max_entries, marker=req.starting_token
        )
    entries = [
        csi_pb2.ListSnapshotsResponse.Entry(snapshot=to_csi(s, ready=s.status == "available"))
        for s in snapshots
    ]
    return csi_pb2.ListSnapshotsResponse(entries=entries, next_token=token)
