"""Lookups that keep creates idempotent whatever the cloud's filter policy.

``NameFilter`` lists by exact name (falling back to client-side filtering when Cinder's
resource_filters.json refuses the ``name`` filter); ``create_looked_up`` creates after the
caller's lookup and looks again only when the outcome is unknown. No CSI rules here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from osk8s_core import errors
from osk8s_core.openstack.idempotency import outcome_unknown

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


T = TypeVar("T")


def create_looked_up(
    *, find: Callable[[], T | None], create: Callable[[], T], check: Callable[[T], T]
) -> T:
    """Create after the caller already looked the name up (the controller does, under its
    in-flight lock); look again only when the create's outcome is unknown, so a lost answer
    never makes a duplicate and the happy path makes no second lookup."""
    try:
        return create()
    except errors.OpenStackError as exc:
        if not outcome_unknown(exc):
            raise
        landed = find()
        if landed is None:
            raise
        return check(landed)
