"""Nova server groups: get, find by name, create (idempotent by name), delete.

Labels: ``server_group_get``, ``server_group_list``, ``server_group_create``,
``server_group_delete``. Nova has no name filter for server groups, so lookups list the
project's groups and match the name exactly; two groups of one name are an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from osk8s_core.openstack.filters import named
from osk8s_core.openstack.idempotency import create_once, single

if TYPE_CHECKING:
    from openstack.compute.v2._proxy import Proxy as ComputeApi
    from openstack.compute.v2.server_group import ServerGroup
    from openstack.connection import Connection

    from osk8s_core.openstack.client import OpenStackClient


class ServerGroups:
    """Nova server groups of the client's project."""

    def __init__(self, client: OpenStackClient[Connection]) -> None:
        self._client = client

    @property
    def _compute(self) -> ComputeApi:
        return cast("ComputeApi", self._client.service("compute"))

    def get(self, group_id: str) -> ServerGroup:
        return self._client.call("server_group_get", self._compute.get_server_group, group_id)

    def find(self, name: str) -> ServerGroup | None:
        """The group named exactly ``name``; AmbiguousMatch when several carry it."""
        compute = self._compute
        groups = self._client.call("server_group_list", lambda: list(compute.server_groups()))
        return single(named(groups, name), what=f"server groups named {name!r}")

    def create(self, name: str, *, policies: Sequence[str] = ("anti-affinity",)) -> ServerGroup:
        """Find by name, else create with ``policies`` (a lost answer is looked up again)."""
        return create_once(
            find=lambda: self.find(name),
            create=lambda: self._client.call(
                "server_group_create",
                self._compute.create_server_group,
                idempotent=False,
                name=name,
                policies=list(policies),
            ),
        )

    def delete(self, group_id: str) -> None:
        """Delete; a group already gone is success."""
        self._client.call(
            "server_group_delete",
            lambda: self._compute.delete_server_group(group_id, ignore_missing=True),
        )
