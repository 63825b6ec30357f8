"""Which Neutron ports of the Kubernetes nodes' servers carry an Ingress's managed group.

The group belongs on every port of a load balancer member's server and on no port of another
Kubernetes node's server. Ports of servers that are not Kubernetes nodes are never read, so
never written; only the one group is added or removed, the port's other groups stay. Each
write is a compare-and-swap on the port's ``revision_number`` (Neutron's ``If-Match``): a
concurrent change of the port's groups (another Ingress, the CCM's Service groups, an
operator) makes it 412, and the port is read again instead of losing that change. A port
already right is not written, so a pass over converged ports makes no write. One port that
cannot be written (a permanent 409, a 403, a 5xx after the client's retries) does not stop
the others: they are all tried, then ``PortsNotConverged`` names what failed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from osk8s_core import errors
from osk8s_octavia_ingress.desired import eligible_nodes, node_address

# The providerID forms OCCM reads (``openstack:///<id>``, and ``openstack://<region>/<id>``
# written by a regional CCM and by CAPO when ``identityRef.region`` is set). The CCM's parser
# lives in that service (services never import each other) and there is no core helper, so
# the same pattern is kept here; the region is not checked: a node of another region has no
# port in this cloud, so its id finds nothing.
_PROVIDER_ID: Final = re.compile(r"^openstack://([^/]*)/([^/]+)$")
PRECONDITION_FAILED: Final = 412
"""Neutron's answer to a stale ``If-Match`` revision; a 409 is a refusal, not a race."""
DEVICE_IDS_PER_LIST: Final = 40
"""Server ids in one ``port_list`` (repeated ``device_id`` filters): ~1.7 KB of query."""
GUARDED_TRIES: Final = 5
"""Tries of one port's read-modify-write that keeps losing races to other writers."""


def server_id(node: Mapping[str, Any]) -> str | None:
    """The Nova server id of a node's ``providerID`` (``openstack:///<id>`` or
    ``openstack://<region>/<id>``); None for any other form."""
    provider = str((node.get("spec") or {}).get("providerID") or "")
    match = _PROVIDER_ID.match(provider)
    return match.group(2) if match else None


class PortsNotConverged(errors.OpenStackError):
    """Some ports could not be given (or relieved of) the group; every other port was.
    ``writes`` is the number of writes that landed, ``failures`` each port id and error."""

    def __init__(
        self, group_id: str, failures: Sequence[tuple[str, errors.OpenStackError]], writes: int
    ) -> None:
        port_id, first = failures[0]
        super().__init__(
            f"security group {group_id}: {len(failures)} port(s) not updated; "
            f"port {port_id}: {first}",
            status=first.status,
            request=first.request,
            request_id=first.request_id,
        )
        self.failures = list(failures)
        self.writes = writes


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
        self._failed: errors.OpenStackError | None = None

    def __iter__(self) -> Iterator[Any]:
        if self._failed is not None:
            # The list failed after the client's retries: each later Ingress of this sync
            # gets the same error at once instead of listing (and retrying) again.
            raise self._failed
        if self._ports is None:
            try:
                self._ports = {str(p.id): p for p in self._load()}
            except errors.OpenStackError as exc:
                self._failed = exc
                raise
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
        port writes made (0 when every port was already right). PortsNotConverged after
        trying every port when some could not be written."""

        def wanted(port: Any) -> bool:
            return str(port.device_id) in servers.members

        todo = [p for p in ports if _can_carry(p) and _carries(p, group_id) != wanted(p)]
        return self._apply(group_id, todo, ports, wanted)

    def remove(self, group_id: str, ports: Iterable[Any]) -> int:
        """The group off each of ``ports`` (guarded as every write here); the number of
        writes. PortsNotConverged after trying every port when some could not be written."""
        return self._apply(group_id, list(ports), None, lambda _: False)

    def _apply(
        self,
        group_id: str,
        todo: list[Any],
        cache: NodePorts | None,
        present: Callable[[Any], bool],
    ) -> int:
        writes = 0
        failures: list[tuple[str, errors.OpenStackError]] = []
        for port in todo:
            try:
                updated, wrote = self._set(port, group_id, present=present(port))
            except errors.OpenStackError as exc:
                failures.append((str(port.id), exc))
                continue
            writes += wrote
            if cache is None:
                continue
            if updated is None:
                cache.drop(str(port.id))
            else:
                cache.replace(updated)
        if failures:
            raise PortsNotConverged(group_id, failures, writes)
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
                # Neutron says 404 for a port that went (with its server) and for a named
                # group that no longer exists (just deleted): only the first is "gone".
                if self._gone(str(port.id)):
                    return None, False
                raise
            except errors.Conflict as exc:
                # Only 412 is a stale revision; a 409 is a refusal that a retry repeats.
                if exc.status != PRECONDITION_FAILED or attempt == GUARDED_TRIES - 1:
                    raise
            try:
                port = self._ports.get(str(port.id))
            except errors.NotFound:
                return None, False
        raise AssertionError("unreachable")  # pragma: no cover

    def _gone(self, port_id: str) -> bool:
        try:
            self._ports.get(port_id)
        except errors.NotFound:
            return True
        return False


def _carries(port: Any, group_id: str) -> bool:
    return group_id in (port.security_group_ids or [])


def _can_carry(port: Any) -> bool:
    """Whether the group belongs on the port at all. Not without port security: Neutron
    refuses any group there (409 "Port security must be enabled and port must have an IP
    address"). Not without an IP address (a node's L2-only second port): no load balancer
    traffic reaches it, and Neutrons before the ML2 check was relaxed refuse it with that
    same 409 (the test cloud's accepts it). Such a port is never written."""
    return port.is_port_security_enabled is not False and bool(port.fixed_ips)
