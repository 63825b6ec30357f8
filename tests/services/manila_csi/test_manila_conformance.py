"""CSI conformance of the Manila driver (NFS) over its real gRPC socket and the test cloud's
real Manila (dummy back end): the shared spec checks (osk8s_testing.csi), then Manila's own
behaviour (§3.2/§3.3 of the anchor): secrets per RPC, access rules, metadata, snapshots,
restore, cloning, expansion, listing.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import grpc
import pytest

from osk8s_core import errors
from osk8s_core.openstack.shares import ShareSpec
from osk8s_core.proto.csi import csi_pb2
from osk8s_testing.csi.checks import (
    Profile,
    check_controller_capabilities,
    check_create_idempotent,
    check_delete_idempotent,
    check_identity,
    check_required_fields,
    check_snapshot_idempotent,
    unique,
    walk_list_volumes,
)
from osk8s_testing.csi.fakes import RecordingPvcs
from osk8s_testing.csi.requests import GIB, MNMW, cap, code_of, create_req, status_of

from .manila_harness import Driver, start

pytestmark = pytest.mark.contract

_Svc = csi_pb2.PluginCapability.Service
_Exp = csi_pb2.PluginCapability.VolumeExpansion
_Rpc = csi_pb2.ControllerServiceCapability.RPC
PROFILE = Profile(
    name="nfs.manila.csi.openstack.org",
    version_prefix="0.9.0@",
    services=frozenset({_Svc.CONTROLLER_SERVICE, _Svc.VOLUME_ACCESSIBILITY_CONSTRAINTS}),
    expansions=frozenset({_Exp.ONLINE}),
    controller_rpcs=frozenset(
        {
            _Rpc.CREATE_DELETE_VOLUME,
            _Rpc.CREATE_DELETE_SNAPSHOT,
            _Rpc.EXPAND_VOLUME,
            _Rpc.CLONE_VOLUME,
            _Rpc.LIST_VOLUMES,
            _Rpc.GET_VOLUME,
        }
    ),
)


@pytest.fixture
def made(nfs: Driver) -> Iterator[list[tuple[str, str]]]:
    """("volume"|"snapshot", id) a test made; deleted newest first, as a CO would."""
    items: list[tuple[str, str]] = []
    yield items
    for kind, ident in reversed(items):
        with contextlib.suppress(grpc.RpcError):
            if kind == "snapshot":
                nfs.controller.DeleteSnapshot(
                    csi_pb2.DeleteSnapshotRequest(snapshot_id=ident, secrets=nfs.secrets)
                )
            else:
                nfs.controller.DeleteVolume(
                    csi_pb2.DeleteVolumeRequest(volume_id=ident, secrets=nfs.secrets)
                )


@pytest.fixture(scope="module")
def pair(nfs: Driver) -> Iterator[tuple[csi_pb2.Volume, csi_pb2.Volume]]:
    """Two 1 GiB shares the module's read-mostly tests share (a share takes ~6 s to make)."""
    made: list[csi_pb2.Volume] = []
    try:
        for _ in range(2):
            made.append(nfs.controller.CreateVolume(req(nfs, unique())).volume)
        yield made[0], made[1]
    finally:
        for vol in made:
            nfs.controller.DeleteVolume(
                csi_pb2.DeleteVolumeRequest(volume_id=vol.volume_id, secrets=nfs.secrets)
            )


def req(
    nfs: Driver, name: str, size: int = GIB, params: dict[str, str] | None = None
) -> csi_pb2.CreateVolumeRequest:
    request = create_req(name, size, mode=MNMW, secrets=nfs.secrets, parameters=params or {})
    return request


# shared spec checks ----------------------------------------------------------------------------


def test_identity_and_capabilities(nfs: Driver) -> None:
    check_identity(nfs.identity, PROFILE)
    check_controller_capabilities(nfs.controller, PROFILE)


