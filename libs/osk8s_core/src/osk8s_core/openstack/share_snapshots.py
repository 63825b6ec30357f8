"""Manila share snapshots: create (idempotent by name), get, find, delete, waits.

Labels ``share_snapshot_create``/``_get``/``_list``/``_delete``. A snapshot name is the CSI
snapshot name: the same name on another source share is AlreadyExists. Cinder snapshots live
in ``snapshots``; this module knows only the shared-file-system proxy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from osk8s_core.openstack.source_copies import CopyKind, SourceCopies

if TYPE_CHECKING:
    from openstack.shared_file_system.v2.share_snapshot import ShareSnapshot


class ShareSnapshots(SourceCopies["ShareSnapshot"]):
    """Manila share snapshots of the client's project."""

    kind = CopyKind(
        service="shared_file_system",
        resource="share_snapshot",
        noun="share snapshot",
        source_key="share_id",
    )

    def create(
        self, name: str, share_id: str, *, description: str | None = None, wait: bool = True
    ) -> ShareSnapshot:
        """Snapshot ``share_id`` as ``name``, or return the snapshot an earlier call made
        (same source share); another source is AlreadyExists; a lost answer is resolved by
        looking the name up again. ``wait``: until ``available``."""
        attrs: dict[str, Any] = {"name": name, "share_id": share_id}
        if description is not None:
            attrs["description"] = description
        return self._create_once(name, share_id, attrs, wait=wait)
