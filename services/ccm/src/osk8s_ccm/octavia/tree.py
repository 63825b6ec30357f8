"""Reconcile an existing load balancer's listeners, pools, members and monitors with the
wanted ``desired.ListenerSpec`` tree (CPO §1.4.4 step 10, §1.4.5) with as few requests as
possible: two lists (listeners, pools of the LB), one member list per pool and one monitor
read per monitored pool, then writes only for what differs. An unchanged Service makes no
write. Serial mode (``provider-requires-serial-api-calls``) creates each object on its own
and members one by one; otherwise members are set in one batch PUT. (Children inline in a
listener or pool POST make Octavia answer 500: only the LB create takes a whole tree.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from osk8s_ccm.octavia.desired import ListenerSpec, MemberSpec, MonitorSpec, PoolSpec
from osk8s_core import errors
from osk8s_core.openstack.lb_children import LoadBalancerChildren
from osk8s_core.openstack.lb_updates import LoadBalancerUpdates
from osk8s_core.openstack.loadbalancers import LoadBalancers


class PortConflict(Exception):
    """A wanted (protocol, port) is served by a listener another Service owns."""


def _value(obj: object, key: str) -> Any:
    value = getattr(obj, key, None)
    if key == "allowed_cidrs":
        return sorted(value or [])
    if key == "insert_headers":
        return {k: str(v).lower() for k, v in (value or {}).items()}
    if key == "tags":
        return sorted(value or [])
    return value


def listener_changes(existing: object, wanted: ListenerSpec) -> dict[str, Any]:
    """Attributes of ``wanted`` that differ on ``existing``; tags are added to, never taken
    from (another controller may tag the listener too)."""
    attrs = wanted.attributes()
    attrs.pop("protocol")
    attrs.pop("protocol_port")
    changes: dict[str, Any] = {}
    for key, value in attrs.items():
        if key == "tags":
            have = list(getattr(existing, "tags", None) or [])
            missing = [t for t in value if t not in have]
            if missing:
                changes["tags"] = have + missing
            continue
        want = sorted(value) if key == "allowed_cidrs" else value
        if key == "insert_headers":
            want = {k: str(v).lower() for k, v in value.items()}
        if _value(existing, key) != want:
            changes[key] = value
    return changes


def pool_changes(existing: object, wanted: PoolSpec) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if getattr(existing, "name", None) != wanted.name:
        changes["name"] = wanted.name
    if getattr(existing, "lb_algorithm", None) != wanted.lb_algorithm:
        changes["lb_algorithm"] = wanted.lb_algorithm
    have = getattr(existing, "session_persistence", None) or None
    want = dict(wanted.session_persistence) if wanted.session_persistence else None
    if (have or {}).get("type") != (want or {}).get("type"):
        changes["session_persistence"] = want
    return changes


def monitor_changes(existing: object, wanted: MonitorSpec) -> dict[str, Any]:
    return {
        key: value
        for key, value in wanted.updatable().items()
        if getattr(existing, key, None) != value
    }


def _member_identity(member: object) -> tuple[Any, ...]:
    return (
        getattr(member, "name", None),
        getattr(member, "address", None),
        getattr(member, "protocol_port", None),
        getattr(member, "monitor_port", None) or None,
    )


def _wanted_identity(member: MemberSpec) -> tuple[Any, ...]:
    return (member.name, member.address, member.port, member.monitor_port)


@dataclass
class TreeReconciler:
    """Brings one LB's children to the wanted tree; ``owned`` says which existing listeners
    belong to this Service (tag or name), so a shared LB's other listeners are left alone.

    Writes do not wait for ACTIVE after themselves: the next write waits before it (Octavia
    refuses changes while one is pending) and the pass ends with one wait, so N changes cost
    N + 1 status polls rather than 2N."""

    lbs: LoadBalancers
    children: LoadBalancerChildren
    updates: LoadBalancerUpdates
    serial: bool = False

    def reconcile(
        self,
        lb_id: str,
        wanted: Sequence[ListenerSpec],
        *,
        owned: Callable[[Any], bool],
        prune: bool = True,
        warn: Callable[[str], None] | None = None,
    ) -> int:
        """Returns the number of writes made (0 for an unchanged tree). ``warn`` hears of a
        pool algorithm Octavia refused to change (CPO: a warning, the sync goes on)."""
        run = _Pass(self, lb_id, warn)
        run.reconcile(wanted, owned=owned, prune=prune)
        return run.finish()

    def delete_owned(self, lb_id: str, *, owned: Callable[[Any], bool]) -> int:
        """Delete this Service's listeners (and their pools and monitors) from a shared LB;
        returns how many listeners went."""
        listeners = [li for li in self.children.listeners(lb_id) if owned(li)]
        if not listeners:
            return 0
        run = _Pass(self, lb_id)
        pools = {p.id: p for p in self.children.pools(lb_id)}
        for li in listeners:
            run.delete_listener(li, pools)
        run.finish()
        return len(listeners)


class _Pass:
    """One reconcile of one LB: counts its writes for the final wait."""

    def __init__(
        self, owner: TreeReconciler, lb_id: str, warn: Callable[[str], None] | None = None
    ) -> None:
        self.warn = warn
        self.children = owner.children
        self.updates = owner.updates
        self.serial = owner.serial
        self._lbs = owner.lbs
        self.lb_id = lb_id
        self.writes = 0

    def finish(self) -> int:
        if self.writes:
            self._lbs.wait_active(self.lb_id)
        return self.writes

    def reconcile(
        self, wanted: Sequence[ListenerSpec], *, owned: Callable[[Any], bool], prune: bool
    ) -> None:
        listeners = self.children.listeners(self.lb_id)
        pools = {p.id: p for p in self.children.pools(self.lb_id)} if listeners else {}
        by_key = {(str(li.protocol), int(li.protocol_port)): li for li in listeners}
        wanted_keys = {w.key for w in wanted}
        for spec in wanted:
            clash = [li for key, li in by_key.items() if key == spec.key and not owned(li)]
            if clash:
                raise PortConflict(
                    f"port {spec.protocol}/{spec.port} is used by listener {clash[0].id} of "
                    "another Service on this load balancer"
                )
        if prune:
            # First, so a port moving to another protocol (TCP → HTTP) is free again.
            for li in listeners:
                key = (str(li.protocol), int(li.protocol_port))
                if key not in wanted_keys and owned(li):
                    self.delete_listener(li, pools)
        for spec in wanted:
            existing = by_key.get(spec.key)
            if existing is None:
                self._create_listener(spec)
            else:
                self._update_listener(existing, spec, pools)

    # Creation

    def _create_listener(self, spec: ListenerSpec) -> None:
        # Not one POST with ``default_pool``: Octavia answers 500 to a listener created with
        # its pool tree inline (its graph create of listeners is broken); a pool with its
        # members and monitor inline is fine, so a new listener costs two writes.
        self.writes += 1
        own = {
            k: v
            for k, v in spec.attributes().items()
            if k not in ("name", "protocol", "protocol_port")
        }
        listener = self.children.create_listener(
            self.lb_id, spec.name, protocol=spec.protocol, port=spec.port, wait=False, **own
        )
        self._create_pool(listener.id, spec.pool)

    def _create_pool(self, listener_id: str, spec: PoolSpec) -> None:
        # The pool alone: Octavia answers 500 to children inline outside the LB graph create.
        self.writes += 1
        attrs = {k: v for k, v in spec.body(with_children=False).items() if k != "name"}
        pool = self.children.create_pool(
            self.lb_id, spec.name, listener_id=listener_id, wait=False, **attrs
        )
        if self.serial:
            for member in spec.members:
                self._create_member(pool.id, member)
        elif spec.members:
            self.writes += 1
            self.updates.replace_members(
                self.lb_id, pool.id, [m.body() for m in spec.members], wait=False
            )
        if spec.monitor is not None:
            self._create_monitor(pool.id, spec.monitor)

    def _create_member(self, pool_id: str, member: MemberSpec) -> None:
        self.writes += 1
        attrs = {k: v for k, v in member.body().items() if k not in ("address", "protocol_port")}
        self.children.create_member(
            self.lb_id, pool_id, address=member.address, port=member.port, wait=False, **attrs
        )

    def _create_monitor(self, pool_id: str, monitor: MonitorSpec) -> None:
        self.writes += 1
        body = monitor.body()
        self.children.create_health_monitor(
            self.lb_id,
            pool_id,
            monitor_type=body.pop("type"),
            delay=body.pop("delay"),
            timeout=body.pop("timeout"),
            max_retries=body.pop("max_retries"),
            wait=False,
            **body,
        )

    # Updates

    def _update_listener(self, existing: Any, spec: ListenerSpec, pools: dict[str, Any]) -> None:
        changes = listener_changes(existing, spec)
        if changes:
            self.writes += 1
            self.updates.update_listener(self.lb_id, existing.id, wait=False, **changes)
        pool = pools.get(existing.default_pool_id) if existing.default_pool_id else None
        if pool is not None and str(pool.protocol) != spec.pool.protocol:
            # Octavia cannot change a pool's protocol: replace it (matches CPO).
            self._delete_pool(pool)
            pool = None
        if pool is None:
            self._create_pool(existing.id, spec.pool)
            return
        changes = pool_changes(pool, spec.pool)
        if "lb_algorithm" in changes and self.warn is not None:
            # Matches CPO: the algorithm is changed on its own, a refusal is only a warning.
            algorithm = changes.pop("lb_algorithm")
            try:
                self.updates.update_pool(self.lb_id, pool.id, wait=True, lb_algorithm=algorithm)
            except errors.OpenStackError as exc:
                self.warn(f"Error updating LB method of pool {pool.id} to {algorithm}: {exc}")
        if changes:
            self.writes += 1
            self.updates.update_pool(self.lb_id, pool.id, wait=False, **changes)
        self._reconcile_members(pool.id, spec.pool.members)
        self._reconcile_monitor(pool, spec.pool.monitor)

    def _reconcile_members(self, pool_id: str, wanted: Sequence[MemberSpec]) -> None:
        existing = self.children.members(pool_id)
        if sorted(map(_member_identity, existing), key=repr) == sorted(
            map(_wanted_identity, wanted), key=repr
        ):
            return
        if not self.serial:
            self.writes += 1
            self.updates.replace_members(
                self.lb_id, pool_id, [m.body() for m in wanted], wait=False
            )
            return
        wanted_keys = {m.key for m in wanted}
        have = {(e.address, int(e.protocol_port)): e for e in existing}
        for member in wanted:
            if member.key not in have:
                self._create_member(pool_id, member)
        for key, obsolete in have.items():
            if key not in wanted_keys:
                self.writes += 1
                self.children.delete_member(self.lb_id, pool_id, obsolete.id, wait=False)

    def _reconcile_monitor(self, pool: Any, wanted: MonitorSpec | None) -> None:
        monitor_id = getattr(pool, "health_monitor_id", None)
        if monitor_id is None:
            if wanted is not None:
                self._create_monitor(pool.id, wanted)
            return
        if wanted is None:
            self._delete_monitor(monitor_id)
            return
        existing = self.updates.get_health_monitor(monitor_id)
        if str(existing.type) != wanted.type:
            self._delete_monitor(monitor_id)
            self._create_monitor(pool.id, wanted)
            return
        changes = monitor_changes(existing, wanted)
        if changes:
            self.writes += 1
            self.updates.update_health_monitor(self.lb_id, monitor_id, wait=False, **changes)

    # Deletion

    def _delete_monitor(self, monitor_id: str) -> None:
        self.writes += 1
        self.children.delete_health_monitor(self.lb_id, monitor_id, wait=False)

    def _delete_pool(self, pool: Any) -> None:
        monitor_id = getattr(pool, "health_monitor_id", None)
        if monitor_id:
            self._delete_monitor(monitor_id)
        self.writes += 1
        self.children.delete_pool(self.lb_id, pool.id, wait=False)

    def delete_listener(self, listener: Any, pools: dict[str, Any]) -> None:
        pool = pools.get(listener.default_pool_id) if listener.default_pool_id else None
        if pool is not None:
            self._delete_pool(pool)
        self.writes += 1
        self.children.delete_listener(self.lb_id, listener.id, wait=False)
