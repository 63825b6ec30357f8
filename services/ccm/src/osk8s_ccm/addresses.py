"""Node addresses of a server: CPO's five steps, its dedup and its ``address-sort-order``.

Order matters to users (kubelet and others take the first InternalIP), so the steps run as
CPO runs them: (1) fixed IPs of ACTIVE ports, (2) access IPs, (3) the ``hostname`` metadata
key, (4) trunk subport IPs merged into the server's addresses under their network's name,
(5) the server's addresses by network name sorted, where ``floating`` entries and
``public-network-name`` networks give ExternalIP (the latter removing the same IP added
before), ``internal-network-name`` (when set) keeps only its networks' InternalIPs and drops
other addresses entirely. A (type, address) pair appears once. Pure functions.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from osk8s_ccm.cloud_view import PortInfo, ServerAddress, ServerInfo
from osk8s_core.config import NetworkingOptions

INTERNAL_IP: Final = "InternalIP"
EXTERNAL_IP: Final = "ExternalIP"
HOSTNAME: Final = "Hostname"


@dataclass(frozen=True)
class NodeAddress:
    """One entry of a Node's ``status.addresses``."""

    type: str
    address: str

    def as_dict(self) -> dict[str, str]:
        return {"type": self.type, "address": self.address}


@dataclass(frozen=True)
class Subport:
    """A trunk subport's fixed IPs and the name of its network (step 4's input)."""

    network_name: str
    fixed_ips: tuple[str, ...]


def _is_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False


class _Addresses:
    """The growing list with CPO's add (unique pair) and remove (by address) rules."""

    def __init__(self) -> None:
        self.items: list[NodeAddress] = []

    def add(self, kind: str, address: str) -> None:
        entry = NodeAddress(kind, address)
        if entry not in self.items:
            self.items.append(entry)

    def remove(self, address: str) -> None:
        self.items = [item for item in self.items if item.address != address]


def node_addresses(
    server: ServerInfo,
    ports: Sequence[PortInfo],
    subports: Sequence[Subport],
    options: NetworkingOptions,
) -> list[NodeAddress]:
    """The node's addresses before sorting (see the module doc for the steps)."""
    v6_off = options.ipv6_support_disabled
    found = _Addresses()
    for port in ports:  # step 1
        if port.status != "ACTIVE":
            continue
        for ip in port.fixed_ips:
            if not (v6_off and _is_ipv6(ip)):
                found.add(INTERNAL_IP, ip)
    if server.access_ipv4:  # step 2
        found.add(EXTERNAL_IP, server.access_ipv4)
    if server.access_ipv6 and not v6_off:
        found.add(EXTERNAL_IP, server.access_ipv6)
    hostname = server.metadata.get("hostname", "")
    if hostname:  # step 3
        found.add(HOSTNAME, hostname)
    by_network = _with_subports(server.addresses, subports, v6_off=v6_off)  # step 4
    for network in sorted(by_network):  # step 5
        for entry in by_network[network]:
            if entry.kind == "floating":
                kind = EXTERNAL_IP
            elif network in options.public_network_name:
                kind = EXTERNAL_IP
                # Listed as public: it must not also stay an InternalIP from step 1.
                found.remove(entry.address)
            elif not options.internal_network_name or network in options.internal_network_name:
                kind = INTERNAL_IP
            else:
                found.remove(entry.address)
                continue
            if not (v6_off and _is_ipv6(entry.address)):
                found.add(kind, entry.address)
    return found.items


def _with_subports(
    addresses: Mapping[str, tuple[ServerAddress, ...]],
    subports: Iterable[Subport],
    *,
    v6_off: bool,
) -> dict[str, list[ServerAddress]]:
    merged = {network: list(entries) for network, entries in addresses.items()}
    for subport in subports:
        for ip in subport.fixed_ips:
            if not (v6_off and _is_ipv6(ip)):
                merged.setdefault(subport.network_name, []).append(ServerAddress(ip, "fixed"))
    return merged


Warn = Callable[[str, str], None]


def parse_sort_order(
    spec: str, *, warn: Warn
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The CIDRs of ``address-sort-order``; a bad item is skipped with ``warn(item, why)``."""
    cidrs: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        try:
            cidrs.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            warn(item, str(exc))
    return cidrs


def sort_addresses(
    addresses: Sequence[NodeAddress],
    cidrs: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> list[NodeAddress]:
    """CPO's stable priority sort: addresses in an earlier CIDR first, ordered by their
    bytes within a CIDR; the rest (hostnames included) keep their order after them."""
    if not cidrs:
        return list(addresses)

    def key(entry: NodeAddress) -> tuple[int, bytes]:
        try:
            ip = ipaddress.ip_address(entry.address)
        except ValueError:
            return (len(cidrs), b"")
        for rank, cidr in enumerate(cidrs):
            if ip.version == cidr.version and ip in cidr:
                return (rank, _sixteen_bytes(ip))
        return (len(cidrs), b"")

    return sorted(addresses, key=key)


def _sixteen_bytes(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bytes:
    # Go's net.IP holds IPv4 as the 16-byte IPv4-mapped form; compare as it does.
    if isinstance(ip, ipaddress.IPv4Address):
        return ipaddress.IPv6Address(f"::ffff:{ip}").packed
    return ip.packed
