"""Which nodes become members and at which address, and the VIP subnet autodetect (CPO
§1.4.4 step 3, §1.4.5 "Members"/"Node filtering"). Pure except ``NodeSubnets``, which asks
Neutron for the subnet of a node's address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from osk8s_ccm.lb_provider import LoadBalancerNode
from osk8s_ccm.octavia.desired import NodeTarget
from osk8s_ccm.provider_id import InvalidProviderId, parse_provider_id
from osk8s_core.openstack.ports import Ports


def _family(address: str) -> str | None:
    try:
        return "IPv6" if ipaddress.ip_address(address).version == 6 else "IPv4"
    except ValueError:
        return None


def node_address(node: LoadBalancerNode, family: str) -> str | None:
    """The first InternalIP of ``family``, else the first ExternalIP of it (matches CPO)."""
    for kind in ("InternalIP", "ExternalIP"):
        for addr in node.addresses:
            if addr.type == kind and _family(addr.address) == family:
                return addr.address
    return None


def selected(node: LoadBalancerNode, selector: Mapping[str, str]) -> bool:
    """``node-selector``: every key present; a non-empty value must equal the label."""
    return all(
        key in node.labels and (not value or node.labels[key] == value)
        for key, value in selector.items()
    )


def member_targets(
    nodes: Sequence[LoadBalancerNode], selector: Mapping[str, str], family: str
) -> tuple[NodeTarget, ...]:
    """Selected nodes with an address of the family; the others are skipped (CPO too)."""
    out = []
    for node in nodes:
        if not selected(node, selector):
            continue
        address = node_address(node, family)
        if address is not None:
            out.append(NodeTarget(name=node.name, address=address))
    return tuple(out)


class NodeSubnets:
    """The subnet of a node's address, from the Neutron ports of its server."""

    def __init__(self, ports: Ports, *, region: str) -> None:
        self._ports = ports
        self._region = region

    def subnet_of(self, node: LoadBalancerNode, family: str) -> str | None:
        try:
            server_id = parse_provider_id(node.provider_id, region=self._region)
        except InvalidProviderId:
            return None
        address = node_address(node, family)
        if not server_id or address is None:
            return None
        for port in self._ports.query(device_id=server_id):
            for fixed in port.fixed_ips or []:
                if fixed.get("ip_address") == address:
                    return str(fixed.get("subnet_id"))
        return None
