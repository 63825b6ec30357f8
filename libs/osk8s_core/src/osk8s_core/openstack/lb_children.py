"""Octavia listeners, pools, members and health monitors of one load balancer.

Labels as CPO (``loadbalancer_listener_create``, ``loadbalancer_pool_list``,
``loadbalancer_member_delete``, ``loadbalancer_healthmonitor_get`` ...). Each create is
idempotent by the child's natural key inside its LB (listener/pool: name; member: address
+ port; monitor: its pool) and every change waits for the LB to be ACTIVE before and after
through ``LoadBalancers.wait_active``: Octavia refuses changes (409) while one is pending.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from osk8s_core.openstack.filters import named
from osk8s_core.openstack.idempotency import single
from osk8s_core.openstack.lb_calls import LoadBalancerCalls

if TYPE_CHECKING:
    from openstack.load_balancer.v2.health_monitor import HealthMonitor
    from openstack.load_balancer.v2.listener import Listener
    from openstack.load_balancer.v2.member import Member
    from openstack.load_balancer.v2.pool import Pool

    from osk8s_core.openstack.loadbalancers import LoadBalancers


class LoadBalancerChildren:
    """The parts of Octavia load balancers; shares the client and waits of ``lbs``."""

    def __init__(self, lbs: LoadBalancers) -> None:
        self._calls = LoadBalancerCalls(lbs)

    # Listeners

    def listeners(self, lb_id: str, **filters: Any) -> list[Listener]:
        calls = self._calls
        return calls.listing(
            "loadbalancer_listener_list", calls.api.listeners, load_balancer_id=lb_id, **filters
        )

    def find_listener(self, lb_id: str, name: str) -> Listener | None:
        found = named(self.listeners(lb_id, name=name), name)
        return single(found, what=f"listeners named {name!r} on load balancer {lb_id}")

    def create_listener(
        self, lb_id: str, name: str, *, protocol: str, port: int, wait: bool = True, **attrs: Any
    ) -> Listener:
        """A listener on ``lb_id``; idempotent by name within the LB (a listener of that name
        is returned as is, protocol and port left to the caller's reconcile)."""
        return self._calls.create(
            lb_id,
            "loadbalancer_listener_create",
            self._calls.api.create_listener,
            find=lambda: self.find_listener(lb_id, name),
            wait=wait,
            name=name,
            loadbalancer_id=lb_id,
            protocol=protocol,
            protocol_port=port,
            **attrs,
        )

    def delete_listener(self, lb_id: str, listener_id: str, *, wait: bool = True) -> None:
        delete = self._calls.api.delete_listener
        self._calls.delete(lb_id, "loadbalancer_listener_delete", delete, listener_id, wait=wait)

    # Pools

    def pools(self, lb_id: str, **filters: Any) -> list[Pool]:
        calls = self._calls
        return calls.listing(
            "loadbalancer_pool_list", calls.api.pools, loadbalancer_id=lb_id, **filters
        )

    def find_pool(self, lb_id: str, name: str) -> Pool | None:
        found = named(self.pools(lb_id, name=name), name)
        return single(found, what=f"pools named {name!r} on load balancer {lb_id}")

    def create_pool(
        self,
        lb_id: str,
        name: str,
        *,
        protocol: str,
        lb_algorithm: str = "ROUND_ROBIN",
        listener_id: str | None = None,
        wait: bool = True,
        **attrs: Any,
    ) -> Pool:
        """A pool on the LB (the listener's default pool when ``listener_id`` is given);
        idempotent by name within the LB."""
        owner = {"listener_id": listener_id} if listener_id else {"loadbalancer_id": lb_id}
        return self._calls.create(
            lb_id,
            "loadbalancer_pool_create",
            self._calls.api.create_pool,
            find=lambda: self.find_pool(lb_id, name),
            wait=wait,
            name=name,
            protocol=protocol,
            lb_algorithm=lb_algorithm,
            **owner,
            **attrs,
        )

    def delete_pool(self, lb_id: str, pool_id: str, *, wait: bool = True) -> None:
        delete = self._calls.api.delete_pool
        self._calls.delete(lb_id, "loadbalancer_pool_delete", delete, pool_id, wait=wait)

    # Members

    def members(self, pool_id: str, **filters: Any) -> list[Member]:
        calls = self._calls
        return calls.listing("loadbalancer_member_list", calls.api.members, pool_id, **filters)

    def find_member(self, pool_id: str, address: str, port: int) -> Member | None:
        found = [
            m
            for m in self.members(pool_id, address=address, protocol_port=port)
            if m.address == address and m.protocol_port == port
        ]
        return single(found, what=f"members {address}:{port} of pool {pool_id}")

    def create_member(
        self,
        lb_id: str,
        pool_id: str,
        *,
        address: str,
        port: int,
        subnet_id: str | None = None,
        wait: bool = True,
        **attrs: Any,
    ) -> Member:
        """A member ``address:port``; idempotent by that pair within the pool (Octavia's own
        uniqueness rule), so a repeated create returns the member made before."""
        if subnet_id is not None:
            attrs["subnet_id"] = subnet_id
        return self._calls.create(
            lb_id,
            "loadbalancer_member_create",
            self._calls.api.create_member,
            find=lambda: self.find_member(pool_id, address, port),
            wait=wait,
            pool=pool_id,
            address=address,
            protocol_port=port,
            **attrs,
        )

    def delete_member(self, lb_id: str, pool_id: str, member_id: str, *, wait: bool = True) -> None:
        delete = self._calls.api.delete_member
        self._calls.delete(
            lb_id, "loadbalancer_member_delete", delete, member_id, pool_id, wait=wait
        )

    # Health monitors

    def health_monitors(self, pool_id: str) -> list[HealthMonitor]:
        calls = self._calls
        return calls.listing(
            "loadbalancer_healthmonitor_list", calls.api.health_monitors, pool_id=pool_id
        )

    def find_health_monitor(self, pool_id: str) -> HealthMonitor | None:
        return single(self.health_monitors(pool_id), what=f"health monitors of pool {pool_id}")

    def create_health_monitor(
        self,
        lb_id: str,
        pool_id: str,
        *,
        monitor_type: str,
        delay: int,
        timeout: int,
        max_retries: int,
        name: str | None = None,
        wait: bool = True,
        **attrs: Any,
    ) -> HealthMonitor:
        """The pool's monitor; idempotent per pool (Octavia allows one per pool)."""
        if name is not None:
            attrs["name"] = name
        return self._calls.create(
            lb_id,
            "loadbalancer_healthmonitor_create",
            self._calls.api.create_health_monitor,
            find=lambda: self.find_health_monitor(pool_id),
            wait=wait,
            pool_id=pool_id,
            type=monitor_type,
            delay=delay,
            timeout=timeout,
            max_retries=max_retries,
            **attrs,
        )

    def delete_health_monitor(self, lb_id: str, monitor_id: str, *, wait: bool = True) -> None:
        delete = self._calls.api.delete_health_monitor
        self._calls.delete(
            lb_id, "loadbalancer_healthmonitor_delete", delete, monitor_id, wait=wait
        )
