"""Share types, share groups and anti-affinity on the test cloud's real Manila (§3.2/§3.3):
CreateSnapshot refused on a share whose type lacks the snapshot capabilities, the ``groupID``
StorageClass parameter, and the anti-affinity PVC annotation as a ``different_host`` hint.

The admin makes what the tests need through the API (share types without snapshot specs, a
share group type over the ``default`` share type and a group in the demo project) and deletes
exactly that afterwards.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import openstack
import pytest
from openstack.config.loader import OpenStackConfig

from osk8s_core.proto.csi import csi_pb2
from osk8s_testing.csi.checks import unique
from osk8s_testing.csi.fakes import RecordingPvcs
from osk8s_testing.csi.requests import GIB, MNMW, code_of, create_req
from osk8s_testing.testcloud.layout import Layout, resolve_dir
from osk8s_testing.testcloud.outputs import ADMIN_CLOUD

from .manila_harness import Driver, start

pytestmark = pytest.mark.contract

VERSION = {"X-OpenStack-Manila-API-Version": "2.65"}
PVC = {"csi.storage.k8s.io/pvc/name": "data", "csi.storage.k8s.io/pvc/namespace": "apps"}


def _connect(cloud: str) -> openstack.connection.Connection:
    layout = Layout(resolve_dir(None, os.environ))
    config = OpenStackConfig(config_files=[str(layout.clouds_yaml)], load_envvars=False)
    return openstack.connection.Connection(config=config.get_one(cloud=cloud))


def _ok(resp: Any) -> dict[str, Any]:
    assert resp.status_code < 300, f"{resp.status_code} {resp.text[:300]}"
    return resp.json() if resp.content else {}


def _until(fetch: Any, done: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"{what}: still {value}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def admin(demo_secrets: dict[str, str]) -> Iterator[openstack.connection.Connection]:
    conn = _connect(ADMIN_CLOUD)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture(scope="module")
def nfs(demo_secrets: dict[str, str]) -> Iterator[Driver]:
    with start(demo_secrets, protocol="NFS") as driver:
        yield driver


def _share_type(admin: Any, extra_specs: dict[str, str]) -> Iterator[dict[str, Any]]:
    body = {
        "share_type": {
            "name": f"osk8s-test-{uuid.uuid4().hex[:8]}",
            "share_type_access:is_public": True,
            "extra_specs": {"driver_handles_share_servers": "False", **extra_specs},
        }
    }
    made = _ok(admin.shared_file_system.post("/types", json=body, headers=VERSION))["share_type"]
    try:
        yield made
    finally:
        admin.shared_file_system.delete(f"/types/{made['id']}", headers=VERSION)


@pytest.fixture(scope="module", params=["no-snapshots", "no-create-from-snapshot"])
def limited_type(request: pytest.FixtureRequest, admin: Any) -> Iterator[dict[str, Any]]:
    """A share type the dummy back end still schedules (its only required spec is DHSS=False)
    whose shares Manila marks without snapshot support, or without create-from-snapshot."""
    specs = {} if request.param == "no-snapshots" else {"snapshot_support": "True"}
    yield from _share_type(admin, specs)


@pytest.fixture(scope="module")
def share_group(admin: Any, demo_secrets: dict[str, str]) -> Iterator[str]:
    """A share group type over the ``default`` share type (admin) and one group of it in the
    demo project; both deleted afterwards."""
    types = _ok(admin.shared_file_system.get("/types", headers=VERSION))["share_types"]
    default = next(t["id"] for t in types if t["name"] == "default")
    body = {
        "share_group_type": {
            "name": f"osk8s-test-{uuid.uuid4().hex[:8]}",
            "share_types": [default],
            "is_public": True,
        }
    }
    made = admin.shared_file_system.post("/share-group-types", json=body, headers=VERSION)
    group_type = _ok(made)["share_group_type"]["id"]
    demo = _connect("osk8s-demo")
    group = ""
    try:
        body = {"share_group": {"name": unique(), "share_group_type_id": group_type}}
        made = demo.shared_file_system.post("/share-groups", json=body, headers=VERSION)
        group = _ok(made)["share_group"]["id"]

        def status() -> str:
            got = demo.shared_file_system.get(f"/share-groups/{group}", headers=VERSION)
            return str(_ok(got)["share_group"]["status"])

        assert _until(status, lambda s: s != "creating", "share group") == "available"
        yield group
    finally:
        if group:
            demo.shared_file_system.delete(f"/share-groups/{group}", headers=VERSION)
            _until(
                lambda: (
                    demo.shared_file_system.get(
                        f"/share-groups/{group}", headers=VERSION
                    ).status_code
                ),
                lambda code: code == 404,
                "share group deletion",
            )
        admin.shared_file_system.delete(f"/share-group-types/{group_type}", headers=VERSION)
        demo.close()


def _req(
    nfs: Driver, name: str, params: dict[str, str] | None = None
) -> csi_pb2.CreateVolumeRequest:
    return create_req(name, GIB, mode=MNMW, secrets=nfs.secrets, parameters=params or {})


def _delete(nfs: Driver, volume_id: str) -> None:
    nfs.controller.DeleteVolume(
        csi_pb2.DeleteVolumeRequest(volume_id=volume_id, secrets=nfs.secrets)
    )


def test_snapshot_refused_when_the_share_type_lacks_the_capability(
    nfs: Driver, limited_type: dict[str, Any]
) -> None:
    """CPO's check: a share whose type lacks ``snapshot_support`` or
    ``create_share_from_snapshot_support`` → INVALID_ARGUMENT, and no snapshot is made."""
    vol = nfs.controller.CreateVolume(_req(nfs, unique(), {"type": limited_type["name"]})).volume
    try:
        shown = nfs.view().api.show(vol.volume_id)
        assert shown["share_type"] == limited_type["id"]
        name = unique()
        request = csi_pb2.CreateSnapshotRequest(
            name=name, source_volume_id=vol.volume_id, secrets=nfs.secrets
        )
        with pytest.raises(grpc.RpcError) as refused:
            nfs.controller.CreateSnapshot(request)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        wanted = "support snapshots" if not shown["snapshot_support"] else "from snapshots"
        assert wanted in str(refused.value.details())
        assert nfs.view().snapshots.find_by_name(name) is None
    finally:
        _delete(nfs, vol.volume_id)


def test_group_id_parameter_puts_the_share_in_the_group(nfs: Driver, share_group: str) -> None:
    vol = nfs.controller.CreateVolume(_req(nfs, unique(), {"groupID": share_group})).volume
    try:
        assert vol.volume_context["groupID"] == share_group
        assert nfs.view().api.show(vol.volume_id, version="2.31")["share_group_id"] == share_group
    finally:
        _delete(nfs, vol.volume_id)
    assert (
        code_of(
            nfs.controller.ControllerGetVolume,
            csi_pb2.ControllerGetVolumeRequest(volume_id=vol.volume_id),
        )
        == grpc.StatusCode.NOT_FOUND
    )


def test_anti_affinity_annotation_is_a_different_host_hint(
    demo_secrets: dict[str, str], nfs: Driver
) -> None:
    """--pvc-annotations: anti-affinity names resolved to share ids and sent as Manila's
    ``different_host`` hint (2.65). The test cloud has one back-end host, so Manila's
    AntiAffinityFilter leaves no host for the new share: the hint was sent and obeyed (the
    same share named as affinity schedules: test_pvc_annotations_become_scheduler_hints).
    Placement on another host cannot be shown with one host."""
    target = nfs.controller.CreateVolume(_req(nfs, unique())).volume
    try:
        target_name = nfs.view().shares.get(target.volume_id).name
        reader = RecordingPvcs({"manila.csi.openstack.org/anti-affinity": target_name})
        with start(demo_secrets, pvc_reader=reader) as driver:
            name = unique()
            with pytest.raises(grpc.RpcError) as refused:
                driver.controller.CreateVolume(_req(driver, name, PVC))
            assert reader.reads == [("apps", "data")]
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "No storage could be allocated" in str(refused.value.details())
            assert driver.view().shares.find_by_name(name) is None  # the errored share is gone
    finally:
        _delete(nfs, target.volume_id)
