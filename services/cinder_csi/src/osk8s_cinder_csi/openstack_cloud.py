"""``CinderCloud`` over a real OpenStack: core resource modules + the instrumented client.

Each operation builds its resource helpers on the current connection (so credential rotation
in ``ConnectionFactory`` takes effect) and converts openstacksdk objects into the frozen values
of ``cloud``. Waits follow CPO's back-off budgets (``CloudWaits``). No CSI decisions here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from openstack.block_storage.v3.snapshot import Snapshot
from openstack.block_storage.v3.volume import Volume

from osk8s_cinder_csi.cloud import BackupInfo, NewVolume, Page, SnapshotInfo, VolumeInfo
from osk8s_cinder_csi.lookups import NameFilter
from osk8s_cinder_csi.sdk_values import backup_info, snapshot_info, volume_info
from osk8s_core import errors
from osk8s_core.crashpoints import NO_CRASH_POINTS, CrashPoints
from osk8s_core.grpc.csi import InvalidToken
from osk8s_core.openstack.backups import Backups
from osk8s_core.openstack.client import Logger, OpenStackClient
from osk8s_core.openstack.idempotency import create_after_lookup, require_match, single
from osk8s_core.openstack.servers import Servers
from osk8s_core.openstack.snapshots import Snapshots
from osk8s_core.openstack.volumes import Volumes, VolumeSpec
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import WaitPolicy

if TYPE_CHECKING:
    from openstack.connection import Connection

    from osk8s_core.metrics import ApiMetrics

_ATTACHED = "ATTACHED"
_GONE = "<gone>"
_DETACHED = "DETACHED"


def _steps(count: int, factor: float) -> WaitPolicy:
    """CPO's wait.Backoff{Duration: 1s, Factor, Steps} as a total time budget."""
    total = sum(factor**i for i in range(count))
    return WaitPolicy(timeout=total, interval=1.0, factor=factor, max_interval=60.0)


@dataclass(frozen=True)
class CloudWaits:
    """How long each wait may take (CPO's budgets); tests pass fast sleeps/clocks."""

    volume: Waiter = field(default_factory=lambda: Waiter(policy=_steps(10, 1.4)))
    """Create/expand until available: 1 s x1.4, 10 steps (~79 s). CPO waits 1 s x1.1, 10 steps
    (~16 s) and answers INTERNAL; a slow backend then fails every create. Past our budget the
    RPC is DEADLINE_EXCEEDED (the provisioner keeps the create "in progress" and retries), and
    the retry finds the volume by name and waits again (README: CreateVolume waits)."""
    attach: Waiter = field(default_factory=lambda: Waiter(policy=_steps(15, 1.2)))
    """Attach until in-use (CPO: 1 s x1.2, 15 steps)."""
    detach: Waiter = field(default_factory=lambda: Waiter(policy=_steps(13, 1.2)))
    """Detach until gone from the server (CPO: 13 steps)."""
    snapshot: Waiter = field(default_factory=lambda: Waiter(policy=_steps(10, 1.2)))
    """Snapshot until available (CPO: 1 s x1.2, 10 steps)."""
    delete: Waiter = field(default_factory=lambda: Waiter(policy=_steps(15, 1.2)))
    """Volume/snapshot deletion until gone (~72 s, well inside the sidecars' 3 min timeout;
    CPO does not wait at all). Past it the RPC fails DEADLINE_EXCEEDED and the CO's retry
    waits again."""
    backup_poll: float = 7.0
    """Backup poll interval in seconds (CPO: 7 s); the budget comes per call."""


def _bad_marker(marker: str, exc: errors.OpenStackError) -> errors.Osk8sError:
    # Cinder answers an unknown marker with 404 (or 400 for a malformed one).
    return InvalidToken(f"invalid starting token {marker!r}") if marker else exc


