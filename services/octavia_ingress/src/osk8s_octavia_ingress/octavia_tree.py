"""Brings one Ingress load balancer's listener, pools, members and L7 policies to a ``Tree``.

A diff, not a rebuild (beyond CPO, whose updates recreated pools: CPO #1417): a pool whose
Service and port are unchanged keeps its id and its members; only missing members are added
and gone ones removed; a policy is matched by its stable name, its rules by what they match.
A listener whose protocol or port must change (TLS added or removed) is replaced in place on
the same LB (CPO cannot change it after creation). Every create is find-first through the
core layer, so a run after a crash at any step adopts what the earlier run made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from osk8s_core.openstack.lb_l7 import L7Policies
from osk8s_octavia_ingress.desired import PoolSpec, Tree
from osk8s_octavia_ingress.naming import POLICY_DESCRIPTION

if TYPE_CHECKING:
    from openstack.load_balancer.v2.listener import Listener
    from openstack.load_balancer.v2.load_balancer import LoadBalancer

    from osk8s_core.openstack.lb_children import LoadBalancerChildren
    from osk8s_core.openstack.lb_updates import LoadBalancerUpdates
    from osk8s_core.openstack.loadbalancers import LoadBalancerSpec


@dataclass(frozen=True)
class ListenerSpec:
    name: str
    protocol: str
    port: int
    attributes: Mapping[str, Any]
    """allowed_cidrs, timeouts, TLS refs: compared and updated in place."""


def _differs(current: Any, wanted: Any) -> bool:
    if isinstance(wanted, list | tuple):
        return sorted(current or []) != sorted(wanted)
    return bool(current != wanted)


def _tls_refs(source: Any) -> list[str]:
    """The default and SNI certificate refs of a listener (or of its wanted attributes)."""

    def value(key: str) -> Any:
        return source.get(key) if isinstance(source, Mapping) else getattr(source, key, None)

    refs = [value("default_tls_container_ref"), *(value("sni_container_refs") or [])]
    return [str(ref) for ref in refs if ref]


class OctaviaTree:
    """Applies listener and tree specs to one project's load balancers."""

    def __init__(
        self,
        *,
        children: LoadBalancerChildren,
        updates: LoadBalancerUpdates,
        l7: L7Policies,
    ) -> None:
        self._children = children
        self._updates = updates
        self._l7 = l7

    def create_populated(
        self, lb: LoadBalancerSpec, listener: ListenerSpec, tree: Tree
    ) -> LoadBalancer:
        """LB, listener, pools, members, policies and rules in one POST (Octavia's fully
        populated create: atomic, so a crash leaves all or nothing); idempotent by LB name."""
        pools = [
            {
                "name": spec.name,
                "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN",
                "members": [
                    {"address": m.address, "protocol_port": m.port, "name": m.name}
                    for m in spec.members
                ],
            }
            for spec in tree.pools
        ]
        body: dict[str, Any] = {
            "name": listener.name,
            "protocol": listener.protocol,
            "protocol_port": listener.port,
            **listener.attributes,
            "l7policies": [
                {
                    "name": policy.name,
                    "action": "REDIRECT_TO_POOL",
                    "redirect_pool": {"name": policy.pool},
                    "position": position,
                    "description": POLICY_DESCRIPTION,
                    "rules": [rule.attributes() for rule in policy.rules],
                }
                for position, policy in enumerate(tree.policies, start=1)
            ],
        }
        if tree.default_pool:
            body["default_pool"] = {"name": tree.default_pool}
        return self._updates.create_populated(lb, [body], pools=pools)

    def ensure_listener(self, lb_id: str, spec: ListenerSpec) -> tuple[Listener, list[str]]:
        """The listener as ``spec`` says, and the TLS secret refs it held before and no
        longer holds (TLS removed or a secret dropped): the caller releases those."""
        found = self._children.find_listener(lb_id, spec.name)
        held = set(_tls_refs(found)) if found is not None else set()
        dropped = sorted(held - set(_tls_refs(spec.attributes)))
        return self._ensure_listener(lb_id, spec, found), dropped

    def _ensure_listener(self, lb_id: str, spec: ListenerSpec, found: Listener | None) -> Listener:
        if found is not None and (
            found.protocol != spec.protocol or found.protocol_port != spec.port
        ):
            # Beyond CPO: the protocol cannot change in place, so the listener is replaced
            # (its policies go with it; pools belong to the LB and stay).
            self._children.delete_listener(lb_id, found.id)
            found = None
        if found is None:
            return self._children.create_listener(
                lb_id, spec.name, protocol=spec.protocol, port=spec.port, **spec.attributes
            )
        changed = {
            key: value
            for key, value in spec.attributes.items()
            if _differs(getattr(found, key, None), value)
        }
        if changed:
            return self._updates.update_listener(lb_id, found.id, **changed)
        return found

    def apply(self, lb_id: str, listener: Listener, tree: Tree) -> None:
        existing = {p.name: p for p in self._children.pools(lb_id)}
        pool_ids = {spec.name: self._ensure_pool(lb_id, spec, existing) for spec in tree.pools}
        wanted_default = pool_ids[tree.default_pool] if tree.default_pool else None
        if (listener.default_pool_id or None) != wanted_default:
            self._updates.update_listener(lb_id, listener.id, default_pool_id=wanted_default)
        self._apply_policies(lb_id, listener.id, tree, pool_ids)
        for name, pool in existing.items():
            if name not in pool_ids:
                self._children.delete_pool(lb_id, pool.id)

    def sync_members(self, lb_id: str, pools: Sequence[PoolSpec]) -> int:
        """Members only (the periodic node sync); returns how many writes it made."""
        existing = {p.name: p for p in self._children.pools(lb_id)}
        writes = 0
        for spec in pools:
            pool = existing.get(spec.name)
            if pool is not None:
                writes += self._sync_members(lb_id, pool.id, spec)
        return writes

    def _ensure_pool(self, lb_id: str, spec: PoolSpec, existing: Mapping[str, Any]) -> str:
        pool = existing.get(spec.name)
        if pool is None:
            # Members follow one by one: Octavia 18 answers 500 to a standalone pool POST
            # with inline members (that form works only inside a whole-LB create).
            pool = self._children.create_pool(lb_id, spec.name, protocol="HTTP")
        self._sync_members(lb_id, pool.id, spec)
        return str(pool.id)

    def _sync_members(self, lb_id: str, pool_id: str, spec: PoolSpec) -> int:
        """One batch update (Octavia keeps members whose address and port stay, so their ids
        and health do too) when the set differs; no write when it is the same."""
        current = {(m.address, m.protocol_port) for m in self._children.members(pool_id)}
        if current == {(m.address, m.port) for m in spec.members}:
            return 0
        members = [
            {"address": m.address, "protocol_port": m.port, "name": m.name} for m in spec.members
        ]
        self._updates.replace_members(lb_id, pool_id, members)
        return 1

    def _apply_policies(
        self, lb_id: str, listener_id: str, tree: Tree, pool_ids: Mapping[str, str]
    ) -> None:
        wanted = {spec.name for spec in tree.policies}
        existing = {p.name: p for p in self._l7.policies(listener_id)}
        changed = False
        for name, stale in existing.items():
            if name not in wanted:
                self._l7.delete_policy(lb_id, stale.id)
                changed = True
        for position, spec in enumerate(tree.policies, start=1):
            pool_id = pool_ids[spec.pool]
            policy = existing.get(spec.name)
            if policy is None:
                # Rules follow one by one (Octavia 18 answers 500 to inline rules in a
                # standalone policy POST); a crash in between is finished by the next pass.
                created = self._l7.create_policy(
                    lb_id,
                    listener_id,
                    spec.name,
                    action="REDIRECT_TO_POOL",
                    redirect_pool_id=pool_id,
                    position=position,
                    description=POLICY_DESCRIPTION,
                )
                changed = True
                self._sync_rules(lb_id, str(created.id), spec.rules)
                continue
            if policy.redirect_pool_id != pool_id:
                self._l7.update_policy(lb_id, policy.id, redirect_pool_id=pool_id)
            self._sync_rules(lb_id, str(policy.id), spec.rules)
        if changed:
            self._fix_positions(lb_id, listener_id, [spec.name for spec in tree.policies])

    def _sync_rules(self, lb_id: str, policy_id: str, rules: Sequence[Any]) -> None:
        current = self._l7.rules(policy_id)
        for rule in current:
            if not any(spec.matches(rule) for spec in rules):
                self._l7.delete_rule(lb_id, policy_id, rule.id)
        for spec in rules:
            if not any(spec.matches(rule) for rule in current):
                self._l7.create_rule(lb_id, policy_id, spec)

    def _fix_positions(self, lb_id: str, listener_id: str, order: Sequence[str]) -> None:
        """Octavia shifts positions on inserts and deletes; new policies were inserted at
        their place, so this normally reads once, finds the order right and writes nothing."""
        current = sorted(self._l7.policies(listener_id), key=lambda p: p.position or 0)
        if [p.name for p in current] == list(order):
            return
        for position, name in enumerate(order, start=1):
            by_name = {p.name: p for p in self._l7.policies(listener_id)}
            policy = by_name.get(name)
            if policy is not None and policy.position != position:
                self._l7.update_policy(lb_id, policy.id, position=position)