def test_required_fields(nfs: Driver) -> None:
    check_required_fields(
        nfs.controller,
        [
            ("CreateVolume", csi_pb2.CreateVolumeRequest(volume_capabilities=[cap()])),
            ("CreateVolume", csi_pb2.CreateVolumeRequest(name="x")),
            ("DeleteVolume", csi_pb2.DeleteVolumeRequest()),
            ("ControllerExpandVolume", csi_pb2.ControllerExpandVolumeRequest(volume_id="v")),
            (
                "ValidateVolumeCapabilities",
                csi_pb2.ValidateVolumeCapabilitiesRequest(volume_id="v"),
            ),
            ("CreateSnapshot", csi_pb2.CreateSnapshotRequest(name="s")),
            ("CreateSnapshot", csi_pb2.CreateSnapshotRequest(source_volume_id="v")),
            ("DeleteSnapshot", csi_pb2.DeleteSnapshotRequest()),
            ("ControllerGetVolume", csi_pb2.ControllerGetVolumeRequest()),
            ("ListVolumes", csi_pb2.ListVolumesRequest(max_entries=-1)),
        ],
    )
    block = create_req("x", secrets=nfs.secrets)
    block.volume_capabilities[0].CopyFrom(cap(block=True))
    assert code_of(nfs.controller.CreateVolume, block) == grpc.StatusCode.INVALID_ARGUMENT
    unknown = req(nfs, "x", params={"bogus": "1"})
    assert "bogus" in status_of(nfs.controller.CreateVolume, unknown).details


def test_create_idempotent_then_delete_idempotent(nfs: Driver, made: list[tuple[str, str]]) -> None:
    first = check_create_idempotent(
        nfs.controller,
        lambda vid: made.append(("volume", vid)),
        request=lambda name, size: req(nfs, name, size),
    )
    assert first.volume_context["shareID"] == first.volume_id
    rules = first.volume_context["shareAccessIDs"].split(",")
    assert len(rules) == 1
    assert [dict(t.segments) for t in first.accessible_topology] == [
        {"topology.manila.csi.openstack.org/zone": "nova"}
    ]
    share = nfs.view().shares.get(first.volume_id)
    assert share.description == "provisioned-by=manila.csi.openstack.org"
    assert share.share_protocol == "NFS" and share.size == 2
    [rule] = nfs.view().shares.access_rules(first.volume_id)
    assert (rule.access_type, rule.access_to, rule.state) == ("ip", "0.0.0.0/0", "active")
    check_delete_idempotent(nfs.controller, first.volume_id, nfs.secrets)
    with pytest.raises(errors.NotFound):
        nfs.view().shares.get(first.volume_id)


def test_secrets_are_checked_on_every_rpc_and_never_echoed(nfs: Driver) -> None:
    no_url = {k: v for k, v in nfs.secrets.items() if k != "os-authURL"}
    error = status_of(nfs.controller.CreateVolume, create_req(unique(), secrets=no_url))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "os-authURL" in error.details
    wrong = {**nfs.secrets, "os-password": f"wrong-{uuid.uuid4().hex}"}
    error = status_of(nfs.controller.CreateVolume, create_req(unique(), secrets=wrong))
    assert error.code == grpc.StatusCode.UNAUTHENTICATED
    assert wrong["os-password"] not in error.details
    incomplete = {"os-authURL": nfs.secrets["os-authURL"], "os-password": "p4ss-" + "x" * 8}
    error = status_of(
        nfs.controller.DeleteVolume,
        csi_pb2.DeleteVolumeRequest(volume_id="v", secrets=incomplete),
    )
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "p4ss-" not in error.details


def test_connection_cache_per_credential_set(
    nfs: Driver, pair: tuple[csi_pb2.Volume, csi_pb2.Volume]
) -> None:
    vol = pair[0]
    before = nfs.cache.builds
    for _ in range(3):
        nfs.controller.ValidateVolumeCapabilities(
            csi_pb2.ValidateVolumeCapabilitiesRequest(
                volume_id=vol.volume_id, volume_capabilities=[cap(MNMW)], secrets=nfs.secrets
            )
        )
    assert nfs.cache.builds == before  # the pair was made with the same secrets


