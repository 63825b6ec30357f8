"""Neutron ports: create (idempotent by name in a network), get, find, list, update, tags,
delete.

Labels as CPO: ``port_create``, ``port_get``, ``port_list``, ``port_update``,
``port_delete``, ``port_tag_add``, ``port_tag_delete``. Ports are what CCM reads node
addresses from and what CAPO makes for machines; this module holds no such policy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from osk8s_core.openstack.filters import TagFilter, named
from osk8s_core.openstack.idempotency import create_once, single

if TYPE_CHECKING:
    from openstack.connection import Connection
    from openstack.network.v2._proxy import Proxy as NetworkApi
    from openstack.network.v2.port import Port

    from osk8s_core.openstack.client import OpenStackClient


class Ports:
    """Neutron ports visible to the client's project."""

    def __init__(self, client: OpenStackClient[Connection]) -> None:
        self._client = client

    @property
    def _api(self) -> NetworkApi:
        return cast("NetworkApi", self._client.service("network"))

    def get(self, port_id: str) -> Port:
        return self._client.call("port_get", self._api.get_port, port_id)

    def query(self, *, tags: TagFilter | None = None, **filters: Any) -> list[Port]:
        """Ports by Neutron filters (``device_id``, ``network_id``, ``fixed_ips``...)."""
        query = {**filters, **(tags.query() if tags is not None else {})}
        return self._client.call("port_list", lambda: list(self._api.ports(**query)))

    def find(self, network_id: str, name: str) -> Port | None:
        """The port named ``name`` in the network; AmbiguousMatch if there are several."""
        found = named(self.query(network_id=network_id, name=name), name)
        return single(found, what=f"ports named {name!r} in network {network_id}")

    def create(self, network_id: str, name: str, **attrs: Any) -> Port:
        """A port in ``network_id`` (``fixed_ips``, ``security_groups``, ``device_id``... in
        ``attrs``). Idempotent by name within the network: an existing port of that name is
        returned as is, and a lost create answer is resolved by looking the name up again.
        """
        return create_once(
            find=lambda: self.find(network_id, name),
            create=lambda: self._client.call(
                "port_create",
                self._api.create_port,
                idempotent=False,
                network_id=network_id,
                name=name,
                **attrs,
            ),
        )

    def update(self, port_id: str, **attrs: Any) -> Port:
        """Set attributes (``allowed_address_pairs``, ``security_groups``...); the same
        values set twice leave the port as it was."""
        return self._client.call("port_update", lambda: self._api.update_port(port_id, **attrs))

    def add_tag(self, port: Port, tag: str) -> None:
        """Add one tag (PUT of a single tag: a repeat is harmless)."""
        self._client.call("port_tag_add", self._api.add_tag, port, tag)

    def remove_tag(self, port: Port, tag: str) -> None:
        """Remove one tag; a tag the port does not carry is skipped (Neutron would say 404)."""
        if tag in (port.tags or []):
            self._client.call("port_tag_delete", self._api.remove_tag, port, tag)

    def delete(self, port_id: str) -> None:
        """Delete; a port already gone is success."""
        self._client.call(
            "port_delete", lambda: self._api.delete_port(port_id, ignore_missing=True)
        )
