"""The kubelet's ``--node-ip`` with an external cloud provider: the kubelet writes it into the
``alpha.kubernetes.io/provided-node-ip`` annotation and the cloud node controller must honour
it (``k8s.io/component-helpers``' GetNodeAddressesFromNodeIP): every cloud address equal to a
provided IP comes first, and it becomes the only address of its type; the other types follow
in the cloud's order. A provided IP the cloud does not report is an error (the node keeps its
uninitialized taint). Pure functions."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Final

from osk8s_ccm.addresses import NodeAddress
from osk8s_core import errors

PROVIDED_NODE_IP_ANNOTATION: Final = "alpha.kubernetes.io/provided-node-ip"


class ProvidedNodeIpMismatch(errors.Osk8sError):
    """The annotation names an IP the server does not have (or is not an IP list)."""


def _parse(annotation: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        ips = [ipaddress.ip_address(part.strip()) for part in annotation.split(",")]
    except ValueError as exc:
        raise ProvidedNodeIpMismatch(f"bad {PROVIDED_NODE_IP_ANNOTATION} {annotation!r}") from exc
    if len(ips) > 2 or any(ip.is_unspecified for ip in ips):
        raise ProvidedNodeIpMismatch(f"bad {PROVIDED_NODE_IP_ANNOTATION} {annotation!r}")
    return ips


def _same(address: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        return ipaddress.ip_address(address) == ip
    except ValueError:
        return False


def honour_provided_ip(addresses: Sequence[NodeAddress], annotation: str) -> list[NodeAddress]:
    """``addresses`` reordered and filtered for the annotation (unchanged when it is empty)."""
    if not annotation:
        return list(addresses)
    enforced: list[NodeAddress] = []
    types: set[str] = set()
    for ip in _parse(annotation):
        matched = [a for a in addresses if _same(a.address, ip)]
        if not matched:
            raise ProvidedNodeIpMismatch(
                f"failed to get node address from cloud provider that matches ip: {ip}"
            )
        enforced.extend(matched)
        types.update(a.type for a in matched)
    return enforced + [a for a in addresses if a.type not in types]
