"""Manila's snapshot paths (as Manila CSI uses them): the default share type advertises
snapshot, create-from-snapshot, revert and mountable snapshots as DevStack sets it up, and the
dummy back end takes a snapshot, makes a share from it and reverts to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openstack.connection import Connection

from .polling import wait_for

pytestmark = pytest.mark.contract

SNAPSHOT_SPECS = {
    "snapshot_support": "True",
    "create_share_from_snapshot_support": "True",
    "revert_to_snapshot_support": "True",
    "mount_snapshot_support": "True",
}
# Revert is an action from 2.27 on; like extend, it needs the microversion header.
REVERT_VERSION = {"X-OpenStack-Manila-API-Version": "2.27"}


@pytest.fixture
def sfs(demo_conn: Connection) -> Iterator[Any]:
    if not any(e["type"] == "sharev2" for e in demo_conn.service_catalog):
        pytest.skip("test cloud runs no Manila (`osk8s-testcloud up all` or `up manila`)")
    yield demo_conn.shared_file_system


def test_default_share_type_allows_snapshots_and_clones(sfs: Any) -> None:
    resp = sfs.get("/types/default", headers={"X-OpenStack-Manila-API-Version": "2.50"})
    share_type = resp.json()["share_type"]
    assert share_type["extra_specs"]["driver_handles_share_servers"] == "False"
    for key, value in SNAPSHOT_SPECS.items():
        assert share_type["extra_specs"].get(key) == value, key


def test_snapshot_then_share_from_snapshot_then_revert(sfs: Any, name: str) -> None:
    share = sfs.create_share(name=name, size=1, share_proto="NFS")
    made: list[Any] = []
    try:
        share = sfs.wait_for_status(share, status="available", failures=["error"], wait=120)
        # Not in the sdk's Share model: read the share's capabilities from the API itself.
        shown = sfs.get(f"/shares/{share.id}", headers=REVERT_VERSION).json()["share"]
        assert shown["snapshot_support"] is True
        assert shown["create_share_from_snapshot_support"] is True
        assert shown["revert_to_snapshot_support"] is True
        snapshot = sfs.create_share_snapshot(share_id=share.id, name=name)
        made.append(snapshot)
        snapshot = sfs.wait_for_status(snapshot, status="available", failures=["error"], wait=120)
        assert snapshot.share_id == share.id
        assert snapshot.size == 1
        clone = sfs.create_share(
            name=f"{name}-clone", size=1, share_proto="NFS", snapshot_id=snapshot.id
        )
        made.append(clone)
        clone = sfs.wait_for_status(clone, status="available", failures=["error"], wait=120)
        assert clone.snapshot_id == snapshot.id
        assert list(sfs.export_locations(clone.id))
        resp = sfs.post(
            f"/shares/{share.id}/action",
            json={"revert": {"snapshot_id": snapshot.id}},
            headers=REVERT_VERSION,
        )
        assert resp.status_code == 202
        reverted = wait_for(
            lambda: sfs.get_share(share.id), lambda s: s.status == "available", wait=60
        )
        assert reverted.status == "available"
    finally:
        for resource in reversed(made):
            if resource.__class__.__name__ == "ShareSnapshot":
                sfs.delete_share_snapshot(resource.id, ignore_missing=True)
            else:
                sfs.delete_share(resource, ignore_missing=True)
            sfs.wait_for_delete(resource, wait=120)
        sfs.delete_share(share, ignore_missing=True)
    sfs.wait_for_delete(share, wait=120)