def test_storage_class_parameters_and_metadata(nfs: Driver, made: list[tuple[str, str]]) -> None:
    params = {
        "type": "default",
        "availability": "nova",
        "appendShareMetadata": '{"team": "storage", "manila.csi.openstack.org/cluster": "no"}',
        "nfs-shareClient": "10.0.0.0/24, 10.0.1.5",
        "csi.storage.k8s.io/pvc/name": "data",
        "csi.storage.k8s.io/pvc/namespace": "apps",
        "csi.storage.k8s.io/pv/name": "pv-1",
    }
    request = req(nfs, unique(), params=params)
    vol = nfs.controller.CreateVolume(request).volume
    made.append(("volume", vol.volume_id))
    share = nfs.view().shares.get(vol.volume_id)
    assert share.availability_zone == "nova"
    assert share.metadata == {
        "team": "storage",
        "manila.csi.openstack.org/cluster": "osk8s-test",
        "csi.storage.k8s.io/pvc/name": "data",
        "csi.storage.k8s.io/pvc/namespace": "apps",
        "csi.storage.k8s.io/pv/name": "pv-1",
    }
    rules = nfs.view().shares.access_rules(vol.volume_id)
    assert sorted(r.access_to for r in rules) == ["10.0.0.0/24", "10.0.1.5"]
    assert all(r.state == "active" for r in rules)
    assert sorted(vol.volume_context["shareAccessIDs"].split(",")) == sorted(r.id for r in rules)
    # Beyond CPO (#2725): a repeat with one more client adds exactly that rule.
    request.parameters["nfs-shareClient"] = "10.0.0.0/24,10.0.1.5,10.0.2.0/24"
    again = nfs.controller.CreateVolume(request).volume
    rules = nfs.view().shares.access_rules(vol.volume_id)
    assert sorted(r.access_to for r in rules) == ["10.0.0.0/24", "10.0.1.5", "10.0.2.0/24"]
    assert len(again.volume_context["shareAccessIDs"].split(",")) == 3
    bad = req(nfs, unique(), params={"nfs-shareClient": "not-an-ip"})
    assert code_of(nfs.controller.CreateVolume, bad) == grpc.StatusCode.INVALID_ARGUMENT


def test_expand_and_validate(nfs: Driver, pair: tuple[csi_pb2.Volume, csi_pb2.Volume]) -> None:
    vol = pair[1]
    grow = csi_pb2.ControllerExpandVolumeRequest(
        volume_id=vol.volume_id,
        capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB),
        secrets=nfs.secrets,
    )
    out = nfs.controller.ControllerExpandVolume(grow)
    assert out.capacity_bytes == 2 * GIB and not out.node_expansion_required
    assert nfs.controller.ControllerExpandVolume(grow).capacity_bytes == 2 * GIB
    assert nfs.view().shares.get(vol.volume_id).size == 2
    grow.volume_id = str(uuid.uuid4())
    assert code_of(nfs.controller.ControllerExpandVolume, grow) == grpc.StatusCode.NOT_FOUND
    validate = csi_pb2.ValidateVolumeCapabilitiesRequest(
        volume_id=vol.volume_id, volume_capabilities=[cap(MNMW)], secrets=nfs.secrets
    )
    assert nfs.controller.ValidateVolumeCapabilities(validate).HasField("confirmed")
    validate.volume_capabilities[0].CopyFrom(cap(block=True))
    answer = nfs.controller.ValidateVolumeCapabilities(validate)
    assert not answer.HasField("confirmed") and "block" in answer.message
    validate.volume_id = str(uuid.uuid4())
    assert code_of(nfs.controller.ValidateVolumeCapabilities, validate) == grpc.StatusCode.NOT_FOUND


