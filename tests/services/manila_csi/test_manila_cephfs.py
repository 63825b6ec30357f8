"""The CEPHFS adapter on the test cloud's real Manila (its dummy back end extended with CEPHFS
shares and cephx keys: ``osk8s_testcloud_plugins.manila_cephfs``): a cephx rule per client id,
waited for until its access key is there, and the partner (ceph-csi stand-in) getting
monitors/rootPath/mounter/options and the ``userID``/``userKey`` stage secrets."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import grpc
import pytest

from osk8s_core.proto.csi import csi_pb2
from osk8s_testing.csi.checks import unique
from osk8s_testing.csi.partner import NodeRpc
from osk8s_testing.csi.requests import MNMW, cap, create_req

from .manila_harness import Driver, start

pytestmark = pytest.mark.contract

PARAMS = {
    "cephfs-clientID": "alice,bob",
    "cephfs-mounter": "kernel",
    "cephfs-kernelMountOptions": "noatime",
}


@pytest.fixture(scope="module")
def cephfs(demo_secrets: dict[str, str]) -> Iterator[Driver]:
    caps = (NodeRpc.STAGE_UNSTAGE_VOLUME, NodeRpc.EXPAND_VOLUME)
    with start(
        demo_secrets, protocol="CEPHFS", partner_caps=caps, partner_name="cephfs.csi.ceph.com"
    ) as driver:
        yield driver


@pytest.fixture(scope="module")
def volume(cephfs: Driver) -> Iterator[csi_pb2.Volume]:
    request = create_req(unique(), mode=MNMW, secrets=cephfs.secrets, parameters=PARAMS)
    try:
        created = cephfs.controller.CreateVolume(request).volume
    except grpc.RpcError as exc:
        pytest.fail(
            "the test cloud's Manila cannot make a CEPHFS share with cephx keys (it needs the "
            "CephfsDummyDriver back end of osk8s_testcloud_plugins.manila_cephfs, on the next "
            f"`osk8s-testcloud up`): {exc.details()}"
        )
    try:
        yield created
    finally:
        cephfs.controller.DeleteVolume(
            csi_pb2.DeleteVolumeRequest(volume_id=created.volume_id, secrets=cephfs.secrets)
        )


def _key(client: str) -> str:
    return hashlib.sha256(client.encode()).hexdigest()[:40]


def test_cephx_rules_with_keys(cephfs: Driver, volume: csi_pb2.Volume) -> None:
    rules = cephfs.view().shares.access_rules(volume.volume_id)
    assert sorted((r.access_type, r.access_to, r.state) for r in rules) == [
        ("cephx", "alice", "active"),
        ("cephx", "bob", "active"),
    ]
    assert all(r.access_key == _key(r.access_to) for r in rules)
    ids = volume.volume_context["shareAccessIDs"].split(",")
    assert sorted(ids) == sorted(r.id for r in rules)
    assert volume.volume_context["cephfs-mounter"] == "kernel"


def test_stage_and_publish_forward_ceph_csi_shapes(cephfs: Driver, volume: csi_pb2.Volume) -> None:
    vid = volume.volume_id
    context = dict(volume.volume_context)
    cephfs.node.NodeStageVolume(
        csi_pb2.NodeStageVolumeRequest(
            volume_id=vid,
            staging_target_path=f"/staging/{vid}",
            volume_capability=cap(MNMW),
            volume_context=context,
            secrets=cephfs.secrets,
        )
    )
    staged = cephfs.partner.recorder.of("NodeStageVolume")[-1]
    # The back end names the path after the share instance, not the share.
    assert staged.volume_context["rootPath"].startswith("/volumes/_nogroup/")
    assert dict(staged.volume_context) == {
        "monitors": "127.0.0.1:6789,127.0.0.2:6789",
        "rootPath": staged.volume_context["rootPath"],
        "mounter": "kernel",
        "provisionVolume": "false",
        "kernelMountOptions": "noatime",
    }
    assert staged.secrets["userKey"] == _key(staged.secrets["userID"])
    assert staged.secrets["userID"] in {"alice", "bob"} and set(staged.secrets) == {
        "userID",
        "userKey",
    }
    cephfs.node.NodePublishVolume(
        csi_pb2.NodePublishVolumeRequest(
            volume_id=vid,
            staging_target_path=f"/staging/{vid}",
            target_path=f"/pods/p/{vid}",
            volume_capability=cap(MNMW),
            volume_context=context,
        )
    )
    published = cephfs.partner.recorder.of("NodePublishVolume")[-1]
    assert dict(published.volume_context) == dict(staged.volume_context)
    assert not any(k.startswith("os-") for k in published.secrets)
    cephfs.node.NodeUnstageVolume(
        csi_pb2.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=f"/staging/{vid}")
    )


def test_cephfs_snapshot_deleted_while_creating(cephfs: Driver, volume: csi_pb2.Volume) -> None:
    """A CO may delete a snapshot it has just asked for: Manila refuses to delete one still
    ``creating``, so the driver waits for it to settle, then deletes it."""
    name = unique("snap")
    snap = cephfs.controller.CreateSnapshot(
        csi_pb2.CreateSnapshotRequest(
            name=name, source_volume_id=volume.volume_id, secrets=cephfs.secrets
        )
    ).snapshot
    assert snap.source_volume_id == volume.volume_id
    delete = csi_pb2.DeleteSnapshotRequest(snapshot_id=snap.snapshot_id, secrets=cephfs.secrets)
    cephfs.controller.DeleteSnapshot(delete)
    assert cephfs.view().snapshots.find_by_name(name) is None
    cephfs.controller.DeleteSnapshot(delete)
