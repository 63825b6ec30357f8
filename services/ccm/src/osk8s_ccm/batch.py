"""Beyond CPO: one sync resolves every node with a constant number of list calls.

CPO makes a server GET and a port list per node per sync (2N requests). A ``SyncSnapshot``
lists the project's servers with details once and their ports once (Neutron filter
``device_owner`` = ``compute:<zone>`` for every zone the servers are in), the trunk subports
those ports name by id, and the subports' networks by id (one call per 100 ids); flavors stay in
the ``Flavors`` cache across syncs. It then answers InstancesV2's questions from those lists
and asks the per-node ``LiveLookup`` only for what they miss: a server not in the list
(deleted, or created after it), a server with no port in the list (a port with another
owner), a subport or network not listed. So the answers are CPO's; only the request count
differs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from osk8s_ccm.cloud_view import PortInfo, ServerInfo
from osk8s_ccm.lookup import CloudLookup
from osk8s_ccm.nova_neutron import LiveLookup, NovaNeutron

# Nova names a port's owner after the server's zone when it binds it; ports bound while the
# server had no zone yet carry Nova's default zone name.
DEFAULT_OWNER = "compute:nova"


class SyncSnapshot:
    """``CloudLookup`` over one sync's lists, with per-node fallback."""

    def __init__(
        self,
        servers: Sequence[ServerInfo],
        ports: Sequence[PortInfo],
        network_names: dict[str, str],
        *,
        live: CloudLookup,
    ) -> None:
        self._by_id = {s.id: s for s in servers}
        self._by_name: dict[str, list[ServerInfo]] = defaultdict(list)
        for server in servers:
            self._by_name[server.name].append(server)
        self._ports_by_device: dict[str, list[PortInfo]] = defaultdict(list)
        for port in ports:
            self._ports_by_device[port.device_id].append(port)
        self._ports = {p.id: p for p in ports}
        self._network_names = dict(network_names)
        self._live = live

    @classmethod
    def take(cls, cloud: NovaNeutron) -> SyncSnapshot:
        """At most four list calls whatever the number of nodes: servers; their ports by
        device owner; the trunk subports by id; the subports' networks by id."""
        servers = cloud.list_servers()
        if not servers:
            return cls([], [], {}, live=LiveLookup(cloud))
        zones = {s.availability_zone for s in servers if s.availability_zone}
        owners = sorted({f"compute:{zone}" for zone in zones} | {DEFAULT_OWNER})
        ports = cloud.list_ports(device_owner=owners)
        subport_ids = sorted({sp for p in ports for sp in p.subport_ids})
        subports = cloud.ports_by_id(subport_ids)
        names = cloud.network_names(p.network_id for p in subports)
        return cls(servers, [*ports, *subports], names, live=LiveLookup(cloud))

    def server(self, server_id: str) -> ServerInfo:
        found = self._by_id.get(server_id)
        return found if found is not None else self._live.server(server_id)

    def servers_named(self, name: str) -> Sequence[ServerInfo]:
        found = self._by_name.get(name)
        return list(found) if found else self._live.servers_named(name)

    def server_ports(self, server_id: str) -> Sequence[PortInfo]:
        found = self._ports_by_device.get(server_id)
        return list(found) if found else self._live.server_ports(server_id)

    def port(self, port_id: str) -> PortInfo:
        found = self._ports.get(port_id)
        return found if found is not None else self._live.port(port_id)

    def network_name(self, network_id: str) -> str:
        found = self._network_names.get(network_id)
        if found is not None:
            return found
        name = self._live.network_name(network_id)
        self._network_names[network_id] = name
        return name

    def flavor_name(self, flavor_id: str) -> str:
        return self._live.flavor_name(flavor_id)  # the Flavors cache spans syncs
