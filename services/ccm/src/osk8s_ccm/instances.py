"""InstancesV2 as CPO implements it (cpo.md §1.3): find a node's server, say whether it exists
or is shut off, and give its metadata (providerID, instance type, addresses, zone, region).

A node is found by its providerID when it has one, else by its exact name (several servers of
that name is an error, never a guess). Which calls are made is up to the ``CloudLookup``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from osk8s_ccm.addresses import (
    NodeAddress,
    Subport,
    node_addresses,
    parse_sort_order,
    sort_addresses,
)
from osk8s_ccm.cloud_view import ServerInfo
from osk8s_ccm.labels import is_label_value, sanitize_label_value
from osk8s_ccm.lookup import CloudLookup
from osk8s_ccm.provider_id import format_provider_id, parse_provider_id
from osk8s_core import errors
from osk8s_core.config import NetworkingOptions


class InstanceNotFound(errors.NotFound):
    """No server for the node (cloud-provider's ``InstanceNotFound``)."""


@dataclass(frozen=True)
class NodeRef:
    """What InstancesV2 is given of a Node."""

    name: str
    provider_id: str = ""


@dataclass(frozen=True)
class InstanceSettings:
    """Parsed once at start-up from cloud.conf and the environment."""

    region: str
    regional: bool = False
    """``OS_CCM_REGIONAL=true``: providerIDs carry the region."""
    networking: NetworkingOptions = field(default_factory=NetworkingOptions)


@dataclass(frozen=True)
class InstanceMetadata:
    provider_id: str
    instance_type: str
    node_addresses: tuple[NodeAddress, ...]
    zone: str
    region: str


Warn = Callable[[str, str], None]


def _ignore(item: str, why: str) -> None:
    return None


class InstancesV2:
    def __init__(self, settings: InstanceSettings, *, warn: Warn = _ignore) -> None:
        self._settings = settings
        self._sort_cidrs = parse_sort_order(settings.networking.address_sort_order, warn=warn)

    def find_server(self, lookup: CloudLookup, node: NodeRef) -> ServerInfo:
        """The node's server; InstanceNotFound, AmbiguousMatch, InvalidProviderId."""
        if node.provider_id:
            server_id = parse_provider_id(node.provider_id, region=self._settings.region)
            try:
                return lookup.server(server_id)
            except errors.NotFound as exc:
                raise InstanceNotFound(f"server {server_id} of node {node.name!r}") from exc
        found = list(lookup.servers_named(node.name))
        if not found:
            raise InstanceNotFound(f"no server named {node.name!r}")
        if len(found) > 1:
            raise errors.AmbiguousMatch(f"{len(found)} servers are named {node.name!r}")
        return found[0]

    def instance_exists(self, lookup: CloudLookup, node: NodeRef) -> bool:
        """False only when the server is not found; other errors propagate."""
        try:
            self.find_server(lookup, node)
        except InstanceNotFound:
            return False
        return True

    def instance_shutdown(self, lookup: CloudLookup, node: NodeRef) -> bool:
        return self.find_server(lookup, node).status == "SHUTOFF"

    def instance_metadata(self, lookup: CloudLookup, node: NodeRef) -> InstanceMetadata:
        server = self.find_server(lookup, node)
        return self.metadata_of(lookup, server)

    def metadata_of(self, lookup: CloudLookup, server: ServerInfo) -> InstanceMetadata:
        settings = self._settings
        ports = lookup.server_ports(server.id)
        subports = [
            self._subport(lookup, subport_id) for port in ports for subport_id in port.subport_ids
        ]
        found = node_addresses(server, ports, subports, settings.networking)
        return InstanceMetadata(
            provider_id=format_provider_id(
                server.id, region=settings.region, regional=settings.regional
            ),
            instance_type=self.instance_type(lookup, server),
            node_addresses=tuple(sort_addresses(found, self._sort_cidrs)),
            zone=sanitize_label_value(server.availability_zone),
            region=settings.region,
        )

    @staticmethod
    def instance_type(lookup: CloudLookup, server: ServerInfo) -> str:
        """Nova's embedded flavor name when it is a valid label value; else the flavor's
        name by id when valid; else the flavor id."""
        if server.flavor_original_name and is_label_value(server.flavor_original_name):
            return server.flavor_original_name
        name = lookup.flavor_name(server.flavor_id) if server.flavor_id else ""
        return name if name and is_label_value(name) else server.flavor_id

    @staticmethod
    def _subport(lookup: CloudLookup, port_id: str) -> Subport:
        port = lookup.port(port_id)
        return Subport(network_name=lookup.network_name(port.network_id), fixed_ips=port.fixed_ips)
