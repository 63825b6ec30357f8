"""Neutron trunks: find by parent port, create (idempotent by parent port), delete.

Labels: ``trunk_list``, ``trunk_create``, ``trunk_delete``. A port is the parent of at most
one trunk (Neutron's rule), so the parent port is the identity: a repeated create after a lost
answer finds the trunk made before. CAPO names a trunk after its parent port.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from osk8s_core.openstack.idempotency import create_once, single

if TYPE_CHECKING:
    from openstack.connection import Connection
    from openstack.network.v2._proxy import Proxy as NetworkApi
    from openstack.network.v2.trunk import Trunk

    from osk8s_core.openstack.client import OpenStackClient


class Trunks:
    def __init__(self, client: OpenStackClient[Connection]) -> None:
        self._client = client

    @property
    def _api(self) -> NetworkApi:
        return cast("NetworkApi", self._client.service("network"))

    def of_port(self, port_id: str) -> Trunk | None:
        """The trunk whose parent is ``port_id``, if any."""
        found = self._client.call("trunk_list", lambda: list(self._api.trunks(port_id=port_id)))
        return single(found, what=f"trunks of port {port_id}")

    def create(self, port_id: str, name: str, **attrs: Any) -> Trunk:
        return create_once(
            find=lambda: self.of_port(port_id),
            create=lambda: self._client.call(
                "trunk_create",
                self._api.create_trunk,
                idempotent=False,
                port_id=port_id,
                name=name,
                **attrs,
            ),
        )

    def delete(self, trunk_id: str) -> None:
        """Delete; a trunk already gone is success."""
        self._client.call(
            "trunk_delete", lambda: self._api.delete_trunk(trunk_id, ignore_missing=True)
        )
