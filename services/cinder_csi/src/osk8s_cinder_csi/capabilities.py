"""Volume capability checks shared by controller and node, and the sizes/topology helpers.

Pure functions over CSI messages: what access modes we confirm (CPO: SINGLE_NODE_WRITER
only), capacity rounding to GiB, and picking an AZ from accessibility requirements. No
OpenStack, no filesystem here.
"""

from __future__ import annotations

from collections.abc import Iterable

from osk8s_cinder_csi.options import GIB, TOPOLOGY_KEY
from osk8s_core.grpc.csi import InvalidArgument, OutOfRange
from osk8s_core.proto.csi import csi_pb2

AccessMode = csi_pb2.VolumeCapability.AccessMode
CONFIRMED_MODES = frozenset({AccessMode.SINGLE_NODE_WRITER})
"""Matches CPO: the only mode advertised and confirmed by ValidateVolumeCapabilities."""


def check_capability(cap: csi_pb2.VolumeCapability) -> None:
    """A capability must name an access type (block or mount) and an access mode."""
    if cap.WhichOneof("access_type") is None:
        raise InvalidArgument("volume capability needs an access type (block or mount)")
    if not cap.HasField("access_mode") or cap.access_mode.mode == AccessMode.UNKNOWN:
        raise InvalidArgument("volume capability needs an access mode")


def check_capabilities(caps: Iterable[csi_pb2.VolumeCapability]) -> None:
    for cap in caps:
        check_capability(cap)


def unconfirmed(caps: Iterable[csi_pb2.VolumeCapability]) -> str:
    """Why ``caps`` cannot be confirmed, or "" when every mode is supported."""
    for cap in caps:
        if cap.access_mode.mode not in CONFIRMED_MODES:
            name = AccessMode.Mode.Name(cap.access_mode.mode)
            return f"requested volume capability {name} is not supported"
    return ""


def is_block(cap: csi_pb2.VolumeCapability) -> bool:
    return bool(cap.WhichOneof("access_type") == "block")


def size_gib(capacity: csi_pb2.CapacityRange | None, *, default_gib: int = 1) -> int:
    """``required_bytes`` rounded up to whole GiB (default 1 GiB); OutOfRange when that
    exceeds ``limit_bytes``."""
    required = capacity.required_bytes if capacity is not None else 0
    limit = capacity.limit_bytes if capacity is not None else 0
    if required < 0 or limit < 0:
        raise InvalidArgument("capacity must not be negative")
    gib = -(-required // GIB) if required > 0 else default_gib
    if limit > 0 and gib * GIB > limit:
        raise OutOfRange(f"{gib} GiB (rounded up) exceeds the limit of {limit} bytes")
    return gib


def zone_from_topology(req: csi_pb2.TopologyRequirement) -> str:
    """Matches CPO: the zone of the first preferred topology, else of the first requisite."""
    for topology in (*req.preferred, *req.requisite):
        zone = topology.segments.get(TOPOLOGY_KEY)
        if zone:
            return zone
    return ""
