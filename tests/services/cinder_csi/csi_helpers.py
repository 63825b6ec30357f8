"""Small builders for CSI requests and a helper that returns the gRPC status of a failed call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from osk8s_core.proto.csi import csi_pb2

GIB = 1 << 30
Mode = csi_pb2.VolumeCapability.AccessMode.Mode
SNW = csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER


def cap(mode: int = SNW, *, block: bool = False, fs: str = "", flags: tuple[str, ...] = ()) -> Any:
    access = csi_pb2.VolumeCapability.AccessMode(mode=mode)  # type: ignore[arg-type]
    if block:
        return csi_pb2.VolumeCapability(
            block=csi_pb2.VolumeCapability.BlockVolume(), access_mode=access
        )
    mount = csi_pb2.VolumeCapability.MountVolume(fs_type=fs, mount_flags=list(flags))
    return csi_pb2.VolumeCapability(mount=mount, access_mode=access)


def code_of(call: Callable[..., Any], request: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call(request)
    code: grpc.StatusCode = info.value.code()
    return code


def create_req(name: str, size: int = GIB, **kw: Any) -> csi_pb2.CreateVolumeRequest:
    return csi_pb2.CreateVolumeRequest(
        name=name,
        capacity_range=csi_pb2.CapacityRange(required_bytes=size),
        volume_capabilities=[cap()],
        **kw,
    )
