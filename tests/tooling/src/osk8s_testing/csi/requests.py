"""Small builders for CSI requests and the gRPC status of a failed call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from osk8s_core.proto.csi import csi_pb2

GIB = 1 << 30
Mode = csi_pb2.VolumeCapability.AccessMode.Mode
SNW = csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER
MNMW = csi_pb2.VolumeCapability.AccessMode.MULTI_NODE_MULTI_WRITER


def cap(mode: int = SNW, *, block: bool = False, fs: str = "", flags: tuple[str, ...] = ()) -> Any:
    access = csi_pb2.VolumeCapability.AccessMode(mode=mode)  # type: ignore[arg-type]
    if block:
        return csi_pb2.VolumeCapability(
            block=csi_pb2.VolumeCapability.BlockVolume(), access_mode=access
        )
    mount = csi_pb2.VolumeCapability.MountVolume(fs_type=fs, mount_flags=list(flags))
    return csi_pb2.VolumeCapability(mount=mount, access_mode=access)


@dataclass(frozen=True)
class Failure:
    """How a call failed: its status code and details text."""

    code: grpc.StatusCode
    details: str


def status_of(call: Callable[..., Any], request: Any) -> Failure:
    """How a call that must fail failed."""
    with pytest.raises(grpc.RpcError) as info:
        call(request)
    error: Any = info.value
    return Failure(code=error.code(), details=str(error.details() or ""))


def code_of(call: Callable[..., Any], request: Any) -> grpc.StatusCode:
    return status_of(call, request).code


def create_req(
    name: str, size: int = GIB, *, mode: int = SNW, **kw: Any
) -> csi_pb2.CreateVolumeRequest:
    return csi_pb2.CreateVolumeRequest(
        name=name,
        capacity_range=csi_pb2.CapacityRange(required_bytes=size),
        volume_capabilities=[cap(mode)],
        **kw,
    )
