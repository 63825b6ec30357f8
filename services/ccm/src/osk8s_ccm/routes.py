"""Pod network routes on the cluster's Neutron router (CPO's route controller, §1.5).

One ``RouteReconciler.reconcile`` pass reads the router once, computes a ``RoutePlan`` with
the pure ``plan_routes`` and changes the router with ONE update per direction: one
``add_extraroutes`` and one ``remove_extraroutes`` call with ``extraroute-atomic``, or one
guarded read-modify-write of ``routes`` with plain ``extraroute`` (``If-Match`` on the
router's revision; a 409/412 re-reads and retries). CPO updates per node (CPO #2089).

Before routes are added, each target node's port (the port on a router network that holds the
next hop) gets the pod CIDR as an allowed address pair when the ``allowed-address-pairs``
extension is on and the port has port security; if the router update then fails, those ports
get their previous pairs back. Removed routes lose their pair afterwards.

Ownership (beyond CPO, which deletes any route it cannot map to a node, CPO #3128): on a
shared router a route is this cluster's only if its destination lies inside ``--cluster-cidr``
AND its next hop is an address of one of this cluster's nodes. A deleted node's address is no
longer known from the Node objects, so the reconciler keeps a ledger of the routes it has
seen owned (added by it, or with a next hop that was a node's address): a route in the ledger
stays recognised after its node is gone and is removed. The ledger lives in the process; after
a restart (or for a node deleted while no controller ran) a route inside ``--cluster-cidr``
that no node explains is checked once against the ports on the router's networks: when no
port holds its next hop, the route is dead for every cluster on the router (nothing can
answer at that address) and is removed; when a port holds it (another cluster's machine, or
a node deleted from Kubernetes whose server still runs), nothing proves it ours and it stays,
reported, for the operator. Nothing is stored anywhere: a Neutron route has no description
or tag to mark it with, and CPO's RBAC gives no writable object to keep a list in. Every
route inside ``--cluster-cidr`` whose next hop is no node's address is reported as a
blackhole (CPO's ``Blackhole`` routes), whether or not it is removed.

``route_condition.sync_routes`` runs a pass over the Node objects and then writes each node's
``NetworkUnavailable`` condition from ``PassResult.routed_nodes``. The core's ``Networking``
already had what this needs: ``add_routes``/``remove_routes`` and ``update_router`` (which
passes ``if_revision`` through to the sdk's ``If-Match``).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from osk8s_core import errors
from osk8s_core.logging import get_logger

if TYPE_CHECKING:
    from osk8s_core.openstack.networking import Networking
    from osk8s_core.openstack.ports import Ports

ATOMIC = "extraroute-atomic"
EXTRAROUTE = "extraroute"
ADDRESS_PAIRS = "allowed-address-pairs"
# Tries of a read-modify-write that lost a race with another writer of the router's routes.
GUARDED_TRIES = 5

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, order=True)
class Route:
    """One router route: destination CIDR and next hop address."""

    destination: str
    nexthop: str


@dataclass(frozen=True)
class NodeRoutes:
    """What the route controller reads of a Node: its pod CIDRs and its InternalIPs."""

    name: str
    pod_cidrs: tuple[str, ...]
    internal_ips: tuple[str, ...]


@dataclass(frozen=True)
class RoutePlan:
    add: tuple[Route, ...]
    remove: tuple[Route, ...]
    blackholes: tuple[Route, ...]
    """Routes inside the cluster CIDR whose next hop is no current node's address."""
    owned: frozenset[Route]
    """The ledger after the plan is applied."""
    routed_nodes: frozenset[str]
    """Nodes every pod CIDR of which has its route once the plan is applied."""


@dataclass(frozen=True)
class PortPairs:
    """A port on a router network as the address-pair step needs it."""

    id: str
    fixed_ips: tuple[str, ...]
    port_security: bool
    pairs: tuple[Mapping[str, str], ...]


def parse_cidrs(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """``--cluster-cidr`` (comma-separated in the flag; split by the caller)."""
    try:
        return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())
    except ValueError as exc:
        raise errors.ConfigError(f"--cluster-cidr: {exc}") from exc


def _inside(destination: str, clusters: Sequence[Network]) -> bool:
    try:
        net = ipaddress.ip_network(destination, strict=False)
    except ValueError:
        return False
    return any(
        net.version == c.version and net.subnet_of(c)  # type: ignore[arg-type]
        for c in clusters
    )


