"""A CSI node plugin stand-in that records what it is asked, served over a real unix socket.

A forwarding driver (Manila's) talks to it as to csi-driver-nfs or ceph-csi: it answers
Probe (optionally "not ready" for the first N probes), GetPluginInfo, NodeGetCapabilities
with the capabilities it is given, and records every node RPC (method, request) it gets.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import wrappers_pb2

from osk8s_core.proto.csi import csi_pb2, csi_pb2_grpc

NodeRpc = csi_pb2.NodeServiceCapability.RPC


@dataclass
class Recorder:
    calls: list[tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, request: Any) -> None:
        with self.lock:
            self.calls.append((method, request))

    def of(self, method: str) -> list[Any]:
        with self.lock:
            return [r for m, r in self.calls if m == method]


class _Identity(csi_pb2_grpc.IdentityServicer):
    def __init__(self, name: str, not_ready_probes: int, recorder: Recorder) -> None:
        self._name = name
        self._not_ready = not_ready_probes
        self._recorder = recorder

    def GetPluginInfo(self, request: Any, context: Any) -> Any:  # noqa: N802
        return csi_pb2.GetPluginInfoResponse(name=self._name, vendor_version="test")

    def Probe(self, request: Any, context: Any) -> Any:  # noqa: N802
        self._recorder.add("Probe", request)
        if self._not_ready > 0:
            self._not_ready -= 1
            return csi_pb2.ProbeResponse(ready=wrappers_pb2.BoolValue(value=False))
        return csi_pb2.ProbeResponse(ready=wrappers_pb2.BoolValue(value=True))


class _Node(csi_pb2_grpc.NodeServicer):
    def __init__(self, caps: tuple[int, ...], recorder: Recorder) -> None:
        self._caps = caps
        self._recorder = recorder

    def NodeGetCapabilities(self, request: Any, context: Any) -> Any:  # noqa: N802
        return csi_pb2.NodeGetCapabilitiesResponse(
            capabilities=[
                csi_pb2.NodeServiceCapability(rpc=csi_pb2.NodeServiceCapability.RPC(type=kind))  # type: ignore[arg-type]
                for kind in self._caps
            ]
        )

    def _record(self, method: str, request: Any, response: Any) -> Any:
        self._recorder.add(method, request)
        return response

    def NodeStageVolume(self, request: Any, context: Any) -> Any:  # noqa: N802
        return self._record("NodeStageVolume", request, csi_pb2.NodeStageVolumeResponse())

    def NodeUnstageVolume(self, request: Any, context: Any) -> Any:  # noqa: N802
        return self._record("NodeUnstageVolume", request, csi_pb2.NodeUnstageVolumeResponse())

    def NodePublishVolume(self, request: Any, context: Any) -> Any:  # noqa: N802
        if request.target_path.endswith("/refuse"):
            self._recorder.add("NodePublishVolume", request)
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "mount refused by the stand-in")
        return self._record("NodePublishVolume", request, csi_pb2.NodePublishVolumeResponse())

    def NodeUnpublishVolume(self, request: Any, context: Any) -> Any:  # noqa: N802
        return self._record("NodeUnpublishVolume", request, csi_pb2.NodeUnpublishVolumeResponse())

    def NodeGetVolumeStats(self, request: Any, context: Any) -> Any:  # noqa: N802
        usage = csi_pb2.VolumeUsage(total=1 << 30, used=1 << 20, available=(1 << 30) - (1 << 20))
        return self._record(
            "NodeGetVolumeStats", request, csi_pb2.NodeGetVolumeStatsResponse(usage=[usage])
        )

    def NodeExpandVolume(self, request: Any, context: Any) -> Any:  # noqa: N802
        response = csi_pb2.NodeExpandVolumeResponse(
            capacity_bytes=request.capacity_range.required_bytes
        )
        return self._record("NodeExpandVolume", request, response)


@dataclass
class PartnerPlugin:
    endpoint: str
    """``unix://<path>`` for the driver's ``--fwdendpoint``."""
    recorder: Recorder


@contextmanager
def serve_partner(
    socket_path: Path,
    *,
    name: str = "nfs.csi.k8s.io",
    caps: tuple[int, ...] = (NodeRpc.STAGE_UNSTAGE_VOLUME, NodeRpc.GET_VOLUME_STATS),
    not_ready_probes: int = 0,
) -> Iterator[PartnerPlugin]:
    """The stand-in on ``socket_path`` until the block ends."""
    recorder = Recorder()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    csi_pb2_grpc.add_IdentityServicer_to_server(  # type: ignore[no-untyped-call]
        _Identity(name, not_ready_probes, recorder), server
    )
    csi_pb2_grpc.add_NodeServicer_to_server(_Node(caps, recorder), server)  # type: ignore[no-untyped-call]
    server.add_insecure_port(f"unix://{socket_path}")
    server.start()
    try:
        yield PartnerPlugin(endpoint=f"unix://{socket_path}", recorder=recorder)
    finally:
        server.stop(0)
