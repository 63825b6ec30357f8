"""The cluster's network (capo.md §2.1 steps 4-5): external network, then either the managed
network/subnet/router or the user's existing network and subnets.

Managed objects are named ``k8s-clusterapi-cluster-<ns>-<name>`` and found by that name
before any create (a crash between create and status write is adopted, never duplicated).
User objects (``network``, ``subnets``, ``router``, ``externalNetwork``) are only read; the
router given in ``spec.router`` only gets our subnets' interfaces. Returns status parts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from osk8s_capo import naming
from osk8s_capo.params import FilterMatchError, resolve
from osk8s_capo.scope import Scope
from osk8s_core.errors import Osk8sError


class NetworkError(Osk8sError):
    """A network step failed; ``reason`` is the condition reason (CAPO's), ``event`` the
    reason of CAPO's Warning event for it when that differs (``FailedCreateNetwork``...)."""

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        condition: str = "NetworkReady",
        event: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.condition = condition
        self.event = event or reason


@dataclass(frozen=True)
class ClusterRef:
    namespace: str
    name: str

    @property
    def managed_name(self) -> str:
        return naming.network_name(self.namespace, self.name)

    @property
    def description(self) -> str:
        return naming.description(self.namespace, self.name)


def _status_of(resource: Any) -> dict[str, Any]:
    # The schema requires a non-empty name; an unnamed user network or subnet shows its ID
    # (a status write that the API server refuses would hide every condition).
    out: dict[str, Any] = {"id": resource.id, "name": resource.name or resource.id}
    tags = list(getattr(resource, "tags", None) or [])
    if tags:
        out["tags"] = tags
    return out


def _subnet_status(subnet: Any) -> dict[str, Any]:
    return {**_status_of(subnet), "cidr": subnet.cidr}


def set_tags(scope: Scope, resource: Any, tags: list[str], *, request: str) -> None:
    """Replace the resource's tags when they differ (Neutron ``standard-attr-tag``)."""
    if sorted(getattr(resource, "tags", None) or []) == sorted(tags):
        return
    api = scope.client.service("network")
    scope.client.call(request, lambda: api.set_tags(resource, tags))


def external_network(scope: Scope, spec: Mapping[str, Any]) -> dict[str, Any] | None:
    """``ReconcileExternalNetwork``: disabled → None; given → that one; else the only
    external network, none → None, several → error."""
    if spec.get("enableExternalNetwork") is False:
        return None
    net = scope.networking
    param = spec.get("externalNetwork")
    try:
        if param:
            found = resolve(
                param,
                what="external networks",
                get=net.get_network,
                query=net.networks,
                extra={"is_router_external": True},
            )
            return _status_of(found)
    except FilterMatchError as exc:
        raise NetworkError("ExternalNetworkNotFound", str(exc)) from exc
    candidates = net.networks(is_router_external=True)
    if not candidates:
        return None
    if len(candidates) > 1:
        raise NetworkError(
            "ExternalNetworkNotFound",
            f"found {len(candidates)} external networks; set spec.externalNetwork",
        )
    return _status_of(candidates[0])


def managed_network(
    scope: Scope, cluster: ClusterRef, spec: Mapping[str, Any], tags: list[str]
) -> dict[str, Any]:
    """Get or create the network and its one subnet; returns status ``network``."""
    net = scope.networking
    name = cluster.managed_name
    attrs: dict[str, Any] = {"admin_state_up": True, "description": cluster.description}
    managed = spec.get("managedNetwork") or {}
    if managed.get("mtu"):
        attrs["mtu"] = managed["mtu"]
    if "enablePortSecurity" in managed:
        attrs["port_security_enabled"] = bool(managed["enablePortSecurity"])
    try:
        network = net.create_network(name, **attrs)
        set_tags(scope, network, tags, request="network_tag_replace")
    except Osk8sError as exc:
        raise NetworkError(
            "NetworkCreateFailed", f"network {name}: {exc}", event="FailedCreateNetwork"
        ) from exc
    item = (spec.get("managedSubnets") or [{}])[0]
    cidr = str(item.get("cidr") or "")
    try:
        version = ipaddress.ip_network(cidr, strict=False).version
    except ValueError as exc:
        raise NetworkError(
            "SubnetCreateFailed",
            f"invalid managed subnet cidr {cidr!r}",
            event="FailedCreateSubnet",
        ) from exc
    sub_attrs: dict[str, Any] = {"description": cluster.description}
    dns = list(item.get("dnsNameservers") or [])
    if dns:
        sub_attrs["dns_nameservers"] = dns
    pools = item.get("allocationPools") or []
    if pools:
        sub_attrs["allocation_pools"] = [{"start": p["start"], "end": p["end"]} for p in pools]
    try:
        subnet = net.create_subnet(network.id, name, cidr=cidr, ip_version=version, **sub_attrs)
        if sorted(subnet.dns_nameservers or []) != sorted(dns):
            # DNS servers are the one subnet field updated in place (CAPO).
            api = scope.client.service("network")
            subnet = scope.client.call(
                "subnet_update", lambda: api.update_subnet(subnet, dns_nameservers=dns)
            )
        set_tags(scope, subnet, tags, request="subnet_tag_replace")
    except Osk8sError as exc:
        raise NetworkError(
            "SubnetCreateFailed", f"subnet {name}: {exc}", event="FailedCreateSubnet"
        ) from exc
    status = _status_of(network)
    status["subnets"] = [_subnet_status(subnet)]
    if tags:
        status["tags"] = tags
        status["subnets"][0]["tags"] = tags
    return status


def existing_network(scope: Scope, spec: Mapping[str, Any]) -> dict[str, Any]:
    """``reconcilePreExistingNetworkComponents``: resolve network and subnets (all subnets of
    the network when none are given); the network may come from the first subnet."""
    net = scope.networking
    network = None
    try:
        if spec.get("network"):
            network = resolve(
                spec["network"], what="networks", get=net.get_network, query=net.networks
            )
        subnets = []
        for param in spec.get("subnets") or []:
            extra = {"network_id": network.id} if network is not None else {}
            subnet = resolve(
                param, what="subnets", get=net.get_subnet, query=net.subnets, extra=extra
            )
            if network is None:
                network = net.get_network(subnet.network_id)
            subnets.append(subnet)
    except FilterMatchError as exc:
        raise NetworkError("NetworkNotFound", str(exc)) from exc
    if network is None:
        raise NetworkError("NetworkNotFound", "no managedSubnets, network or subnets given")
    if not subnets:
        subnets = sorted(net.subnets(network_id=network.id), key=lambda s: s.name or s.id)
    if not subnets:
        raise NetworkError("NetworkNotFound", f"network {network.id} has no subnets")
    status = _status_of(network)
    status["subnets"] = [_subnet_status(s) for s in subnets]
    return status


def router(
    scope: Scope,
    cluster: ClusterRef,
    spec: Mapping[str, Any],
    *,
    network: Mapping[str, Any],
    external: Mapping[str, Any],
    tags: list[str],
) -> dict[str, Any]:
    """The router to the external network: ``spec.router`` (user's) or our managed one,
    with the external gateway set by an update (as CAPO) and one interface per subnet."""
    net = scope.networking
    name = cluster.managed_name
    try:
        if spec.get("router"):
            found = resolve(spec["router"], what="routers", get=net.get_router, query=net.routers)
        else:
            found = net.create_router(name, description=cluster.description)
            set_tags(scope, found, tags, request="router_tag_replace")
            gateway: dict[str, Any] = {"network_id": external["id"]}
            fixed = _external_fixed_ips(scope, spec)
            if fixed:
                gateway["external_fixed_ips"] = fixed
            current = found.external_gateway_info or {}
            if current.get("network_id") != external["id"] or (
                fixed and current.get("external_fixed_ips") != fixed
            ):
                found = net.update_router(found.id, external_gateway_info=gateway)
        for subnet in network.get("subnets") or []:
            net.add_router_interface(found.id, subnet["id"])
    except FilterMatchError as exc:
        raise NetworkError("RouterNotFound", str(exc), condition="RouterReady") from exc
    except Osk8sError as exc:
        raise NetworkError(
            "RouterCreateFailed",
            f"router {name}: {exc}",
            condition="RouterReady",
            event="FailedCreateRouter",
        ) from exc
    status = _status_of(found)
    ips = [
        ip["ip_address"]
        for ip in (found.external_gateway_info or {}).get("external_fixed_ips") or []
        if ip.get("ip_address")
    ]
    if ips:
        status["ips"] = ips
    if tags and not spec.get("router"):
        status["tags"] = tags
    return status


def _external_fixed_ips(scope: Scope, spec: Mapping[str, Any]) -> list[dict[str, str]]:
    out = []
    for item in (spec.get("managedRouter") or {}).get("externalIPs") or []:
        entry: dict[str, str] = {}
        if item.get("fixedIP"):
            entry["ip_address"] = item["fixedIP"]
        if item.get("subnet"):
            subnet = resolve(
                item["subnet"],
                what="external subnets",
                get=scope.networking.get_subnet,
                query=scope.networking.subnets,
            )
            entry["subnet_id"] = subnet.id
        out.append(entry)
    return out


def router_status_only(scope: Scope, spec: Mapping[str, Any]) -> dict[str, Any]:
    """An existing network with ``spec.router``: resolved for status only (never changed)."""
    try:
        found = resolve(
            spec["router"],
            what="routers",
            get=scope.networking.get_router,
            query=scope.networking.routers,
        )
    except FilterMatchError as exc:
        raise NetworkError("RouterNotFound", str(exc), condition="RouterReady") from exc
    return _status_of(found)