def _normal(cidr: str) -> str:
    try:
        return str(ipaddress.ip_network(cidr, strict=False))
    except ValueError:
        return cidr


def _family(text: str) -> int | None:
    try:
        return ipaddress.ip_network(text, strict=False).version
    except ValueError:
        return None


def node_from_k8s(node: Mapping[str, Any]) -> NodeRoutes:
    """From a Node as JSON: ``spec.podCIDRs`` (else ``spec.podCIDR``) and the InternalIPs."""
    spec = node.get("spec") or {}
    cidrs = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
    addresses = (node.get("status") or {}).get("addresses") or []
    return NodeRoutes(
        name=str((node.get("metadata") or {}).get("name", "")),
        pod_cidrs=tuple(str(c) for c in cidrs),
        internal_ips=tuple(str(a["address"]) for a in addresses if a.get("type") == "InternalIP"),
    )


def desired_routes(nodes: Iterable[NodeRoutes], clusters: Sequence[Network]) -> dict[Route, str]:
    """Route per pod CIDR inside the cluster CIDR, next hop = the node's first InternalIP of
    the CIDR's family (CPO); a CIDR with no such address gets no route. By route, the node."""
    wanted: dict[Route, str] = {}
    for node in nodes:
        for cidr in node.pod_cidrs:
            family = _family(cidr)
            hops = [ip for ip in node.internal_ips if _family(ip) == family]
            if family is None or not hops or not _inside(cidr, clusters):
                continue
            wanted[Route(_normal(cidr), hops[0])] = node.name
    return wanted


def plan_routes(
    nodes: Sequence[NodeRoutes],
    router_routes: Iterable[Route],
    clusters: Sequence[Network],
    ledger: frozenset[Route] = frozenset(),
) -> RoutePlan:
    """What one pass changes. Only owned routes are removed (see the module docstring)."""
    wanted = desired_routes(nodes, clusters)
    current = set(router_routes)
    node_ips = {ip for n in nodes for ip in n.internal_ips}

    def owned(route: Route) -> bool:
        return _inside(route.destination, clusters) and (
            route.nexthop in node_ips or route in ledger
        )

    add = sorted(set(wanted) - current)
    remove = sorted(r for r in current if r not in wanted and owned(r))
    blackholes = sorted(
        r for r in current if _inside(r.destination, clusters) and r.nexthop not in node_ips
    )
    after = (current | set(add)) - set(remove)
    routed_by_node: dict[str, set[str]] = {}
    for route, node in wanted.items():
        if route in after:
            routed_by_node.setdefault(node, set()).add(route.destination)
    routed = {
        n.name
        for n in nodes
        if n.pod_cidrs and routed_by_node.get(n.name, set()) >= set(map(_normal, n.pod_cidrs))
    }
    return RoutePlan(
        add=tuple(add),
        remove=tuple(remove),
        blackholes=tuple(blackholes),
        owned=frozenset(r for r in after if owned(r)),
        routed_nodes=frozenset(routed),
    )


class RouteCloud(Protocol):
    """The Neutron calls of a pass (``NeutronRoutes`` over the core's resource layer)."""

    def extensions(self) -> set[str]: ...
    def router_routes(self, router_id: str) -> tuple[list[Route], int | None]: ...
    def add_routes(self, router_id: str, routes: Sequence[Route]) -> None: ...
    def remove_routes(self, router_id: str, routes: Sequence[Route]) -> None: ...
    def replace_routes(
        self, router_id: str, routes: Sequence[Route], revision: int | None
    ) -> None: ...
    def router_ports(self, router_id: str) -> list[PortPairs]: ...
    def set_pairs(self, port_id: str, pairs: Sequence[Mapping[str, str]]) -> None: ...


def _entries(routes: Iterable[Route]) -> list[tuple[str, str]]:
    return [(r.destination, r.nexthop) for r in routes]


def _routes(raw: object) -> list[Route]:
    entries = raw if isinstance(raw, list) else []
    return [
        Route(str(e["destination"]), str(e["nexthop"]))
        for e in entries
        if isinstance(e, Mapping) and "destination" in e and "nexthop" in e
    ]


