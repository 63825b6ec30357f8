"""The OpenStack side of an OpenStackServer: the core's resource modules over one client.

``ServerCloud`` bundles Nova servers/flavors/server groups, Neutron ports/networks/security
groups, Cinder volumes and Glance images built on the scope's instrumented client (metrics,
retries, crash points), and answers the lookups of ``server_resolve``. No policy here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from osk8s_capo.server_resolve import ResolveError
from osk8s_core import errors
from osk8s_core.openstack.flavors import Flavors
from osk8s_core.openstack.images import Images
from osk8s_core.openstack.networking import Networking
from osk8s_core.openstack.ports import Ports
from osk8s_core.openstack.security_groups import SecurityGroups
from osk8s_core.openstack.server_groups import ServerGroups
from osk8s_core.openstack.servers import Servers
from osk8s_core.openstack.trunks import Trunks
from osk8s_core.openstack.volumes import Volumes
from osk8s_core.openstack.waiting import Waiter

if TYPE_CHECKING:
    from openstack.connection import Connection

    from osk8s_core.openstack.client import OpenStackClient


@dataclass(frozen=True)
class ServerCloud:
    servers: Servers
    flavors: Flavors
    server_groups: ServerGroups
    ports: Ports
    networking: Networking
    security_groups: SecurityGroups
    volumes: Volumes
    images: Images
    trunks: Trunks

    @classmethod
    def over(
        cls, client: OpenStackClient[Connection], *, waiter: Waiter | None = None
    ) -> ServerCloud:
        return cls(
            servers=Servers(client, waiter=waiter),
            flavors=Flavors(client),
            server_groups=ServerGroups(client),
            ports=Ports(client),
            networking=Networking(client),
            security_groups=SecurityGroups(client),
            volumes=Volumes(client, waiter=waiter),
            images=Images(client),
            trunks=Trunks(client),
        )

    # -- server_resolve.Lookups ---------------------------------------------------------------

    def flavor_id_by_name(self, name: str) -> str:
        found = [f for f in self.flavors.list() if f.name == name]
        if len(found) != 1:
            raise ResolveError(f"{len(found) or 'no'} flavors named {name!r}, expected one")
        return str(found[0].id)

    def image_id_by_filter(self, name: str, tags: Sequence[str]) -> str:
        try:
            return str(self.images.find_one(name=name, tags=tags).id)
        except (errors.NotFound, errors.AmbiguousMatch) as exc:
            raise ResolveError(str(exc)) from exc

    def server_group_id_by_name(self, name: str) -> str:
        try:
            group = self.server_groups.find(name)
        except errors.AmbiguousMatch as exc:
            raise ResolveError(str(exc)) from exc
        if group is None:
            raise ResolveError(f"no server group named {name!r}")
        return str(group.id)

    def network_ids(self, query: Mapping[str, Any]) -> list[str]:
        return [str(n.id) for n in self.networking.networks(**query)]

    def subnet_ids(self, query: Mapping[str, Any]) -> list[str]:
        return [str(s.id) for s in self.networking.subnets(**query)]

    def security_group_ids(self, query: Mapping[str, Any]) -> list[str]:
        return [str(g.id) for g in self.security_groups.query(**query)]
