"""Octavia writes beyond plain create/delete: a fully populated LB create, a listener created
with its default pool tree, in-place updates of listeners, pools and monitors, and the batch
replacement of a pool's members.

Labels as CPO (``loadbalancer_create``, ``loadbalancer_listener_update``,
``loadbalancer_pool_update``, ``loadbalancer_member_update``,
``loadbalancer_healthmonitor_get``/``_update``). Every mutation waits for the LB to be ACTIVE
before it (Octavia answers 409 while a change is pending) and, when asked, after it; creates
are idempotent by name like those of ``lb_children``. No CCM policy lives here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from osk8s_core.openstack.idempotency import create_after_lookup, create_once
from osk8s_core.openstack.lb_calls import LoadBalancerCalls
from osk8s_core.openstack.raw import checked

if TYPE_CHECKING:
    from openstack.load_balancer.v2.health_monitor import HealthMonitor
    from openstack.load_balancer.v2.listener import Listener
    from openstack.load_balancer.v2.load_balancer import LoadBalancer
    from openstack.load_balancer.v2.pool import Pool

    from osk8s_core.openstack.lb_children import LoadBalancerChildren
    from osk8s_core.openstack.loadbalancers import LoadBalancers, LoadBalancerSpec


class LoadBalancerUpdates:
    """Populated creates and in-place updates of one project's LB trees."""

    def __init__(self, lbs: LoadBalancers, children: LoadBalancerChildren) -> None:
        self._lbs = lbs
        self._children = children
        self._calls = LoadBalancerCalls(lbs)

    def create_populated(
        self,
        spec: LoadBalancerSpec,
        listeners: Sequence[Mapping[str, Any]],
        *,
        wait: bool = True,
        pools: Sequence[Mapping[str, Any]] = (),
        looked_up: bool = False,
    ) -> LoadBalancer:
        """One POST with the LB and its listeners, pools, members and monitors (Octavia's
        "fully populated" create). Idempotent by the LB name like ``LoadBalancers.create``:
        an LB found by name is returned as it is (its tree is the caller's reconcile).
        ``pools``: LB-level pools that listeners' ``default_pool`` and L7 policies'
        ``redirect_pool`` name as ``{"name": ...}`` (the ingress controller's shared pools).
        ``looked_up``: the caller just found no LB of that name, so that lookup is skipped (a
        lost answer still looks again)."""
        attrs = {**spec.attributes(), "listeners": [dict(item) for item in listeners]}
        if pools:
            attrs["pools"] = [dict(item) for item in pools]

        def find() -> LoadBalancer | None:
            return self._lbs.find_by_name(spec.name)

        def create() -> LoadBalancer:
            return self._calls.client.call(
                "loadbalancer_create",
                self._lbs.api.create_load_balancer,
                idempotent=False,
                **attrs,
            )

        lb = (
            create_after_lookup(find=find, create=create, check=lambda found: found)
            if looked_up
            else create_once(find=find, create=create)
        )
        return self._lbs.wait_active(lb.id) if wait else lb

    def create_listener_tree(
        self, lb_id: str, attributes: Mapping[str, Any], *, wait: bool = True
    ) -> Listener:
        """A listener with its ``default_pool`` (members, monitor) in one POST; idempotent by
        the listener's name within the LB."""
        name = str(attributes["name"])
        return self._calls.create(
            lb_id,
            "loadbalancer_listener_create",
            self._calls.api.create_listener,
            find=lambda: self._children.find_listener(lb_id, name),
            wait=wait,
            loadbalancer_id=lb_id,
            **attributes,
        )

    def update_listener(
        self, lb_id: str, listener_id: str, *, wait: bool = True, **attrs: Any
    ) -> Listener:
        update = self._calls.api.update_listener
        return self._calls.update(
            lb_id, "loadbalancer_listener_update", update, listener_id, wait=wait, **attrs
        )

    def update_pool(self, lb_id: str, pool_id: str, *, wait: bool = True, **attrs: Any) -> Pool:
        update = self._calls.api.update_pool
        return self._calls.update(
            lb_id, "loadbalancer_pool_update", update, pool_id, wait=wait, **attrs
        )

    def replace_members(
        self,
        lb_id: str,
        pool_id: str,
        members: Sequence[Mapping[str, Any]],
        *,
        wait: bool = True,
    ) -> None:
        """Octavia's batch member update: the pool's members become exactly ``members``
        (matched by address and port; others created or deleted). A repeat is harmless."""
        api = self._calls.api
        body = {"members": [dict(m) for m in members]}
        self._calls.write(
            lb_id,
            "loadbalancer_member_update",
            lambda: checked(api.put(f"/lbaas/pools/{pool_id}/members", json=body)),
            wait=wait,
        )

    def get_health_monitor(self, monitor_id: str) -> HealthMonitor:
        return self._calls.client.call(
            "loadbalancer_healthmonitor_get", self._calls.api.get_health_monitor, monitor_id
        )

    def update_health_monitor(
        self, lb_id: str, monitor_id: str, *, wait: bool = True, **attrs: Any
    ) -> HealthMonitor:
        update = self._calls.api.update_health_monitor
        return self._calls.update(
            lb_id, "loadbalancer_healthmonitor_update", update, monitor_id, wait=wait, **attrs
        )
