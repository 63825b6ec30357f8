"""Nova and Neutron through the core's resource layer, converted to ``cloud_view`` values.

``LiveLookup`` is CPO's way: a server GET (or a name query), a port list per node, a port and
a network GET per trunk subport, a flavor GET when the embedded name is unusable. Every call
goes through the core's ``OpenStackClient`` (retries, metrics with CPO's request labels).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from osk8s_ccm.cloud_view import PortInfo, ServerAddress, ServerInfo
from osk8s_core.openstack.filters import named, nova_name_regex
from osk8s_core.openstack.flavors import Flavors
from osk8s_core.openstack.networking import Networking
from osk8s_core.openstack.ports import Ports
from osk8s_core.openstack.servers import Servers

if TYPE_CHECKING:
    from openstack.connection import Connection

    from osk8s_core.openstack.client import OpenStackClient


# Ids go in the query string (36 characters and "&id=" each): this many keep a request line
# under the 8 KiB that web servers and proxies in front of Neutron commonly allow.
IDS_PER_QUERY = 100


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _addresses(raw: object) -> Mapping[str, tuple[ServerAddress, ...]]:
    result: dict[str, tuple[ServerAddress, ...]] = {}
    if isinstance(raw, Mapping):
        for network, entries in raw.items():
            result[str(network)] = tuple(
                ServerAddress(address=str(e.get("addr", "")), kind=_text(e.get("OS-EXT-IPS:type")))
                for e in entries or []
                if isinstance(e, Mapping) and e.get("addr")
            )
    return MappingProxyType(result)


def server_info(server: Any) -> ServerInfo:
    """From an openstacksdk ``Server`` (``flavor`` is Nova's embedded flavor or a ref)."""
    flavor = server.flavor
    flavor_id = _text(getattr(flavor, "id", None)) or _text(getattr(server, "flavor_id", None))
    metadata = server.metadata or {}
    return ServerInfo(
        id=str(server.id),
        name=_text(server.name),
        status=_text(server.status),
        availability_zone=_text(server.availability_zone),
        access_ipv4=_text(server.access_ipv4),
        access_ipv6=_text(server.access_ipv6),
        metadata=MappingProxyType({str(k): str(v) for k, v in metadata.items()}),
        addresses=_addresses(server.addresses),
        flavor_id=flavor_id,
        flavor_original_name=_text(getattr(flavor, "original_name", None)),
    )


def port_info(port: Any) -> PortInfo:
    """From an openstacksdk ``Port`` (``trunk_details`` only with the trunk-details ext)."""
    trunk = port.trunk_details or {}
    return PortInfo(
        id=str(port.id),
        device_id=_text(port.device_id),
        device_owner=_text(port.device_owner),
        status=_text(port.status),
        network_id=_text(port.network_id),
        fixed_ips=tuple(str(ip["ip_address"]) for ip in port.fixed_ips or [] if "ip_address" in ip),
        subport_ids=tuple(str(sp["port_id"]) for sp in trunk.get("sub_ports") or []),
    )


class NovaNeutron:
    """The resource calls CCM makes, each returning ``cloud_view`` values."""

    def __init__(self, client: OpenStackClient[Connection]) -> None:
        self.servers = Servers(client)
        self.ports = Ports(client)
        self.networking = Networking(client)
        self.flavors = Flavors(client)

    def list_servers(self) -> list[ServerInfo]:
        """Every server of the project, with details (one ``server_list``, paged by Nova)."""
        return [server_info(s) for s in self.servers.query()]

    def list_ports(self, **filters: Any) -> list[PortInfo]:
        return [port_info(p) for p in self.ports.query(**filters)]

    def ports_by_id(self, port_ids: Iterable[str]) -> list[PortInfo]:
        """The given ports, ``IDS_PER_QUERY`` ids per ``port_list``."""
        wanted = sorted(set(port_ids))
        return [
            port
            for start in range(0, len(wanted), IDS_PER_QUERY)
            for port in self.list_ports(id=wanted[start : start + IDS_PER_QUERY])
        ]

    def network_names(self, network_ids: Iterable[str]) -> dict[str, str]:
        """Names of the given networks, ``IDS_PER_QUERY`` ids per ``network_list``."""
        wanted = sorted(set(network_ids))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), IDS_PER_QUERY):
            chunk = wanted[start : start + IDS_PER_QUERY]
            found.update({str(n.id): _text(n.name) for n in self.networking.networks(id=chunk)})
        return found


class LiveLookup:
    """``CloudLookup`` with CPO's per-node calls."""

    def __init__(self, cloud: NovaNeutron) -> None:
        self._cloud = cloud

    def server(self, server_id: str) -> ServerInfo:
        return server_info(self._cloud.servers.get(server_id))

    def servers_named(self, name: str) -> Sequence[ServerInfo]:
        # Nova's name filter is a regex: anchored and escaped, then checked exactly.
        found = self._cloud.servers.query(name=nova_name_regex(name))
        return [server_info(s) for s in named(found, name)]

    def server_ports(self, server_id: str) -> Sequence[PortInfo]:
        return [port_info(p) for p in self._cloud.servers.ports(server_id)]

    def port(self, port_id: str) -> PortInfo:
        return port_info(self._cloud.ports.get(port_id))

    def network_name(self, network_id: str) -> str:
        return _text(self._cloud.networking.get_network(network_id).name)

    def flavor_name(self, flavor_id: str) -> str:
        return _text(self._cloud.flavors.get(flavor_id).name)
