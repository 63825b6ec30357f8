"""Lookups that keep creates idempotent whatever the cloud's filter policy.

``NameFilter`` lists by exact name (falling back to client-side filtering when Cinder's
resource_filters.json refuses the ``name`` filter). Creates after a lookup use the core's
``idempotency.create_after_lookup``. No CSI rules here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from osk8s_core import errors

if TYPE_CHECKING:
    from openstack.connection import Connection

    from osk8s_core.openstack.client import OpenStackClient


class NameFilter:
    """Lists resources named exactly ``name``. Cinder filters by name server-side unless the
    operator's resource_filters.json omits ``name`` (HTTP 400 "Invalid filters"): then all are
    listed and filtered here, and that is remembered, so idempotency does not depend on the
    cloud's filter policy and the rejected query is not repeated on every lookup."""

    def __init__(self) -> None:
        self.server_side = True

    def __call__(
        self, client: OpenStackClient[Connection], label: str, lister: Any, name: str
    ) -> list[Any]:
        if self.server_side:
            try:
                found = client.call(label, lambda: list(lister(name=name)))
            except errors.BadRequest:
                self.server_side = False
                found = client.call(label, lambda: list(lister()))
        else:
            found = client.call(label, lambda: list(lister()))
        return [item for item in found if item.name == name]
