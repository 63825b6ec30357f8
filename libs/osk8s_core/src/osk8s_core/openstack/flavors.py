"""Nova flavors: get by id and list, with a per-process cache (flavors are immutable).

Labels as CPO: ``flavor_get``, ``flavor_list``. A flavor's name and id never change once it
exists (Nova has no flavor update for either), so a flavor seen once is kept; CCM asks for
the instance type of every node on every sync, CAPO resolves a machine's flavor per create.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from openstack.compute.v2._proxy import Proxy as ComputeApi
    from openstack.compute.v2.flavor import Flavor
    from openstack.connection import Connection

    from osk8s_core.openstack.client import OpenStackClient


class Flavors:
    """Nova flavors visible to the client's project, cached by id once fetched."""

    def __init__(self, client: OpenStackClient[Connection]) -> None:
        self._client = client
        self._by_id: dict[str, Flavor] = {}

    @property
    def _compute(self) -> ComputeApi:
        return cast("ComputeApi", self._client.service("compute"))

    def get(self, flavor_id: str) -> Flavor:
        """The flavor (cached); NotFound when there is no such flavor."""
        cached = self._by_id.get(flavor_id)
        if cached is not None:
            return cached
        flavor = self._client.call("flavor_get", self._compute.get_flavor, flavor_id)
        self._by_id[flavor_id] = flavor
        return flavor

    def list(self) -> list[Flavor]:
        """Every flavor (public and the project's), refreshing the cache."""
        compute = self._compute
        found = self._client.call("flavor_list", lambda: list(compute.flavors(details=True)))
        self._by_id.update({str(f.id): f for f in found})
        return found

    def cached(self, flavor_id: str) -> Flavor | None:
        """The flavor if it was seen already; no API call."""
        return self._by_id.get(flavor_id)
