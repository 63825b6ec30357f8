"""Cinder snapshots: create (idempotent by name), get, find, list, delete, waits.

Labels ``snapshot_create``/``_get``/``_list``/``_delete`` as CPO's cinder CSI. A snapshot
name is the CSI snapshot name: the same name on another source volume is ALREADY_EXISTS.
Thin layer over the block-storage v3 proxy; backups live in ``backups``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from osk8s_core.openstack.source_copies import CopyKind, SourceCopies

if TYPE_CHECKING:
    from openstack.block_storage.v3.snapshot import Snapshot


class Snapshots(SourceCopies["Snapshot"]):
    """Cinder snapshots of the client's project."""

    kind = CopyKind(
        service="block_storage", resource="snapshot", noun="snapshot", source_key="volume_id"
    )

    def create(
        self,
        name: str,
        volume_id: str,
        *,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        force: bool = False,
        wait: bool = True,
    ) -> Snapshot:
        """Snapshot ``volume_id`` as ``name``, or return the snapshot an earlier call made.

        Idempotent by name: found with the same source volume is returned, another source
        is AlreadyExists; a lost create answer is resolved by looking the name up again.
        ``force`` snapshots an in-use volume (CPO ``force-create``). ``wait``: until available.
        """
        attrs: dict[str, Any] = {"name": name, "volume_id": volume_id, "force": force}
        if description is not None:
            attrs["description"] = description
        if metadata:
            attrs["metadata"] = dict(metadata)
        return self._create_once(name, volume_id, attrs, wait=wait)