class OpenStackCinderCloud:
    """One cloud (one ``[Global "name"]`` section) behind ``CinderCloud``."""

    def __init__(
        self,
        *,
        connect: Callable[[], Connection],
        metrics: ApiMetrics,
        logger: Logger,
        waits: CloudWaits | None = None,
        crash_points: CrashPoints = NO_CRASH_POINTS,
    ) -> None:
        self._connect = connect
        self._crash_points = crash_points
        self._metrics = metrics
        self._log = logger
        self._waits = waits if waits is not None else CloudWaits()
        self._by_name = NameFilter()
        self._snapshot_filters = NameFilter()  # only its server_side flag is used

    def _client(self) -> OpenStackClient[Connection]:
        return OpenStackClient(
            self._connect(),
            metrics=self._metrics,
            logger=self._log,
            crash_points=self._crash_points,
        )

    def _volumes(self) -> Volumes:
        return Volumes(self._client(), waiter=self._waits.volume)

    def _snapshots(self) -> Snapshots:
        return Snapshots(self._client(), waiter=self._waits.snapshot)

    # volumes -------------------------------------------------------------------------------

    def find_volumes(self, name: str) -> list[VolumeInfo]:
        client = self._client()
        found = self._by_name(client, "volume_list", client.service("block_storage").volumes, name)
        return [volume_info(v) for v in found]

    def get_volume(self, volume_id: str) -> VolumeInfo:
        return volume_info(self._volumes().get(volume_id))

    def create_volume(self, spec: NewVolume) -> VolumeInfo:
        core_spec = VolumeSpec(
            name=spec.name,
            size_gb=spec.size_gb,
            volume_type=spec.volume_type or None,
            availability_zone=spec.availability_zone or None,
            description=spec.description or None,
            metadata=spec.metadata,
            snapshot_id=spec.snapshot_id or None,
            source_volume_id=spec.source_volume_id or None,
            backup_id=spec.backup_id or None,
        )
        attrs = core_spec.attributes()
        if spec.scheduler_hints:
            # The sdk sends these beside the volume body (OS-SCH-HNT:scheduler_hints).
            attrs["scheduler_hints"] = {k: list(v) for k, v in spec.scheduler_hints.items()}
        client = self._client()
        api = client.service("block_storage")
        what = f"volume {spec.name!r}"
        volume = create_after_lookup(
            find=lambda: single(
                self._by_name(client, "volume_list", api.volumes, spec.name), what=what
            ),
            create=lambda: client.call(
                "volume_create", api.create_volume, idempotent=False, **attrs
            ),
            check=lambda found: require_match(found, core_spec.identity(), what=what),
        )
        volumes = Volumes(client, waiter=self._waits.volume)
        return volume_info(volumes.wait_available(volume.id))

    def wait_volume_available(self, volume_id: str) -> VolumeInfo:
        return volume_info(self._volumes().wait_available(volume_id))

    def delete_volume(self, volume_id: str) -> None:
        # Waits until Cinder no longer lists it: a CO that saw DeleteVolume succeed must not
        # find the volume in ListVolumes/ControllerGetVolume (Cinder shows it `deleting`).
        volumes = Volumes(self._client(), waiter=self._waits.delete)
        try:
            volumes.delete(volume_id)
        except errors.BadRequest:
            # Cinder refuses a second DELETE while the first runs; that one is ours to wait on.
            if self._status_or_gone(volumes.get, volume_id) not in {"deleting", _GONE}:
                raise
        self._waits.delete.until_gone(
            lambda: volumes.get(volume_id),
            describe=f"volume {volume_id} deletion",
            failure=("error_deleting",),
        )

    @staticmethod
    def _status_or_gone(get: Callable[[str], Any], ident: str) -> str:
        try:
            return str(get(ident).status or "")
        except errors.NotFound:
            return _GONE

    def list_volumes(self, *, limit: int, marker: str) -> Page:
        client = self._client()
        api = client.service("block_storage")
        query: dict[str, Any] = {}
        if limit > 0:
            query["limit"] = limit
        if marker:
            query["marker"] = marker

        def fetch() -> list[Any]:
            if limit > 0:
                # One request: the sdk's paginated list would fetch the next page too.
                return list(
                    Volume.list(
                        client.connection.block_storage,
                        paginated=False,
                        base_path="/volumes/detail",
                        **query,
                    )
                )
            return list(api.volumes(details=True, **query))

        try:
            found = client.call("volume_list", fetch)
        except (errors.BadRequest, errors.NotFound) as exc:
            # Cinder answers an unknown marker with 404 (or 400 for a malformed one).
            if marker:
                raise InvalidToken(f"invalid starting token {marker!r}") from exc
            raise
        volumes = tuple(volume_info(v) for v in found)
        next_marker = volumes[-1].id if limit > 0 and len(volumes) == limit else ""
        return Page(volumes=volumes, next_marker=next_marker)

    def expand_volume(self, volume_id: str, size_gb: int, *, in_use: bool) -> VolumeInfo:
        client = self._client()
        api = client.service("block_storage")
        client.call("volume_expand", api.extend_volume, volume_id, size_gb, idempotent=False)
        volumes = Volumes(client, waiter=self._waits.volume)
        return volume_info(volumes.wait_available(volume_id))

    # attachments ---------------------------------------------------------------------------

    def server_exists(self, server_id: str) -> bool:
        try:
            Servers(self._client()).get(server_id)
        except errors.NotFound:
            return False
        return True

    def attach(self, server_id: str, volume_id: str) -> str:
        client = self._client()
        attachment = Servers(client).attach_volume(server_id, volume_id)
        volumes = Volumes(client)
        volume = self._waits.attach.until(
            lambda: volume_info(volumes.get(volume_id)),
            target=_ATTACHED,
            failure=("error", "error_attaching"),
            describe=f"volume {volume_id} attached to {server_id}",
            status_of=lambda v: _ATTACHED if server_id in v.attached_servers else v.status,
        )
        return volume.attachment_devices.get(server_id) or str(attachment.device or "")

    def detach(self, server_id: str, volume_id: str) -> None:
        client = self._client()
        Servers(client).detach_volume(server_id, volume_id)
        volumes = Volumes(client)

        def fetch() -> VolumeInfo | None:
            try:
                return volume_info(volumes.get(volume_id))
            except errors.NotFound:
                return None

        self._waits.detach.until(
            fetch,
            target=_DETACHED,
            failure=("error_detaching",),
            describe=f"volume {volume_id} detached from {server_id}",
            status_of=lambda v: (
                _DETACHED if v is None or server_id not in v.attached_servers else v.status
            ),
        )

    # snapshots -----------------------------------------------------------------------------

    def find_snapshots(self, name: str) -> list[SnapshotInfo]:
        client = self._client()
        found = self._by_name(
            client, "snapshot_list", client.service("block_storage").snapshots, name
        )
        return [snapshot_info(s) for s in found]

    def get_snapshot(self, snapshot_id: str) -> SnapshotInfo:
        return snapshot_info(self._snapshots().get(snapshot_id))

    def create_snapshot(
        self, name: str, volume_id: str, *, metadata: Mapping[str, str], force: bool
    ) -> SnapshotInfo:
        # The controller looked the name up already (find_snapshots); a lost answer is
        # resolved the same way here, so a retry never makes a second snapshot.
        client = self._client()
        api = client.service("block_storage")
        attrs: dict[str, Any] = {"name": name, "volume_id": volume_id, "force": force}
        if metadata:
            attrs["metadata"] = dict(metadata)
        what = f"snapshot {name!r}"
        snapshot = create_after_lookup(
            find=lambda: single(
                self._by_name(client, "snapshot_list", api.snapshots, name), what=what
            ),
            create=lambda: client.call(
                "snapshot_create", api.create_snapshot, idempotent=False, **attrs
            ),
            check=lambda found: require_match(found, {"volume_id": volume_id}, what=what),
        )
        snapshots = Snapshots(client, waiter=self._waits.snapshot)
        return snapshot_info(snapshots.wait_available(snapshot.id))

    def delete_snapshot(self, snapshot_id: str) -> None:
        # Waits until gone: Cinder refuses to delete a volume while a snapshot of it is still
        # `deleting` (400 "must not have snapshots"), and a CO deletes the source right after.
        snapshots = Snapshots(self._client(), waiter=self._waits.delete)
        try:
            snapshots.delete(snapshot_id)
        except errors.BadRequest:
            if self._status_or_gone(snapshots.get, snapshot_id) not in {"deleting", _GONE}:
                raise
        self._waits.delete.until_gone(
            lambda: snapshots.get(snapshot_id),
            describe=f"snapshot {snapshot_id} deletion",
            failure=("error_deleting",),
        )

    def list_snapshots(
        self, *, volume_id: str = "", limit: int = 0, marker: str = ""
    ) -> tuple[list[SnapshotInfo], str]:
        client = self._client()
        api = client.service("block_storage")
        filters: dict[str, Any] = {"status": "available"}
        if volume_id:
            filters["volume_id"] = volume_id
        if not self._snapshot_filters.server_side:
            return self._snapshots_client_side(client, filters, limit=limit, marker=marker)
        query = dict(filters)
        if limit > 0:
            query["limit"] = limit
        if marker:
            query["marker"] = marker

        def fetch() -> list[Any]:
            if limit > 0:
                return list(
                    Snapshot.list(
                        client.connection.block_storage,
                        paginated=False,
                        base_path="/snapshots/detail",
                        **query,
                    )
                )
            return list(api.snapshots(details=True, **query))

        try:
            found = [snapshot_info(s) for s in client.call("snapshot_list", fetch)]
        except errors.BadRequest as exc:
            if "filter" not in str(exc).lower():
                raise _bad_marker(marker, exc) from exc
            # The cloud's resource_filters.json refuses status/volume_id (see NameFilter).
            self._snapshot_filters.server_side = False
            return self._snapshots_client_side(client, filters, limit=limit, marker=marker)
        except errors.NotFound as exc:
            raise _bad_marker(marker, exc) from exc
        next_marker = found[-1].id if limit > 0 and len(found) == limit else ""
        return found, next_marker

    def _snapshots_client_side(
        self,
        client: OpenStackClient[Connection],
        filters: dict[str, Any],
        *,
        limit: int,
        marker: str,
    ) -> tuple[list[SnapshotInfo], str]:
        api = client.service("block_storage")
        every = client.call("snapshot_list", lambda: list(api.snapshots(details=True)))
        found = [
            snapshot_info(s)
            for s in every
            if all(getattr(s, key, None) == value for key, value in filters.items())
        ]
        start = 0
        if marker:
            ids = [s.id for s in found]
            if marker not in ids:
                raise InvalidToken(f"invalid starting token {marker!r}")
            start = ids.index(marker) + 1
        page = found[start : start + limit] if limit > 0 else found[start:]
        more = limit > 0 and start + limit < len(found)
        return page, page[-1].id if more and page else ""

    # backups -------------------------------------------------------------------------------

    def find_backups(self, name: str) -> list[BackupInfo]:
        client = self._client()
        found = self._by_name(client, "backup_list", client.service("block_storage").backups, name)
        return [backup_info(b) for b in found]

    def get_backup(self, backup_id: str) -> BackupInfo:
        return backup_info(Backups(self._client()).get(backup_id))

    def create_backup(
        self, name: str, volume_id: str, snapshot_id: str, *, availability_zone: str, timeout: float
    ) -> BackupInfo:
        base = self._waits.snapshot
        policy = WaitPolicy(
            timeout=timeout,
            interval=self._waits.backup_poll,
            factor=1.0,
            max_interval=self._waits.backup_poll,
        )
        backups = Backups(self._client(), waiter=Waiter(policy, sleep=base.sleep, clock=base.clock))
        backup = backups.create(
            name,
            volume_id,
            snapshot_id=snapshot_id,
            availability_zone=availability_zone or None,
            wait=True,
        )
        return backup_info(backup)

    def delete_backup(self, backup_id: str) -> None:
        Backups(self._client()).delete(backup_id)
