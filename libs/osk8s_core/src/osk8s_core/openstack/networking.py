"""Neutron networks, subnets, routers and extensions (ports, floating IPs and security groups
have their own modules).

Labels as CPO: ``network_list``/``_get``/``_create``/``_delete``, ``subnet_*``, ``router_*``,
``network_extension_list``. Creates are idempotent by name (CAPO's networks, subnets and
routers are named per cluster); a router interface is added only when no port of the router
is on that subnet yet. Thin layer: which network a cluster uses is the caller's decision.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from osk8s_core import errors
from osk8s_core.openstack.filters import TagFilter, named
from osk8s_core.openstack.idempotency import create_once, single

if TYPE_CHECKING:
    from openstack.connection import Connection
    from openstack.network.v2._proxy import Proxy as NetworkApi
    from openstack.network.v2.network import Network
    from openstack.network.v2.router import Router
    from openstack.network.v2.subnet import Subnet

    from osk8s_core.openstack.client import OpenStackClient


def _query(filters: dict[str, Any], tags: TagFilter | None) -> dict[str, Any]:
    return {**filters, **(tags.query() if tags is not None else {})}


def route_entries(routes: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """Neutron's ``routes`` body from (destination CIDR, nexthop) pairs."""
    return [{"destination": dest, "nexthop": hop} for dest, hop in routes]


class Networking:
    """Neutron networks, subnets and routers visible to the client's project."""

    def __init__(self, client: OpenStackClient[Connection]) -> None:
        self._client = client

    @property
    def _api(self) -> NetworkApi:
        return cast("NetworkApi", self._client.service("network"))

    def extensions(self) -> set[str]:
        """Aliases of the enabled Neutron extensions (``extraroute-atomic``, ``tag``...)."""
        return self._client.call(
            "network_extension_list", lambda: {ext.alias for ext in self._api.extensions()}
        )

    # Networks

    def networks(self, *, tags: TagFilter | None = None, **filters: Any) -> list[Network]:
        query = _query(filters, tags)
        return self._client.call("network_list", lambda: list(self._api.networks(**query)))

    def get_network(self, network_id: str) -> Network:
        return self._client.call("network_get", self._api.get_network, network_id)

    def find_network(self, name: str) -> Network | None:
        return single(named(self.networks(name=name), name), what=f"networks named {name!r}")

    def create_network(self, name: str, **attrs: Any) -> Network:
        """Idempotent by name: an existing network of that name is returned as is."""
        return create_once(
            find=lambda: self.find_network(name),
            create=lambda: self._client.call(
                "network_create", self._api.create_network, idempotent=False, name=name, **attrs
            ),
        )

    def delete_network(self, network_id: str) -> None:
        self._client.call(
            "network_delete", lambda: self._api.delete_network(network_id, ignore_missing=True)
        )

    # Subnets

    def subnets(self, *, tags: TagFilter | None = None, **filters: Any) -> list[Subnet]:
        """Subnets by Neutron filters and a CPO tag spec (``floating-subnet-tags``)."""
        query = _query(filters, tags)
        return self._client.call("subnet_list", lambda: list(self._api.subnets(**query)))

    def get_subnet(self, subnet_id: str) -> Subnet:
        return self._client.call("subnet_get", self._api.get_subnet, subnet_id)

    def find_subnet(self, network_id: str, name: str) -> Subnet | None:
        found = named(self.subnets(network_id=network_id, name=name), name)
        return single(found, what=f"subnets named {name!r} in network {network_id}")

    def create_subnet(
        self, network_id: str, name: str, *, cidr: str, ip_version: int = 4, **attrs: Any
    ) -> Subnet:
        """Idempotent by name within the network; an existing one is returned as is."""
        return create_once(
            find=lambda: self.find_subnet(network_id, name),
            create=lambda: self._client.call(
                "subnet_create",
                self._api.create_subnet,
                idempotent=False,
                network_id=network_id,
                name=name,
                cidr=cidr,
                ip_version=ip_version,
                **attrs,
            ),
        )

    def delete_subnet(self, subnet_id: str) -> None:
        self._client.call(
            "subnet_delete", lambda: self._api.delete_subnet(subnet_id, ignore_missing=True)
        )

    # Routers

    def routers(self, **filters: Any) -> list[Router]:
        return self._client.call("router_list", lambda: list(self._api.routers(**filters)))

    def get_router(self, router_id: str) -> Router:
        return self._client.call("router_get", self._api.get_router, router_id)

    def find_router(self, name: str) -> Router | None:
        return single(named(self.routers(name=name), name), what=f"routers named {name!r}")

    def create_router(self, name: str, **attrs: Any) -> Router:
        """Idempotent by name; ``external_gateway_info`` etc. go in ``attrs``."""
        return create_once(
            find=lambda: self.find_router(name),
            create=lambda: self._client.call(
                "router_create", self._api.create_router, idempotent=False, name=name, **attrs
            ),
        )

    def update_router(self, router_id: str, **attrs: Any) -> Router:
        return self._client.call(
            "router_update", lambda: self._api.update_router(router_id, **attrs)
        )

    def add_router_interface(self, router_id: str, subnet_id: str) -> None:
        """Plug the subnet into the router unless a router port is on it already (Neutron
        answers 400 to a second interface on the same subnet, so look first)."""
        ports = self._client.call("port_list", lambda: list(self._api.ports(device_id=router_id)))
        if any(ip.get("subnet_id") == subnet_id for p in ports for ip in p.fixed_ips or []):
            return
        self._client.call(
            "router_update",
            lambda: self._api.add_interface_to_router(router_id, subnet=subnet_id),
            idempotent=False,
        )

    def remove_router_interface(self, router_id: str, subnet_id: str) -> None:
        """Unplug; a subnet that is not plugged (any more) is success."""
        try:
            self._client.call(
                "router_update",
                lambda: self._api.remove_interface_from_router(router_id, subnet=subnet_id),
            )
        except errors.NotFound:
            return

    def add_routes(self, router_id: str, routes: Iterable[tuple[str, str]]) -> Router:
        """Add (destination, nexthop) routes atomically (``extraroute-atomic``); routes that
        are there already are kept once, so a repeat is harmless (matches CPO's route
        controller)."""
        body = {"router": {"routes": route_entries(routes)}}
        return self._client.call(
            "router_update", lambda: self._api.add_extra_routes_to_router(router_id, body)
        )

    def remove_routes(self, router_id: str, routes: Iterable[tuple[str, str]]) -> Router:
        """Remove routes atomically; absent routes are ignored by Neutron."""
        body = {"router": {"routes": route_entries(routes)}}
        return self._client.call(
            "router_update", lambda: self._api.remove_extra_routes_from_router(router_id, body)
        )

    def delete_router(self, router_id: str) -> None:
        self._client.call(
            "router_delete", lambda: self._api.delete_router(router_id, ignore_missing=True)
        )
