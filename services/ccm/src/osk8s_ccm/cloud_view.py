"""What InstancesV2 reads of Nova and Neutron, as plain frozen values.

The address and lookup rules work on these values, never on openstacksdk objects, so they
are pure and testable with hand-made servers; ``nova_neutron`` converts from the sdk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class ServerAddress:
    """One entry of a server's ``addresses`` (``OS-EXT-IPS:type`` ``fixed`` or ``floating``)."""

    address: str
    kind: str = "fixed"


def _no_addresses() -> Mapping[str, tuple[ServerAddress, ...]]:
    return MappingProxyType({})


def _no_metadata() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class ServerInfo:
    """A Nova server as CCM needs it."""

    id: str
    name: str
    status: str = "ACTIVE"
    availability_zone: str = ""
    access_ipv4: str = ""
    access_ipv6: str = ""
    metadata: Mapping[str, str] = field(default_factory=_no_metadata)
    addresses: Mapping[str, tuple[ServerAddress, ...]] = field(default_factory=_no_addresses)
    """By network name, in Nova's order within a network."""
    flavor_id: str = ""
    flavor_original_name: str = ""
    """Nova's embedded flavor name (microversion >= 2.47); empty on older APIs."""


@dataclass(frozen=True)
class PortInfo:
    """A Neutron port as CCM needs it."""

    id: str
    device_id: str = ""
    device_owner: str = ""
    status: str = "ACTIVE"
    network_id: str = ""
    fixed_ips: tuple[str, ...] = ()
    subport_ids: tuple[str, ...] = ()
    """Port ids of the trunk's subports when this port is a trunk parent (trunk-details)."""
