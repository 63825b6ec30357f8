"""Floating IPs of Service load balancers (CPO §1.4.6): find the one on the VIP port, attach
``spec.loadBalancerIP``, create one on the floating network (subnet by id, name pattern or
tags, tried in turn), detach or release when the Service turns internal or goes away.

A floating IP CCM made carries the description ``naming.fip_description``; only those are
ever deleted, and that description is also how a floating IP survives a crash or an LB
recreated after ERROR: it is found again by it and re-attached, never duplicated.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from osk8s_ccm.lb_settings import FloatingSubnetSpec
from osk8s_core import errors
from osk8s_core.openstack.filters import parse_tag_spec
from osk8s_core.openstack.floating_ips import FloatingIps
from osk8s_core.openstack.networking import Networking


class FloatingIpError(Exception):
    """The floating IP cannot be had as asked (taken elsewhere, no subnet matches...)."""


def name_matcher(pattern: str) -> Callable[[str], bool]:
    """CPO's ``floating-subnet`` pattern: glob, ``~regex``, leading ``!`` negates."""
    negate = pattern.startswith("!")
    body = pattern[1:] if negate else pattern
    if body.startswith("~"):
        regex = re.compile(body[1:])

        def test(name: str) -> bool:
            return regex.search(name) is not None
    else:

        def test(name: str) -> bool:
            return fnmatch.fnmatchcase(name, body)

    return (lambda name: not test(name)) if negate else test


@dataclass(frozen=True)
class FloatingRequest:
    """What one Service asks of its floating IP."""

    description: str
    network_id: str
    subnet: FloatingSubnetSpec
    address: str = ""
    """``spec.loadBalancerIP``."""


class FloatingAddresses:
    """Floating IP decisions for Service load balancers."""

    def __init__(self, fips: FloatingIps, networking: Networking) -> None:
        self._fips = fips
        self._networking = networking

    def on_port(self, port_id: str) -> Any | None:
        return self._fips.on_port(port_id)

    def external_network(self) -> str | None:
        """The first ``router:external`` network with an IPv4 subnet (CPO's autodetect)."""
        for network in self._networking.networks(is_router_external=True):
            if any(s.ip_version == 4 for s in self._networking.subnets(network_id=network.id)):
                return str(network.id)
        return None

    def ensure(self, port_id: str, request: FloatingRequest, existing: Any | None) -> Any:
        """The floating IP on ``port_id``: ``existing`` (already looked up) or a new one."""
        if existing is not None:
            return existing
        if request.address:
            return self._attach_address(port_id, request)
        candidates = self._subnet_candidates(request)
        failure: errors.OpenStackError | None = None
        for subnet_id in candidates:
            try:
                return self._fips.create(
                    request.network_id,
                    description=request.description,
                    port_id=port_id,
                    subnet_id=subnet_id,
                )
            except errors.OpenStackError as exc:
                if len(candidates) == 1:
                    raise
                failure = exc  # CPO tries the next matching subnet
        raise FloatingIpError(
            f"no floating IP could be allocated on network {request.network_id} in any of "
            f"the {len(candidates)} matching subnets"
        ) from failure

    def _attach_address(self, port_id: str, request: FloatingRequest) -> Any:
        found = self._fips.query(floating_ip_address=request.address)
        if found:
            fip = found[0]
            if fip.port_id and fip.port_id != port_id:
                raise FloatingIpError(
                    f"floating IP {request.address} is attached to another port ({fip.port_id})"
                )
            return self._fips.associate(fip.id, port_id) if fip.port_id != port_id else fip
        return self._fips.create(
            request.network_id,
            description=request.description,
            port_id=port_id,
            address=request.address,
        )

    def _subnet_candidates(self, request: FloatingRequest) -> list[str | None]:
        spec = request.subnet
        if spec.subnet_id:
            return [spec.subnet_id]
        if not (spec.name or spec.tags):
            return [None]
        tags = parse_tag_spec(spec.tags) if spec.tags else None
        subnets = self._networking.subnets(network_id=request.network_id, tags=tags)
        match = name_matcher(spec.name) if spec.name else (lambda _name: True)
        found = [str(s.id) for s in subnets if match(str(s.name or ""))]
        if not found:
            raise FloatingIpError(
                f"no subnet of floating network {request.network_id} matches {spec}"
            )
        return list(found)

    def release(self, fip: Any, *, description: str, keep: bool) -> None:
        """Give up ``fip``: delete it when CCM made it (its description) and ``keep`` is off,
        otherwise only detach it (matches CPO)."""
        if fip.description == description and not keep:
            self._fips.delete(fip.id)
        elif fip.port_id:
            self._fips.disassociate(fip.id)

    def redescribe(self, port_id: str, old: str, new: str) -> None:
        """Cluster rename: the floating IP on ``port_id`` carrying the old marker gets the
        new one, so it stays CCM's (and is released with the LB)."""
        fip = self._fips.on_port(port_id)
        if fip is not None and fip.description == old:
            self._fips.update(fip.id, description=new)

    def leftovers(self, description: str) -> list[Any]:
        """Floating IPs with CCM's marker for this Service on no port (an LB recreated after
        ERROR or a crash between steps left them); they are re-attached or released."""
        return [f for f in self._fips.query(description=description) if not f.port_id]