class NeutronRoutes:
    """``RouteCloud`` through the core's ``Networking`` and ``Ports`` (CPO's labels:
    ``router_get``/``router_update``, ``port_list``/``port_update``)."""

    def __init__(self, networking: Networking, ports: Ports) -> None:
        self._net = networking
        self._ports = ports

    def extensions(self) -> set[str]:
        return self._net.extensions()

    def router_routes(self, router_id: str) -> tuple[list[Route], int | None]:
        router = self._net.get_router(router_id)
        revision = getattr(router, "revision_number", None)
        return _routes(router.routes), revision if isinstance(revision, int) else None

    def add_routes(self, router_id: str, routes: Sequence[Route]) -> None:
        self._net.add_routes(router_id, _entries(routes))

    def remove_routes(self, router_id: str, routes: Sequence[Route]) -> None:
        self._net.remove_routes(router_id, _entries(routes))

    def replace_routes(self, router_id: str, routes: Sequence[Route], revision: int | None) -> None:
        body = [{"destination": r.destination, "nexthop": r.nexthop} for r in routes]
        self._net.update_router(router_id, routes=body, if_revision=revision)

    def router_ports(self, router_id: str) -> list[PortPairs]:
        """Ports on the router's networks (two ``port_list`` calls whatever the node count)."""
        networks = sorted(
            {str(p.network_id) for p in self._ports.query(device_id=router_id) if p.network_id}
        )
        if not networks:
            return []
        return [
            PortPairs(
                id=str(p.id),
                fixed_ips=tuple(str(ip["ip_address"]) for ip in p.fixed_ips or []),
                port_security=bool(p.is_port_security_enabled),
                pairs=tuple(dict(pair) for pair in p.allowed_address_pairs or []),
            )
            for p in self._ports.query(network_id=networks)
            if p.device_id != router_id
        ]

    def set_pairs(self, port_id: str, pairs: Sequence[Mapping[str, str]]) -> None:
        self._ports.update(port_id, allowed_address_pairs=[dict(p) for p in pairs])


@dataclass(frozen=True)
class PassResult:
    added: tuple[Route, ...]
    removed: tuple[Route, ...]
    blackholes: tuple[Route, ...]
    routed_nodes: frozenset[str]


class RouteUpdateFailed(Exception):
    """A pass's router update failed (the cause is chained). ``result`` is the router as the
    pass left it: with ``extraroute-atomic`` the adds may have gone through and only the
    removal failed. ``failed_adds`` (route -> node) are the routes not created, for upstream's
    ``FailedToCreateRoute`` events and the nodes' ``NetworkUnavailable`` condition."""

    def __init__(self, result: PassResult, failed_adds: Mapping[Route, str]) -> None:
        self.result = result
        self.failed_adds = dict(failed_adds)
        super().__init__(f"router update failed ({len(self.failed_adds)} routes not created)")


