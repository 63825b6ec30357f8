"""The narrow interface InstancesV2 reads Nova and Neutron through.

Two implementations: ``nova_neutron.LiveLookup`` makes CPO's per-node calls, and
``batch.SyncSnapshot`` answers from a few list calls made once per sync, asking the live one
only for what those lists miss. The InstancesV2 rules (``instances``) are the same for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from osk8s_ccm.cloud_view import PortInfo, ServerInfo


class CloudLookup(Protocol):
    def server(self, server_id: str) -> ServerInfo:
        """The server; ``osk8s_core.errors.NotFound`` when it does not exist."""
        ...

    def servers_named(self, name: str) -> Sequence[ServerInfo]:
        """Every server whose name is exactly ``name``."""
        ...

    def server_ports(self, server_id: str) -> Sequence[PortInfo]:
        """The Neutron ports whose ``device_id`` is the server."""
        ...

    def port(self, port_id: str) -> PortInfo:
        """One port (a trunk subport)."""
        ...

    def network_name(self, network_id: str) -> str:
        """The network's name (a trunk subport's network)."""
        ...

    def flavor_name(self, flavor_id: str) -> str:
        """The flavor's name."""
        ...
