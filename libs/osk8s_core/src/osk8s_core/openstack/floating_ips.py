"""Neutron floating IPs: create (idempotent by description marker), find, list,
associate/disassociate, delete.

Labels as CPO: ``floating_ip_create``/``_list``/``_get``/``_update``/``_delete``. A floating
IP has no name, so CPO recognises the ones it made by their description (``Floating IP for
Kubernetes external service ...``): that text is the idempotency key here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from osk8s_core.openstack.idempotency import create_once, single

if TYPE_CHECKING:
    from openstack.connection import Connection
    from openstack.network.v2._proxy import Proxy as NetworkApi
    from openstack.network.v2.floating_ip import FloatingIP

    from osk8s_core.openstack.client import OpenStackClient


class FloatingIps:
    """Floating IPs of the client's project."""

    def __init__(self, client: OpenStackClient[Connection]) -> None:
        self._client = client

    @property
    def _api(self) -> NetworkApi:
        return cast("NetworkApi", self._client.service("network"))

    def get(self, fip_id: str) -> FloatingIP:
        return self._client.call("floating_ip_get", self._api.get_ip, fip_id)

    def query(self, **filters: Any) -> list[FloatingIP]:
        """Floating IPs by Neutron filters (``port_id``, ``floating_ip_address``...)."""
        return self._client.call("floating_ip_list", lambda: list(self._api.ips(**filters)))

    def find_by_description(self, network_id: str, description: str) -> FloatingIP | None:
        """The floating IP on ``network_id`` carrying exactly ``description``."""
        found = [
            fip
            for fip in self.query(floating_network_id=network_id, description=description)
            if fip.description == description
        ]
        return single(found, what=f"floating IPs described {description!r}")

    def on_port(self, port_id: str) -> FloatingIP | None:
        """The floating IP associated with ``port_id``, if any."""
        return single(self.query(port_id=port_id), what=f"floating IPs on port {port_id}")

    def create(
        self,
        network_id: str,
        *,
        description: str,
        port_id: str | None = None,
        subnet_id: str | None = None,
        address: str | None = None,
    ) -> FloatingIP:
        """Allocate on ``network_id`` (``subnet_id``/``address`` pick where), associated to
        ``port_id`` when given. Idempotent by ``description``: a floating IP with that exact
        description on that network is returned (re-associated to ``port_id`` if it points
        elsewhere), and a lost create answer is resolved by looking it up again. Callers must
        make the description unique per owner (CPO: per Service and cluster).
        """
        attrs: dict[str, Any] = {"floating_network_id": network_id, "description": description}
        optional = {"port_id": port_id, "subnet_id": subnet_id, "floating_ip_address": address}
        attrs.update({k: v for k, v in optional.items() if v is not None})
        fip = create_once(
            find=lambda: self.find_by_description(network_id, description),
            create=lambda: self._client.call(
                "floating_ip_create", self._api.create_ip, idempotent=False, **attrs
            ),
        )
        if port_id is not None and fip.port_id != port_id:
            fip = self.associate(fip.id, port_id)
        return fip

    def associate(self, fip_id: str, port_id: str, *, fixed_ip: str | None = None) -> FloatingIP:
        """Point the floating IP at ``port_id`` (``fixed_ip`` picks among its addresses)."""
        attrs: dict[str, Any] = {"port_id": port_id}
        if fixed_ip is not None:
            attrs["fixed_ip_address"] = fixed_ip
        return self._client.call("floating_ip_update", lambda: self._api.update_ip(fip_id, **attrs))

    def update(self, fip_id: str, **attrs: Any) -> FloatingIP:
        """Set other attributes (``description``...)."""
        return self._client.call("floating_ip_update", lambda: self._api.update_ip(fip_id, **attrs))

    def disassociate(self, fip_id: str) -> FloatingIP:
        """Detach from its port; a floating IP on no port stays as it is."""
        return self._client.call(
            "floating_ip_update", lambda: self._api.update_ip(fip_id, port_id=None)
        )

    def delete(self, fip_id: str) -> None:
        """Release; a floating IP already released is success."""
        self._client.call(
            "floating_ip_delete", lambda: self._api.delete_ip(fip_id, ignore_missing=True)
        )
