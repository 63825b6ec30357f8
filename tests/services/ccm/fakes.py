"""A small in-memory ``CloudLookup`` that counts what it is asked (for the pure-logic tests)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from osk8s_ccm.cloud_view import PortInfo, ServerInfo
from osk8s_core import errors


class FakeLookup:
    def __init__(
        self,
        servers: Sequence[ServerInfo] = (),
        ports: Sequence[PortInfo] = (),
        networks: dict[str, str] | None = None,
        flavors: dict[str, str] | None = None,
    ) -> None:
        self.servers = {s.id: s for s in servers}
        self.ports = list(ports)
        self.networks = networks or {}
        self.flavors = flavors or {}
        self.asked: Counter[str] = Counter()

    def server(self, server_id: str) -> ServerInfo:
        self.asked["server"] += 1
        if server_id not in self.servers:
            raise errors.NotFound(f"server {server_id}")
        return self.servers[server_id]

    def servers_named(self, name: str) -> Sequence[ServerInfo]:
        self.asked["servers_named"] += 1
        return [s for s in self.servers.values() if s.name == name]

    def server_ports(self, server_id: str) -> Sequence[PortInfo]:
        self.asked["server_ports"] += 1
        return [p for p in self.ports if p.device_id == server_id]

    def port(self, port_id: str) -> PortInfo:
        self.asked["port"] += 1
        return next(p for p in self.ports if p.id == port_id)

    def network_name(self, network_id: str) -> str:
        self.asked["network_name"] += 1
        return self.networks[network_id]

    def flavor_name(self, flavor_id: str) -> str:
        self.asked["flavor_name"] += 1
        return self.flavors[flavor_id]
