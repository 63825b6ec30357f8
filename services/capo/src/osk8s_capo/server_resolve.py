"""Resolve an OpenStackServer's references to IDs once (capo.md §2.7 step 2, §1.9).

Flavor by ID or exact name, image by ID or ``{name, tags}`` (exactly one), server group by
ID or name, and each port's network, fixed-IP subnets and security groups by ID or Neutron
filter, into ``status.resolved`` as CAPO writes it (``imageID``, ``flavorID``,
``serverGroupID``, ``ports[ResolvedPortSpec]``). An ID is trusted without a call; a filter
must match exactly one object. ``ResolveError`` carries the message for the condition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from osk8s_core import errors


class ResolveError(errors.Osk8sError):
    """A reference did not match exactly one object (CAPO: ``DependencyFailed``)."""


class Lookups(Protocol):
    """The OpenStack lookups resolution needs (the server cloud implements them)."""

    def flavor_id_by_name(self, name: str) -> str: ...

    def image_id_by_filter(self, name: str, tags: Sequence[str]) -> str: ...

    def server_group_id_by_name(self, name: str) -> str: ...

    def network_ids(self, query: Mapping[str, Any]) -> list[str]: ...

    def subnet_ids(self, query: Mapping[str, Any]) -> list[str]: ...

    def security_group_ids(self, query: Mapping[str, Any]) -> list[str]: ...


_FILTER_KEYS = {
    "name": "name",
    "description": "description",
    "projectID": "project_id",
    "cidr": "cidr",
    "ipVersion": "ip_version",
    "gatewayIP": "gateway_ip",
    "ipv6AddressMode": "ipv6_address_mode",
    "ipv6RAMode": "ipv6_ra_mode",
}
_TAG_KEYS = {
    "tags": "tags",
    "tagsAny": "tags-any",
    "notTags": "not-tags",
    "notTagsAny": "not-tags-any",
}


def neutron_query(filter_: Mapping[str, Any]) -> dict[str, Any]:
    """A CAPO Neutron filter (camelCase) as list-call query parameters."""
    query: dict[str, Any] = {}
    for key, value in filter_.items():
        if key in _FILTER_KEYS and value not in (None, ""):
            query[_FILTER_KEYS[key]] = value
        elif key in _TAG_KEYS and value:
            query[_TAG_KEYS[key]] = ",".join(value)
    return query


def _exactly_one(found: list[str], what: str) -> str:
    if not found:
        raise ResolveError(f"no {what} matches the filter")
    if len(found) > 1:
        raise ResolveError(f"{len(found)} {what}s match the filter, expected exactly one")
    return found[0]


@dataclass(frozen=True)
class PortDefaults:
    """What the caller (machine or cluster controller) already decided for every port."""

    server_name: str
    description: str
    tags: Sequence[str] = ()
    trunk: bool = False
    security_groups: Sequence[Mapping[str, Any]] = ()
    """``spec.securityGroups``: added to every port with port security on."""


def port_name(server_name: str, index: int, port: Mapping[str, Any]) -> str:
    """``<server>-<nameSuffix|index>`` (capo.md §2.11)."""
    return f"{server_name}-{port.get('nameSuffix') or index}"


def _resolve_param(param: Mapping[str, Any], what: str, lookup: Any) -> str:
    if param.get("id"):
        return str(param["id"])
    return _exactly_one(lookup(neutron_query(param.get("filter") or {})), what)


def resolve_port(
    index: int, port: Mapping[str, Any], defaults: PortDefaults, lookups: Lookups
) -> dict[str, Any]:
    """One ``ResolvedPortSpec``."""
    network = port.get("network") or {}
    if not network:
        raise ResolveError(f"port {index} has no network")
    network_id = _resolve_param(network, "network", lookups.network_ids)
    resolved: dict[str, Any] = {
        "name": port_name(defaults.server_name, index, port),
        "description": port.get("description") or defaults.description,
        "networkID": network_id,
    }
    fixed_ips = []
    for fixed in port.get("fixedIPs") or []:
        entry: dict[str, Any] = {}
        subnet = fixed.get("subnet")
        if subnet:
            query = dict(neutron_query(subnet.get("filter") or {}), network_id=network_id)
            entry["subnet"] = (
                str(subnet["id"])
                if subnet.get("id")
                else _exactly_one(lookups.subnet_ids(query), "subnet")
            )
        if fixed.get("ipAddress"):
            entry["ipAddress"] = fixed["ipAddress"]
        fixed_ips.append(entry)
    if fixed_ips:
        resolved["fixedIPs"] = fixed_ips
    if port.get("enablePortSecurity") is not False:
        groups = list(port.get("securityGroups") or []) + list(defaults.security_groups)
        ids = [_resolve_param(g, "security group", lookups.security_group_ids) for g in groups]
        if ids:
            resolved["securityGroups"] = list(dict.fromkeys(ids))
    tags = list(dict.fromkeys([*defaults.tags, *(port.get("tags") or [])]))
    if tags:
        resolved["tags"] = tags
    trunk = port.get("trunk")
    resolved["trunk"] = bool(defaults.trunk if trunk is None else trunk)
    for key in (
        "adminStateUp",
        "macAddress",
        "allowedAddressPairs",
        "hostID",
        "vnicType",
        "profile",
        "enablePortSecurity",
        "propagateUplinkStatus",
        "valueSpecs",
    ):
        if port.get(key) not in (None, "", [], {}):
            resolved[key] = port[key]
    return resolved


def resolve(spec: Mapping[str, Any], defaults: PortDefaults, lookups: Lookups) -> dict[str, Any]:
    """The whole ``status.resolved`` for ``spec`` (an OpenStackServer spec)."""
    resolved: dict[str, Any] = {}
    image = spec.get("image") or {}
    if image.get("id"):
        resolved["imageID"] = str(image["id"])
    elif image.get("filter"):
        flt = image["filter"]
        resolved["imageID"] = lookups.image_id_by_filter(
            flt.get("name") or "", flt.get("tags") or []
        )
    else:
        raise ResolveError("spec.image needs an id or a filter (ORC imageRef is not supported)")
    if spec.get("flavorID"):
        resolved["flavorID"] = str(spec["flavorID"])
    elif spec.get("flavor"):
        resolved["flavorID"] = lookups.flavor_id_by_name(str(spec["flavor"]))
    else:
        raise ResolveError("spec.flavor or spec.flavorID is required")
    group = spec.get("serverGroup") or {}
    if group.get("id"):
        resolved["serverGroupID"] = str(group["id"])
    elif (group.get("filter") or {}).get("name"):
        resolved["serverGroupID"] = lookups.server_group_id_by_name(group["filter"]["name"])
    resolved["ports"] = [
        resolve_port(i, port, defaults, lookups) for i, port in enumerate(spec.get("ports") or [])
    ]
    if not resolved["ports"]:
        raise ResolveError("spec.ports is empty: a server needs at least one port")
    return resolved
