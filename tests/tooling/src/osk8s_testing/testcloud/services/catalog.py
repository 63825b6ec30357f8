"""The known services in start order, the named sets (``fast``, ``all``) and their expansion.

``expand`` adds what a selection requires (RabbitMQ, Keystone, Neutron for Octavia...) and
returns services in start order.
"""

from __future__ import annotations

from collections.abc import Iterable

from osk8s_testing.testcloud.services import (
    barbican,
    cinder,
    glance,
    infra,
    keystone,
    manila,
    mariadb,
    neutron,
    nova,
    octavia,
    placement,
)
from osk8s_testing.testcloud.services.base import Service

ORDER: tuple[Service, ...] = (
    infra.EPMD,
    infra.RABBITMQ,
    mariadb.SERVICE,
    keystone.SERVICE,
    barbican.SERVICE,
    placement.SERVICE,
    glance.SERVICE,
    neutron.SERVICE,
    octavia.SERVICE,
    cinder.SERVICE,
    manila.SERVICE,
    nova.SERVICE,
)
BY_NAME = {s.name: s for s in ORDER}
FAST = ("keystone", "barbican", "neutron", "octavia", "cinder")
ALL = (*FAST, "placement", "glance", "nova", "manila")
SETS = {"fast": FAST, "all": ALL}


class UnknownService(ValueError):
    pass


def expand(names: Iterable[str]) -> list[Service]:
    """Selected services plus everything they require, in start order."""
    wanted: set[str] = set()
    todo: list[str] = []
    for name in names:
        todo.extend(SETS.get(name, (name,)))
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        if name not in BY_NAME:
            raise UnknownService(f"unknown service {name!r}; known: {', '.join(BY_NAME)}")
        wanted.add(name)
        todo.extend(BY_NAME[name].requires)
    return [s for s in ORDER if s.name in wanted]
