"""Manila's in-tree dummy share driver, plus the CEPHFS protocol with cephx access keys.

The wheel's ``DummyDriver`` serves NFS and CIFS only; Manila CSI's CEPHFS adapter needs a
CEPHFS share (export ``<monitors>:<root path>``) and a cephx rule whose ``access_key`` the
back end fills in, as the CephFS driver does. NFS/CIFS behaviour is unchanged.
"""

import hashlib
from typing import Any

from manila.tests.share.drivers import dummy

_MONITORS = "127.0.0.1:6789,127.0.0.2:6789"


class CephfsDummyDriver(dummy.DummyDriver):  # type: ignore[misc]
    """DummyDriver that also creates CEPHFS shares and answers cephx rules with a key."""

    def _create_share(self, context: Any, share: Any, share_server: Any = None) -> Any:
        if str(share["share_proto"]).upper() != "CEPHFS":
            return super()._create_share(context, share, share_server=share_server)
        path = f"/volumes/_nogroup/{share['id']}"
        return [
            {"path": f"{_MONITORS}:{path}", "metadata": {"preferred": True}, "is_admin_only": False}
        ]

    # Manila's driver interface fixes this signature and calls it positionally.
    def update_access(  # noqa: PLR0917
        self,
        context: Any,
        share: Any,
        access_rules: Any,
        add_rules: Any,
        delete_rules: Any,
        update_rules: Any,
        share_server: Any = None,
    ) -> Any:
        if str(share["share_proto"]).upper() != "CEPHFS":
            return super().update_access(
                context, share, access_rules, add_rules, delete_rules, update_rules, share_server
            )
        updates: dict[str, Any] = {}
        for rule in list(add_rules) + list(access_rules):
            if str(rule["access_type"]).lower() != "cephx":
                updates[rule["access_id"]] = {"state": "error"}
                continue
            # A stable fake key per client id, as Ceph gives one key per cephx entity.
            key = hashlib.sha256(str(rule["access_to"]).encode()).hexdigest()[:40]
            updates[rule["access_id"]] = {"access_key": key, "state": "active"}
        return updates

    def _update_share_stats(self, data: Any = None) -> None:
        super()._update_share_stats(data)
        self._stats["storage_protocol"] = "NFS_CIFS_CEPHFS"
