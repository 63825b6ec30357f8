"""CSI Identity service: plugin name/version, capabilities, Probe.

Matches CPO (§3.1): the ``--drivername`` name, vendor version ``0.9.0@<osk8s>``,
CONTROLLER_SERVICE, online volume expansion, accessibility constraints with
``--with-topology``. Probe is always ready (the partner was probed before we serve).
"""

from __future__ import annotations

from typing import Any

from osk8s_core import __version__
from osk8s_core.proto.csi import csi_pb2, csi_pb2_grpc
from osk8s_manila_csi.settings import DRIVER_VERSION

_Service = csi_pb2.PluginCapability.Service
_Expansion = csi_pb2.PluginCapability.VolumeExpansion


class IdentityService(csi_pb2_grpc.IdentityServicer):
    def __init__(self, *, name: str, with_topology: bool) -> None:
        self._name = name
        self._with_topology = with_topology

    def GetPluginInfo(self, request: Any, context: Any) -> Any:  # noqa: N802
        return csi_pb2.GetPluginInfoResponse(
            name=self._name, vendor_version=f"{DRIVER_VERSION}@{__version__}"
        )

    def GetPluginCapabilities(self, request: Any, context: Any) -> Any:  # noqa: N802
        caps = [csi_pb2.PluginCapability(service=_Service(type=_Service.CONTROLLER_SERVICE))]
        if self._with_topology:
            caps.append(
                csi_pb2.PluginCapability(
                    service=_Service(type=_Service.VOLUME_ACCESSIBILITY_CONSTRAINTS)
                )
            )
        caps.append(csi_pb2.PluginCapability(volume_expansion=_Expansion(type=_Expansion.ONLINE)))
        return csi_pb2.GetPluginCapabilitiesResponse(capabilities=caps)

    def Probe(self, request: Any, context: Any) -> Any:  # noqa: N802
        return csi_pb2.ProbeResponse()
