"""Which Neutron ports of the Kubernetes nodes' servers carry an Ingress's managed group.

The group belongs on every port of a load balancer member's server and on no port of another
Kubernetes node's server. Ports of servers that are not Kubernetes nodes are never read, so
never written; only the one group is added or removed, the port's other groups stay. Each
write is a compare-and-swap on the port's ``revision_number`` (Neutron's ``If-Match``): a
concurrent change of the port's groups (another Ingress, the CCM's Service groups, an
operator) makes it 412, and the port is read again instead of losing that change. A port
already right is not written, so a pass over converged ports makes no write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from osk8s_core import errors
from osk8s_octavia_ingress.desired import eligible_nodes, node_address

_PROVIDER_PREFIX: Final = "openstack:///"
DEVICE_IDS_PER_LIST: Final = 40
"""Server ids in one ``port_list`` (repeated ``device_id`` filters): ~1.7 KB of query."""
GUARDED_TRIES: Final = 5
"""Tries of one port's read-modify-write that keeps losing races to other writers."""


def server_id(node: Mapping[str, Any]) -> str | None:
    """The Nova server id of a node's ``providerID`` (``openstack:///<id>``, with or without
    a region segment)."""
    provider = str((node.get("spec") or {}).get("providerID") or "")
    if not provider.startswith(_PROVIDER_PREFIX):
        return None
    return provider.removeprefix(_PROVIDER_PREFIX).rsplit("/", 1)[-1] or None


@dataclass(frozen=True)
class NodeServers:
    """The servers behind the Kubernetes nodes: every node's, and the load balancer
    members' (ready, schedulable, not excluded, with an address: the pools' member set)."""

    all: frozenset[str]
    members: frozenset[str]

    @classmethod
    def of(cls, nodes: Sequence[Mapping[str, Any]]) -> NodeServers:
        members = [n for n in eligible_nodes(nodes) if node_address(n) is not None]
        return cls(
            all=frozenset(s for s in map(server_id, nodes) if s),
            members=frozenset(s for s in map(server_id, members) if s),
        )


class PortStore(Protocol):
    """What this module needs of the core's ``Ports``."""

    def query(self, **filters: Any) -> list[Any]: ...

    def get(self, port_id: str) -> Any: ...

    def update(self, port_id: str, **attrs: Any) -> Any: ...


class NodePorts:
    """The ports of the nodes' servers, read once (on first use) for a whole node sync and
    kept current as it writes them, so each Ingress's change starts from the last one's."""

    def __init__(self, load: Callable[[], Iterable[Any]]) -> None:
        self._load = load
        self._ports: dict[str, Any] | None = None

    def __iter__(self) -> Iterator[Any]:
        if self._ports is None:
            self._ports = {str(p.id): p for p in self._load()}
        return iter([self._ports[key] for key in sorted(self._ports)])

    def replace(self, port: Any) -> None:
        if self._ports is not None:
            self._ports[str(port.id)] = port

    def drop(self, port_id: str) -> None:
        if self._ports is not None:
            self._ports.pop(port_id, None)


class PortGroups:
    """Puts one security group on the member servers' ports and takes it off the others'."""

    def __init__(self, ports: PortStore) -> None:
        self._ports = ports

    def node_ports(self, servers: NodeServers) -> NodePorts:
        """The ports of every node's server (members and not), lazily: one ``port_list``
        per ``DEVICE_IDS_PER_LIST`` servers when first iterated."""

        def load() -> list[Any]:
            ids = sorted(servers.all)
            found: list[Any] = []
            for start in range(0, len(ids), DEVICE_IDS_PER_LIST):
                found += self._ports.query(device_id=ids[start : start + DEVICE_IDS_PER_LIST])
            # Checked again here: a port of any other device is never a candidate.
            return [p for p in found if str(p.device_id or "") in servers.all]

        return NodePorts(load)

    def converge(self, group_id: str, servers: NodeServers, ports: NodePorts) -> int:
        """The group on the members' ports and off the other nodes' ports; the number of
        port writes made (0 when every port was already right)."""
        writes = 0
        for port in list(ports):
            wanted = str(port.device_id) in servers.members
            if port.is_port_security_enabled is False:
                continue  # Neutron refuses any group on such a port; it filters nothing
            if _carries(port, group_id) == wanted:
                continue
            updated, wrote = self._set(port, group_id, present=wanted)
            if updated is None:
                ports.drop(str(port.id))
                continue
            ports.replace(updated)
            writes += wrote
        return writes

    def _set(self, port: Any, group_id: str, *, present: bool) -> tuple[Any | None, bool]:
        """Add or remove ``group_id`` on one port, guarded by its revision: (the port as it
        now is or None when it is gone, whether a write landed)."""
        for attempt in range(GUARDED_TRIES):
            if _carries(port, group_id) == present:
                return port, False
            current = list(port.security_group_ids or [])
            groups = [*current, group_id] if present else [g for g in current if g != group_id]
            revision = getattr(port, "revision_number", None)
            try:
                updated = self._ports.update(
                    str(port.id),
                    security_groups=groups,
                    if_revision=revision if isinstance(revision, int) else None,
                )
                return updated, True
            except errors.NotFound:
                return None, False  # the port went (with its server)
            except errors.Conflict:
                if attempt == GUARDED_TRIES - 1:
                    raise
            try:
                port = self._ports.get(str(port.id))
            except errors.NotFound:
                return None, False
        raise AssertionError("unreachable")  # pragma: no cover


def _carries(port: Any, group_id: str) -> bool:
    return group_id in (port.security_group_ids or [])