def test_snapshots_restore_and_clone(
    nfs: Driver, made: list[tuple[str, str]], pair: tuple[csi_pb2.Volume, csi_pb2.Volume]
) -> None:
    source, other = pair
    snap = check_snapshot_idempotent(nfs.controller, source.volume_id, other.volume_id, nfs.secrets)
    made.append(("snapshot", snap.snapshot_id))
    assert snap.size_bytes == GIB and snap.HasField("creation_time")
    nfs.view().snapshots.wait_available(snap.snapshot_id)
    restore = req(nfs, unique())
    restore.volume_content_source.snapshot.snapshot_id = snap.snapshot_id
    restored = nfs.controller.CreateVolume(restore).volume
    made.append(("volume", restored.volume_id))
    assert restored.content_source.snapshot.snapshot_id == snap.snapshot_id
    assert nfs.view().shares.get(restored.volume_id).snapshot_id == snap.snapshot_id
    missing = req(nfs, unique())
    missing.volume_content_source.snapshot.snapshot_id = str(uuid.uuid4())
    assert code_of(nfs.controller.CreateVolume, missing) == grpc.StatusCode.NOT_FOUND
    # Beyond CPO: a clone through a temporary snapshot, removed afterwards; a retry is a no-op.
    clone = req(nfs, unique())
    clone.volume_content_source.volume.volume_id = source.volume_id
    cloned = nfs.controller.CreateVolume(clone).volume
    made.append(("volume", cloned.volume_id))
    assert cloned.content_source.volume.volume_id == source.volume_id
    assert nfs.controller.CreateVolume(clone).volume.volume_id == cloned.volume_id
    assert nfs.view().snapshots.find_by_name(f"csi-clone-source-{clone.name}") is None
    source_snaps = nfs.view().snapshots.query(share_id=source.volume_id)
    assert [s.id for s in source_snaps] == [snap.snapshot_id]
    delete = csi_pb2.DeleteSnapshotRequest(snapshot_id=snap.snapshot_id, secrets=nfs.secrets)
    nfs.controller.DeleteVolume(
        csi_pb2.DeleteVolumeRequest(volume_id=restored.volume_id, secrets=nfs.secrets)
    )
    nfs.controller.DeleteSnapshot(delete)
    nfs.controller.DeleteSnapshot(delete)


def test_list_and_get_volume(nfs: Driver, pair: tuple[csi_pb2.Volume, csi_pb2.Volume]) -> None:
    ids = {v.volume_id for v in pair}
    assert ids <= set(walk_list_volumes(nfs.controller, page=1))
    one = next(iter(ids))
    got = nfs.controller.ControllerGetVolume(csi_pb2.ControllerGetVolumeRequest(volume_id=one))
    assert got.volume.volume_id == one and not got.status.volume_condition.abnormal
    bad = csi_pb2.ListVolumesRequest(starting_token=str(uuid.uuid4()))
    assert code_of(nfs.controller.ListVolumes, bad) == grpc.StatusCode.ABORTED
    unknown = csi_pb2.ControllerGetVolumeRequest(volume_id=str(uuid.uuid4()))
    assert code_of(nfs.controller.ControllerGetVolume, unknown) == grpc.StatusCode.NOT_FOUND


