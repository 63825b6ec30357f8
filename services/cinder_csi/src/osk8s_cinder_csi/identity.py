"""CSI Identity service: plugin name/version, capabilities, Probe.

Matches CPO: name ``cinder.csi.openstack.org``, vendor version ``2.0.0@<osk8s>``,
CONTROLLER_SERVICE always (CPO's list is static: its node-only plugin advertises it too, though
only the controller plugin serves csi.v1.Controller), accessibility constraints only with
topology, online and offline expansion. Probe is always ready. No OpenStack calls here.
"""

from __future__ import annotations

from typing import Any

from osk8s_cinder_csi.options import DRIVER_NAME, DRIVER_VERSION
from osk8s_core import __version__
from osk8s_core.proto.csi import csi_pb2, csi_pb2_grpc

_Service = csi_pb2.PluginCapability.Service
_Expansion = csi_pb2.PluginCapability.VolumeExpansion


class IdentityService(csi_pb2_grpc.IdentityServicer):
    def __init__(self, *, with_topology: bool) -> None:
        self._with_topology = with_topology

    def GetPluginInfo(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.GetPluginInfoRequest, context: Any
    ) -> csi_pb2.GetPluginInfoResponse:
        return csi_pb2.GetPluginInfoResponse(
            name=DRIVER_NAME, vendor_version=f"{DRIVER_VERSION}@{__version__}"
        )

    def GetPluginCapabilities(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.GetPluginCapabilitiesRequest, context: Any
    ) -> csi_pb2.GetPluginCapabilitiesResponse:
        caps = [_service(_Service.CONTROLLER_SERVICE)]
        if self._with_topology:
            caps.append(_service(_Service.VOLUME_ACCESSIBILITY_CONSTRAINTS))
        for kind in (_Expansion.ONLINE, _Expansion.OFFLINE):
            caps.append(csi_pb2.PluginCapability(volume_expansion=_Expansion(type=kind)))
        return csi_pb2.GetPluginCapabilitiesResponse(capabilities=caps)

    def Probe(self, request: csi_pb2.ProbeRequest, context: Any) -> csi_pb2.ProbeResponse:  # noqa: N802
        # Matches CPO: always ready (an empty response; `ready` unset means ready).
        return csi_pb2.ProbeResponse()


def _service(kind: Any) -> csi_pb2.PluginCapability:
    return csi_pb2.PluginCapability(service=_Service(type=kind))
