"""What an Ingress asks of Octavia: listener, pools with members, ordered L7 policies.

Pure: built from the Ingress, its Services and the Nodes (API JSON dicts), no I/O. Rules as
CPO (one REDIRECT_TO_POOL policy per host+path with a HOST_NAME regex rule and a PATH rule;
one HTTP ROUND_ROBIN pool per backend Service+port with every eligible node on the NodePort;
``spec.defaultBackend`` as the listener's default pool) except, beyond CPO, ``pathType``:
``Exact`` is PATH EQUAL_TO, ``Prefix`` matches whole path elements (a REGEX), and policies are
ordered as Kubernetes ranks matches (host before no host, Exact before Prefix, longer first).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from osk8s_core.openstack.lb_l7 import L7RuleSpec
from osk8s_octavia_ingress import naming

EXCLUDE_LABEL: Final = "node.kubernetes.io/exclude-from-external-load-balancers"
LEGACY_MASTER_LABEL: Final = "node-role.kubernetes.io/master"
HTTP_PORT: Final = 80
HTTPS_PORT: Final = 443


class IngressError(Exception):
    """The Ingress cannot be realised as it is (missing Service, no NodePort, no node). The
    message is meant for an event on the Ingress."""


@dataclass(frozen=True, order=True)
class Member:
    address: str
    port: int
    name: str = field(compare=False)


@dataclass(frozen=True)
class PoolSpec:
    name: str
    service: str
    node_port: int
    members: tuple[Member, ...]


@dataclass(frozen=True)
class PolicySpec:
    name: str
    pool: str
    """Name of the pool it redirects to."""
    rules: tuple[L7RuleSpec, ...]


@dataclass(frozen=True)
class Tree:
    """The Octavia objects under the Ingress's listener, in the order Octavia should see
    them (``policies[0]`` is position 1)."""

    pools: tuple[PoolSpec, ...]
    policies: tuple[PolicySpec, ...]
    default_pool: str | None
    node_ports: tuple[int, ...]


def eligible_nodes(nodes: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Ready, schedulable nodes not excluded from load balancers (CPO's predicate)."""
    out = []
    for node in nodes:
        labels = (node.get("metadata") or {}).get("labels") or {}
        if EXCLUDE_LABEL in labels or LEGACY_MASTER_LABEL in labels:
            continue
        if (node.get("spec") or {}).get("unschedulable"):
            continue
        conditions = (node.get("status") or {}).get("conditions") or []
        if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            continue
        out.append(node)
    return out


def node_address(node: Mapping[str, Any]) -> str | None:
    """InternalIP first, else ExternalIP (CPO's ``getNodeAddressForLB``)."""
    addresses = (node.get("status") or {}).get("addresses") or []
    for kind in ("InternalIP", "ExternalIP"):
        for address in addresses:
            if address.get("type") == kind and address.get("address"):
                return str(address["address"])
    return None


def members_on(nodes: Sequence[Mapping[str, Any]], node_port: int) -> tuple[Member, ...]:
    found = []
    for node in nodes:
        address = node_address(node)
        if address is not None:
            found.append(Member(address, node_port, str(node["metadata"]["name"])))
    return tuple(sorted(found))


def _backend_port(backend: Mapping[str, Any]) -> tuple[str, str | int]:
    service = backend.get("service") or {}
    port = service.get("port") or {}
    if port.get("name"):
        return str(service.get("name") or ""), str(port["name"])
    return str(service.get("name") or ""), int(port.get("number") or 0)


def node_port_of(
    service: Mapping[str, Any] | None, namespace: str, name: str, port: str | int
) -> int:
    """The NodePort of the Service port given by number or name (CPO's
    ``getServiceNodePort``)."""
    if service is None:
        raise IngressError(f'service "{namespace}/{name}" not found')
    for item in (service.get("spec") or {}).get("ports") or []:
        by_number = isinstance(port, int) and item.get("port") == port
        by_name = isinstance(port, str) and item.get("name") == port
        if (by_number or by_name) and item.get("nodePort"):
            return int(item["nodePort"])
    raise IngressError(f"failed to find nodeport for service {namespace}/{name}")