@dataclass
class RouteReconciler:
    """Keeps the router's routes equal to the nodes' pod CIDRs, touching only owned routes."""

    cloud: RouteCloud
    router_id: str
    cluster_cidrs: tuple[Network, ...]
    ledger: frozenset[Route] = field(default_factory=frozenset)
    log: Any = field(default_factory=lambda: get_logger("osk8s.ccm.routes"))
    _extensions: set[str] | None = None
    _held: set[Route] = field(default_factory=set)
    """Unexplained routes whose next hop a port holds: not ours, not looked up again."""

    def _exts(self) -> set[str]:
        if self._extensions is None:
            found = self.cloud.extensions()
            if ATOMIC not in found and EXTRAROUTE not in found:
                raise errors.ConfigError(
                    f"routes need Neutron's {ATOMIC!r} or {EXTRAROUTE!r} extension"
                )
            self._extensions = found
        return self._extensions

    def reconcile(self, nodes: Sequence[NodeRoutes]) -> PassResult:
        """One pass; ``RouteUpdateFailed`` when the router update fails (next pass retries)."""
        exts = self._exts()
        current, revision = self.cloud.router_routes(self.router_id)
        known = self.ledger | self._dead_routes(nodes, current)
        plan = plan_routes(nodes, current, self.cluster_cidrs, known)
        for route in plan.blackholes:
            self.log.warning(
                "blackhole route", destination=route.destination, nexthop=route.nexthop
            )
        added = not plan.add
        try:
            if plan.add:
                update = (
                    functools.partial(self.cloud.add_routes, self.router_id, plan.add)
                    if ATOMIC in exts
                    else self._guarded_write(plan, current, revision)
                )
                self._add_pairs_then(plan, exts, update)
                added = True
            if plan.remove:
                if ATOMIC in exts:
                    self.cloud.remove_routes(self.router_id, plan.remove)
                elif not plan.add:  # with adds, the one guarded write removed them too
                    self._guarded_write(plan, current, revision)()
                self._remove_pairs(plan, exts)
        except Exception as exc:
            raise self._failed(plan, nodes, added=added) from exc
        self.ledger = plan.owned
        return PassResult(plan.add, plan.remove, plan.blackholes, plan.routed_nodes)

    def _dead_routes(self, nodes: Sequence[NodeRoutes], current: Sequence[Route]) -> set[Route]:
        """Routes in the cluster CIDR that neither a node nor the ledger explains, whose next
        hop no port on the router's networks holds. Each such route is looked up once (two
        ``port_list`` calls, only when there is one): a held one is remembered as not ours."""
        node_ips = {ip for n in nodes for ip in n.internal_ips}
        unknown = {
            r
            for r in current
            if _inside(r.destination, self.cluster_cidrs)
            and r.nexthop not in node_ips
            and r not in self.ledger
            and r not in self._held
        }
        if not unknown:
            return set()
        held = {ip for port in self.cloud.router_ports(self.router_id) for ip in port.fixed_ips}
        self._held |= {r for r in unknown if r.nexthop in held}
        return {r for r in unknown if r.nexthop not in held}

    def _failed(
        self, plan: RoutePlan, nodes: Sequence[NodeRoutes], *, added: bool
    ) -> RouteUpdateFailed:
        if added:  # only the removal failed: the removed routes stay owned
            self.ledger = plan.owned | frozenset(plan.remove)
            result = PassResult(plan.add, (), plan.blackholes, plan.routed_nodes)
            return RouteUpdateFailed(result, {})
        wanted = desired_routes(nodes, self.cluster_cidrs)
        failed = {route: wanted[route] for route in plan.add}
        routed = plan.routed_nodes - frozenset(failed.values())
        return RouteUpdateFailed(PassResult((), (), plan.blackholes, routed), failed)

    # The address-pair step

    def _pair_changes(
        self, routes: Sequence[Route], *, adding: bool, exts: set[str]
    ) -> list[tuple[PortPairs, tuple[Mapping[str, str], ...]]]:
        """(port, new pairs) for the ports holding these routes' next hops."""
        if not routes or ADDRESS_PAIRS not in exts:
            return []
        by_ip: dict[str, PortPairs] = {}
        for port in self.cloud.router_ports(self.router_id):
            for ip in port.fixed_ips:
                by_ip.setdefault(ip, port)
        wanted: dict[str, set[str]] = {}
        ports: dict[str, PortPairs] = {}
        for route in routes:
            holder = by_ip.get(route.nexthop)
            if holder is None or not holder.port_security:
                continue
            ports[holder.id] = holder
            wanted.setdefault(holder.id, set()).add(route.destination)
        changes = []
        for port_id, cidrs in sorted(wanted.items()):
            port = ports[port_id]
            have = {p.get("ip_address") for p in port.pairs}
            if adding:
                new = port.pairs + tuple({"ip_address": c} for c in sorted(cidrs - have))
            else:
                new = tuple(p for p in port.pairs if p.get("ip_address") not in cidrs)
            if new != port.pairs:
                changes.append((port, new))
        return changes

    def _add_pairs_then(self, plan: RoutePlan, exts: set[str], update: Callable[[], None]) -> None:
        changes = self._pair_changes(plan.add, adding=True, exts=exts)
        done: list[PortPairs] = []
        try:
            for port, pairs in changes:
                self.cloud.set_pairs(port.id, pairs)
                done.append(port)
            update()
        except Exception:
            for port in reversed(done):  # rollback: the ports' pairs as they were
                self.cloud.set_pairs(port.id, port.pairs)
            raise

    def _remove_pairs(self, plan: RoutePlan, exts: set[str]) -> None:
        for port, pairs in self._pair_changes(plan.remove, adding=False, exts=exts):
            self.cloud.set_pairs(port.id, pairs)

    # The router update

    def _guarded_write(
        self, plan: RoutePlan, current: list[Route], revision: int | None
    ) -> Callable[[], None]:
        """Plain ``extraroute``: one read-modify-write of ``routes`` doing the whole plan,
        guarded by the revision read; a lost race re-reads and retries."""

        def write() -> None:
            routes, rev = current, revision
            for attempt in range(GUARDED_TRIES):
                if attempt:
                    routes, rev = self.cloud.router_routes(self.router_id)
                new = [r for r in routes if r not in plan.remove]
                new += [r for r in plan.add if r not in new]
                try:
                    self.cloud.replace_routes(self.router_id, new, rev)
                    return
                except errors.Conflict:
                    if attempt == GUARDED_TRIES - 1:
                        raise

        return write
