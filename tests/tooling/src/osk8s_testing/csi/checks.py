"""Spec checks every CSI controller must pass, parametrised by what differs per driver.

Each function drives real RPCs through the given stubs and asserts what the CSI spec says
(spec.md): identity answers, required fields refused before any back-end call, create
idempotent by name (same answer again, ALREADY_EXISTS for an incompatible repeat), delete
idempotent and NotFound-tolerant, ListVolumes pages that cover everything once, snapshots
idempotent by name.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import grpc

from osk8s_core.proto.csi import csi_pb2

from .requests import GIB, code_of, create_req


@dataclass(frozen=True)
class Profile:
    """What a driver says about itself."""

    name: str
    version_prefix: str
    services: frozenset[int]
    expansions: frozenset[int]
    controller_rpcs: frozenset[int]


def unique(prefix: str = "pvc") -> str:
    return f"osk8s-csi-{prefix}-{uuid.uuid4().hex[:8]}"


def check_identity(identity: Any, profile: Profile) -> None:
    info = identity.GetPluginInfo(csi_pb2.GetPluginInfoRequest())
    assert info.name == profile.name
    assert info.vendor_version.startswith(profile.version_prefix)
    caps = identity.GetPluginCapabilities(csi_pb2.GetPluginCapabilitiesRequest()).capabilities
    assert {c.service.type for c in caps if c.HasField("service")} == profile.services
    expansions = {c.volume_expansion.type for c in caps if c.HasField("volume_expansion")}
    assert expansions == profile.expansions
    probe = identity.Probe(csi_pb2.ProbeRequest())
    assert not probe.HasField("ready") or probe.ready.value


def check_controller_capabilities(controller: Any, profile: Profile) -> None:
    caps = controller.ControllerGetCapabilities(
        csi_pb2.ControllerGetCapabilitiesRequest()
    ).capabilities
    assert {c.rpc.type for c in caps} == profile.controller_rpcs


def check_required_fields(controller: Any, cases: Iterable[tuple[str, Any]]) -> None:
    """Every (method, request) with a required field missing is INVALID_ARGUMENT."""
    for method, request in cases:
        code = code_of(getattr(controller, method), request)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (method, request, code)


def check_create_idempotent(
    controller: Any,
    remember: Callable[[str], None],
    *,
    request: Callable[[str, int], csi_pb2.CreateVolumeRequest] = create_req,
) -> csi_pb2.Volume:
    """Create rounds up to GiB, a repeat returns the same volume, a larger repeat with the
    same name is ALREADY_EXISTS. ``remember`` gets the id for the caller's clean-up."""
    name = unique()
    first = controller.CreateVolume(request(name, GIB + 1)).volume
    remember(first.volume_id)
    assert first.capacity_bytes == 2 * GIB
    again = controller.CreateVolume(request(name, 2 * GIB)).volume
    assert again.volume_id == first.volume_id
    assert again.volume_context == first.volume_context
    clash = request(name, 3 * GIB)
    assert code_of(controller.CreateVolume, clash) == grpc.StatusCode.ALREADY_EXISTS
    return first  # type: ignore[no-any-return]


def check_delete_idempotent(controller: Any, volume_id: str, secrets: dict[str, str]) -> None:
    request = csi_pb2.DeleteVolumeRequest(volume_id=volume_id, secrets=secrets)
    controller.DeleteVolume(request)
    controller.DeleteVolume(request)
    unknown = csi_pb2.DeleteVolumeRequest(volume_id=str(uuid.uuid4()), secrets=secrets)
    controller.DeleteVolume(unknown)


def walk_list_volumes(controller: Any, *, page: int, max_pages: int = 100) -> list[str]:
    """Every volume id ListVolumes returns, following next_token with ``page`` entries per
    call; asserts each page respects max_entries and nothing repeats."""
    seen: list[str] = []
    token = ""
    for _ in range(max_pages):
        answer = controller.ListVolumes(
            csi_pb2.ListVolumesRequest(max_entries=page, starting_token=token)
        )
        assert len(answer.entries) <= page
        seen.extend(e.volume.volume_id for e in answer.entries)
        token = answer.next_token
        if not token:
            break
    assert not token, "ListVolumes never ended"
    assert len(seen) == len(set(seen)), "ListVolumes returned a volume twice"
    return seen


def check_snapshot_idempotent(
    controller: Any,
    source_id: str,
    other_source_id: str,
    secrets: dict[str, str],
    *,
    remember: Callable[[str], None] = lambda _: None,
) -> csi_pb2.Snapshot:
    """Same name + same source -> same snapshot; same name + other source -> ALREADY_EXISTS.
    ``remember`` gets the id as soon as it exists, for the caller's clean-up."""
    name = unique("snap")
    request = csi_pb2.CreateSnapshotRequest(name=name, source_volume_id=source_id, secrets=secrets)
    snap = controller.CreateSnapshot(request).snapshot
    remember(snap.snapshot_id)
    assert snap.source_volume_id == source_id
    assert controller.CreateSnapshot(request).snapshot.snapshot_id == snap.snapshot_id
    clash = csi_pb2.CreateSnapshotRequest(
        name=name, source_volume_id=other_source_id, secrets=secrets
    )
    assert code_of(controller.CreateSnapshot, clash) == grpc.StatusCode.ALREADY_EXISTS
    return snap  # type: ignore[no-any-return]