def test_pvc_annotations_become_scheduler_hints(
    demo_secrets: dict[str, str], pair: tuple[csi_pb2.Volume, csi_pb2.Volume]
) -> None:
    """--pvc-annotations: affinity names resolved to share ids, sent with API 2.65 (Manila
    keeps them as ``__affinity_same_host``); the raw value goes into the volume context."""
    target = pair[0].volume_id
    reader = RecordingPvcs({"manila.csi.openstack.org/affinity": target})
    with start(demo_secrets, pvc_reader=reader) as driver:
        name = driver.view().shares.get(target).name
        reader.value["manila.csi.openstack.org/affinity"] = name
        params = {
            "csi.storage.k8s.io/pvc/name": "data",
            "csi.storage.k8s.io/pvc/namespace": "apps",
        }
        vol = driver.controller.CreateVolume(req(driver, unique(), params=params)).volume
        try:
            assert reader.reads == [("apps", "data")]
            assert vol.volume_context["affinity"] == name
            metadata = driver.view().shares.get(vol.volume_id).metadata
            assert metadata["__affinity_same_host"] == target
            assert metadata["csi.storage.k8s.io/pvc/name"] == "data"
        finally:
            driver.controller.DeleteVolume(
                csi_pb2.DeleteVolumeRequest(volume_id=vol.volume_id, secrets=driver.secrets)
            )


def test_clone_converges_after_a_crash_between_steps(
    nfs: Driver, pair: tuple[csi_pb2.Volume, csi_pb2.Volume]
) -> None:
    """A crashed clone left its temporary snapshot and the new share (made from it) behind:
    the retry adopts the share, takes no second snapshot and removes the temporary one."""
    source = pair[0].volume_id
    request = req(nfs, unique())
    request.volume_content_source.volume.volume_id = source
    manila = nfs.view()
    temporary = manila.snapshots.create(f"csi-clone-source-{request.name}", source, wait=True)
    spec = ShareSpec(name=request.name, size_gb=1, snapshot_id=temporary.id)
    share = manila.shares.create(spec, wait=True)  # what the crashed attempt had made
    try:
        cloned = nfs.controller.CreateVolume(request).volume
        assert cloned.volume_id == share.id
        assert manila.snapshots.find_by_name(temporary.name) is None
        assert [s.id for s in manila.snapshots.query(share_id=source)] == []
    finally:
        manila.shares.delete(share.id, wait=True)
        manila.snapshots.delete(temporary.id, wait=True)


def test_listing_needs_controller_secrets(demo_secrets: dict[str, str]) -> None:
    """Without --controller-secrets-dir, ListVolumes/ControllerGetVolume are neither
    advertised nor served (their requests carry no credentials)."""
    with start(demo_secrets, list_secrets=False) as driver:
        caps = driver.controller.ControllerGetCapabilities(
            csi_pb2.ControllerGetCapabilitiesRequest()
        ).capabilities
        kinds = {c.rpc.type for c in caps}
        assert _Rpc.LIST_VOLUMES not in kinds and _Rpc.GET_VOLUME not in kinds
        assert _Rpc.CLONE_VOLUME in kinds
        listing = csi_pb2.ListVolumesRequest()
        assert code_of(driver.controller.ListVolumes, listing) == grpc.StatusCode.UNIMPLEMENTED
        get = csi_pb2.ControllerGetVolumeRequest(volume_id="v")
        assert code_of(driver.controller.ControllerGetVolume, get) == grpc.StatusCode.UNIMPLEMENTED


def test_a_share_still_creating(nfs: Driver) -> None:
    """ValidateVolumeCapabilities on a share still ``creating`` is UNAVAILABLE (retry later);
    DeleteVolume waits for it to settle (Manila refuses to delete it before) and deletes it."""
    manila = nfs.view()
    share = manila.shares.create(ShareSpec(name=unique(), size_gb=1), wait=False)
    validate = csi_pb2.ValidateVolumeCapabilitiesRequest(
        volume_id=share.id, volume_capabilities=[cap(MNMW)], secrets=nfs.secrets
    )
    try:
        if str(manila.shares.get(share.id).status) == "creating":
            assert (
                code_of(nfs.controller.ValidateVolumeCapabilities, validate)
                == grpc.StatusCode.UNAVAILABLE
            )
    finally:
        nfs.controller.DeleteVolume(
            csi_pb2.DeleteVolumeRequest(volume_id=share.id, secrets=nfs.secrets)
        )
    with pytest.raises(errors.NotFound):
        manila.shares.get(share.id)