@dataclass(frozen=True)
class _Path:
    host: str
    path: str
    path_type: str
    pool: str
    index: int


def path_rule(path: str, path_type: str) -> L7RuleSpec | None:
    """The PATH rule of one Ingress path, by pathType (None: matches every path)."""
    if path_type == "Exact":
        return L7RuleSpec("PATH", "EQUAL_TO", path)
    if path_type == "Prefix":
        # Kubernetes: element-wise, trailing slash ignored; "/foo" matches /foo, /foo/ and
        # /foo/bar but not /foobar. "/" matches everything.
        trimmed = path.rstrip("/")
        if not trimmed:
            return None
        return L7RuleSpec("PATH", "REGEX", f"^{re.escape(trimmed)}(/.*)?$")
    # ImplementationSpecific: CPO's raw string prefix.
    return L7RuleSpec("PATH", "STARTS_WITH", path) if path else None


def _precedence(item: _Path) -> tuple[int, int, int, int, str, str]:
    """Sort key: hosts first (exact before wildcard), then Exact before prefix kinds, then
    longer paths, then a stable tie-break that does not depend on the spec's order."""
    host_rank = 2 if not item.host else (1 if item.host.startswith("*") else 0)
    exact_rank = 0 if item.path_type == "Exact" else 1
    return (host_rank, exact_rank, -len(item.path.rstrip("/") or ""), 0, item.host, item.path)


def build_tree(
    ingress: Mapping[str, Any],
    *,
    resource: str,
    services: Mapping[str, Mapping[str, Any]],
    nodes: Sequence[Mapping[str, Any]],
    listener_port: int,
) -> Tree:
    """The pools and policies of ``ingress``; ``services`` by name in its namespace."""
    namespace = str(ingress["metadata"].get("namespace") or "default")
    spec = ingress.get("spec") or {}
    eligible = eligible_nodes(nodes)
    if not any(node_address(n) for n in eligible):
        raise IngressError("no available nodes")
    pools: dict[str, PoolSpec] = {}

    def pool_for(backend: Mapping[str, Any]) -> str:
        if "service" not in backend:
            raise IngressError("only Service backends are supported")
        svc, port = _backend_port(backend)
        name = naming.pool_name(svc, str(port))
        if name not in pools:
            node_port = node_port_of(services.get(svc), namespace, svc, port)
            pools[name] = PoolSpec(name, svc, node_port, members_on(eligible, node_port))
        return name

    default_pool = None
    if spec.get("defaultBackend"):
        default_pool = pool_for(spec["defaultBackend"])
    paths: list[_Path] = []
    for rule in spec.get("rules") or []:
        host = str(rule.get("host") or "")
        for index, item in enumerate((rule.get("http") or {}).get("paths") or []):
            pool = pool_for(item.get("backend") or {})
            path_type = str(item.get("pathType") or "ImplementationSpecific")
            paths.append(_Path(host, str(item.get("path") or ""), path_type, pool, index))
    policies: dict[str, PolicySpec] = {}
    for item in sorted(paths, key=_precedence):
        rules: list[L7RuleSpec] = []
        if item.host:
            rules.append(
                L7RuleSpec("HOST_NAME", "REGEX", naming.host_regex(item.host, listener_port))
            )
        path_spec = path_rule(item.path, item.path_type)
        if path_spec is not None:
            rules.append(path_spec)
        if not rules:
            # Matches every request: Octavia needs at least one rule, so match any path.
            rules.append(L7RuleSpec("PATH", "STARTS_WITH", "/"))
        key = f"{item.host}|{item.path_type}|{item.path}"
        name = naming.policy_name(resource, key)
        # A duplicate host+path in the spec: the first by precedence wins (as Kubernetes).
        policies.setdefault(name, PolicySpec(name, item.pool, tuple(rules)))
    ports = tuple(sorted({p.node_port for p in pools.values()}))
    return Tree(
        pools=tuple(sorted(pools.values(), key=lambda p: p.name)),
        policies=tuple(policies.values()),
        default_pool=default_pool,
        node_ports=ports,
    )
