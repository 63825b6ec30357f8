"""Cinder volumes: create (idempotent by name), get, find, list, extend, delete, waits.

A thin layer over the block-storage v3 proxy: every call goes through ``OpenStackClient``
with CPO's request labels (``volume_create``, ``volume_get``, ``volume_list``,
``volume_extend``, ``volume_delete``). Attaching to a server is Nova's API (``servers``);
snapshots and backups have their own modules. No policy decisions (sizes, AZs) live here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from osk8s_core.openstack.filters import named
from osk8s_core.openstack.idempotency import create_once, require_match, single
from osk8s_core.openstack.waiting import Waiter

if TYPE_CHECKING:
    from openstack.block_storage.v3._proxy import Proxy as BlockStorage
    from openstack.block_storage.v3.volume import Volume
    from openstack.connection import Connection

    from osk8s_core.openstack.client import OpenStackClient


@dataclass(frozen=True)
class VolumeSpec:
    """What to create; ``name`` is the idempotency key (the CSI volume name)."""

    name: str
    size_gb: int
    volume_type: str | None = None
    availability_zone: str | None = None
    description: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    """Key/values stored on the volume (CPO: ``cinder.csi.openstack.org/cluster`` ...)."""
    snapshot_id: str | None = None
    source_volume_id: str | None = None
    backup_id: str | None = None
    """Restore from a backup (needs microversion 3.47+; the sdk negotiates it)."""
    image_id: str | None = None
    """Create from a Glance image (a bootable root volume, CAPO's ``rootVolume``)."""

    def attributes(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {"name": self.name, "size": self.size_gb}
        optional = {
            "volume_type": self.volume_type,
            "availability_zone": self.availability_zone,
            "description": self.description,
            "snapshot_id": self.snapshot_id,
            "source_volid": self.source_volume_id,
            "backup_id": self.backup_id,
            "image_id": self.image_id,
        }
        attrs.update({k: v for k, v in optional.items() if v is not None})
        if self.metadata:
            attrs["metadata"] = dict(self.metadata)
        return attrs

    def identity(self) -> dict[str, object]:
        """What a volume found by this name must also have to count as "the same" volume
        (CPO: same name and size is a repeat, another size is ALREADY_EXISTS; CSI: another
        content source is ALREADY_EXISTS too). ``None`` here means "must have none"."""
        return {
            "size": self.size_gb,
            "snapshot_id": self.snapshot_id,
            "source_volume_id": self.source_volume_id,
        }


class Volumes:
    """Cinder volumes of the client's project."""

    def __init__(
        self, client: OpenStackClient[Connection], *, waiter: Waiter | None = None
    ) -> None:
        self._client = client
        self._waiter = waiter if waiter is not None else Waiter()

    @property
    def _api(self) -> BlockStorage:
        return cast("BlockStorage", self._client.service("block_storage"))

    def get(self, volume_id: str) -> Volume:
        """The volume; NotFound when it does not exist."""
        return self._client.call("volume_get", self._api.get_volume, volume_id)

    def query(self, **filters: Any) -> list[Volume]:
        """Volumes matching Cinder's list filters (``name``, ``status``, ``metadata``...)."""
        return self._client.call("volume_list", lambda: list(self._api.volumes(**filters)))

    def find_by_name(self, name: str) -> Volume | None:
        """The volume named exactly ``name``; AmbiguousMatch if there are several."""
        return single(named(self.query(name=name), name), what=f"volumes named {name!r}")

    def create(self, spec: VolumeSpec, *, wait: bool = True) -> Volume:
        """Create, or return the volume of that name made by an earlier (maybe crashed) call.

        Idempotent by name: a volume named ``spec.name`` is returned as is when its size and
        source match, AlreadyExists otherwise; after a create with a lost answer the name is
        looked up again, so a retry never makes a second volume. ``wait``: until available.
        """
        what = f"volume {spec.name!r}"
        volume = create_once(
            find=lambda: self.find_by_name(spec.name),
            create=lambda: self._client.call(
                "volume_create", self._api.create_volume, idempotent=False, **spec.attributes()
            ),
            check=lambda found: require_match(
                found, spec.identity(), what=what, none_is_wildcard=False
            ),
        )
        return self.wait_available(volume.id) if wait else volume

    def wait_available(self, volume_id: str) -> Volume:
        """Poll until ``available`` (or ``in-use``); ResourceError on ``error``."""
        return self._waiter.until(
            lambda: self.get(volume_id),
            target=("available", "in-use"),
            failure=("error", "error_extending", "error_restoring"),
            describe=f"volume {volume_id}",
        )

    def extend(self, volume_id: str, size_gb: int, *, wait: bool = True) -> Volume:
        """Grow to ``size_gb``; a no-op when it is that size or larger already (a repeated
        expand is safe). Cinder extends only detached volumes before microversion 3.42."""
        volume = self.get(volume_id)
        if volume.size is not None and volume.size >= size_gb:
            return volume
        self._client.call(
            "volume_extend", self._api.extend_volume, volume_id, size_gb, idempotent=False
        )
        return self.wait_available(volume_id) if wait else self.get(volume_id)

    def set_metadata(self, volume_id: str, metadata: Mapping[str, str]) -> None:
        """Add or overwrite metadata keys (others stay): repeating it changes nothing."""
        values = dict(metadata)
        self._client.call(
            "volume_metadata_update", lambda: self._api.set_volume_metadata(volume_id, **values)
        )

    def delete(self, volume_id: str, *, wait: bool = False) -> None:
        """Delete; an already deleted volume is success. ``wait``: until it is gone."""
        self._client.call("volume_delete", self._api.delete_volume, volume_id, ignore_missing=True)
        if wait:
            self._waiter.until_gone(
                lambda: self.get(volume_id),
                describe=f"volume {volume_id} deletion",
                failure=("error_deleting",),
            )
