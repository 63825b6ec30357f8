"""The partner CSI node plugin at ``--fwdendpoint`` (csi-driver-nfs or ceph-csi cephfs).

As CPO (§3.1): connect with a timeout (15 s), probe until it says ready (every 5 s), read its
plugin info and node capabilities once; the node service advertises those as its own. A call
the partner fails keeps the partner's status code (``PartnerFailed``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from osk8s_core import errors
from osk8s_core.grpc.csi import CsiError
from osk8s_core.grpc.endpoint import parse_endpoint
from osk8s_core.proto.csi import csi_pb2, csi_pb2_grpc


class PartnerFailed(CsiError):
    """The partner plugin answered with an error: returned with the partner's code."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"node plugin: {details}")
        self.code = code


@dataclass(frozen=True)
class PartnerTimings:
    connect_timeout: float = 15.0
    probe_interval: float = 5.0
    call_timeout: float | None = None
    """Per forwarded call; None leaves it to the CO's own deadline."""


class Partner:
    """Stubs to a connected, ready partner, with what it said about itself."""

    def __init__(self, channel: grpc.Channel, *, name: str, capabilities: Any) -> None:
        self.channel = channel
        self.name = name
        self.capabilities = capabilities
        self.node = csi_pb2_grpc.NodeStub(channel)  # type: ignore[no-untyped-call]

    def has(self, kind: int) -> bool:
        return any(c.rpc.type == kind for c in self.capabilities)

    def call(self, method: str, request: Any, timeout: float | None = None) -> Any:
        try:
            return getattr(self.node, method)(request, timeout=timeout)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
            details = exc.details() if hasattr(exc, "details") else str(exc)
            raise PartnerFailed(code, str(details)) from None

    def close(self) -> None:
        self.channel.close()


def connect_partner(
    endpoint: str,
    *,
    timings: PartnerTimings = PartnerTimings(),
    logger: Any,
    sleep: Callable[[float], None] = time.sleep,
) -> Partner:
    """Connect and wait until the partner is ready; ConfigError when it cannot be reached."""
    address = parse_endpoint(endpoint).grpc_address
    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=timings.connect_timeout)
    except grpc.FutureTimeoutError:
        channel.close()
        raise errors.ConfigError(
            f"node plugin at {endpoint} did not answer within {timings.connect_timeout:g} s",
            key="fwdendpoint",
        ) from None
    identity = csi_pb2_grpc.IdentityStub(channel)  # type: ignore[no-untyped-call]
    while True:
        try:
            probe = identity.Probe(csi_pb2.ProbeRequest())
            if not probe.HasField("ready") or probe.ready.value:
                break
            logger.info("node plugin not ready yet", endpoint=endpoint)
        except grpc.RpcError as exc:
            logger.warning("node plugin probe failed", endpoint=endpoint, code=str(exc.code()))
        sleep(timings.probe_interval)
    info = identity.GetPluginInfo(csi_pb2.GetPluginInfoRequest())
    caps = csi_pb2_grpc.NodeStub(channel).NodeGetCapabilities(  # type: ignore[no-untyped-call]
        csi_pb2.NodeGetCapabilitiesRequest()
    )
    logger.info("node plugin ready", name=info.name, version=info.vendor_version)
    return Partner(channel, name=info.name, capabilities=list(caps.capabilities))
