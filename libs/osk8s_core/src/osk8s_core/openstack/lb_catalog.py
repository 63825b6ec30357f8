"""Octavia's catalog of what a load balancer can be made with: the enabled provider drivers
and the operator's flavors. Read-only; both lists are short and change only when the
operator reconfigures Octavia, so callers look them up just before a create.

Labels: ``loadbalancer_provider_list``, ``loadbalancer_flavor_list``. No choice of provider or
flavor is made here (CAPO's "not found: warn and use the default" lives in the service).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from openstack.connection import Connection
    from openstack.load_balancer.v2._proxy import Proxy as LoadBalancerApi

    from osk8s_core.openstack.client import OpenStackClient


@dataclass(frozen=True)
class LbFlavor:
    """An Octavia flavor as a create needs it: found by name, used by ID, only if enabled."""

    id: str
    name: str
    enabled: bool


class LoadBalancerCatalog:
    """Providers and flavors visible to the client's project."""

    def __init__(self, client: OpenStackClient[Connection]) -> None:
        self._client = client

    @property
    def _api(self) -> LoadBalancerApi:
        return cast("LoadBalancerApi", self._client.service("load_balancer"))

    def provider_names(self) -> list[str]:
        """Names of the enabled provider drivers (``GET /v2/lbaas/providers``)."""
        api = self._api
        found = self._client.call("loadbalancer_provider_list", lambda: list(api.providers()))
        return [str(p.name) for p in found if p.name]

    def flavors(self) -> list[LbFlavor]:
        """Every flavor, enabled or not (Octavia has no filter for both name and state)."""
        api = self._api
        found = self._client.call("loadbalancer_flavor_list", lambda: list(api.flavors()))
        return [
            LbFlavor(id=str(f.id), name=str(f.name or ""), enabled=bool(f.is_enabled))
            for f in found
        ]
