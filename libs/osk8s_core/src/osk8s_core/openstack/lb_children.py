"""Octavia listeners, pools, members and health monitors of one load balancer.

Labels as CPO (``loadbalancer_listener_create``, ``loadbalancer_pool_list``,
``loadbalancer_member_delete``, ``loadbalancer_healthmonitor_get`` ...). Each create is
idempotent by the child's natural key inside its LB (listener/pool: name; member: address
+ port; monitor: its pool) and every change waits for the LB to be ACTIVE before and after
through ``LoadBalancers.wait_active``: Octavia refuses changes (409) while one is pending.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from osk8s_core.openstack.filters import named
from osk8s_core.openstack.idempotency import create_once, single

if TYPE_CHECKING:
    from openstack.load_balancer.v2.health_monitor import HealthMonitor
    from openstack.load_balancer.v2.listener import Listener
    from openstack.load_balancer.v2.member import Member
    from openstack.load_balancer.v2.pool import Pool

    from osk8s_core.openstack.loadbalancers import LoadBalancers

T = TypeVar("T")


class LoadBalancerChildren:
    """The parts of Octavia load balancers; shares the client and waits of ``lbs``."""

    def __init__(self, lbs: LoadBalancers) -> None:
        self._lbs = lbs
        self._client = lbs.client

    def _change(self, lb_id: str, fn: Callable[[], T], *, wait: bool) -> T:
        """Run one mutation of the LB tree between two "ACTIVE" waits."""
        self._lbs.wait_active(lb_id)
        result = fn()
        if wait:
            self._lbs.wait_active(lb_id)
        return result

    def _create(
        self,
        lb_id: str,
        label: str,
        *,
        find: Callable[[], T | None],
        make: Callable[..., T],
        wait: bool,
        **attrs: Any,
    ) -> T:
        def create() -> T:
            return self._client.call(label, make, idempotent=False, **attrs)

        return self._change(lb_id, lambda: create_once(find=find, create=create), wait=wait)

    # Listeners

    def listeners(self, lb_id: str, **filters: Any) -> list[Listener]:
        api = self._lbs.api
        return self._client.call(
            "loadbalancer_listener_list",
            lambda: list(api.listeners(load_balancer_id=lb_id, **filters)),
        )

    def find_listener(self, lb_id: str, name: str) -> Listener | None:
        found = named(self.listeners(lb_id, name=name), name)
        return single(found, what=f"listeners named {name!r} on load balancer {lb_id}")

    def create_listener(
        self, lb_id: str, name: str, *, protocol: str, port: int, wait: bool = True, **attrs: Any
    ) -> Listener:
        """A listener on ``lb_id``; idempotent by name within the LB (a listener of that name
        is returned as is, protocol and port left to the caller's reconcile)."""
        return self._create(
            lb_id,
            "loadbalancer_listener_create",
            find=lambda: self.find_listener(lb_id, name),
            make=self._lbs.api.create_listener,
            wait=wait,
            name=name,
            loadbalancer_id=lb_id,
            protocol=protocol,
            protocol_port=port,
            **attrs,
        )

    def delete_listener(self, lb_id: str, listener_id: str, *, wait: bool = True) -> None:
        api = self._lbs.api
        self._change(
            lb_id,
            lambda: self._client.call(
                "loadbalancer_listener_delete",
                lambda: api.delete_listener(listener_id, ignore_missing=True),
            ),
            wait=wait,
        )

    # Pools

    def pools(self, lb_id: str, **filters: Any) -> list[Pool]:
        api = self._lbs.api
        return self._client.call(
            "loadbalancer_pool_list",
            lambda: list(api.pools(loadbalancer_id=lb_id, **filters)),
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
        return self._create(
            lb_id,
            "loadbalancer_pool_create",
            find=lambda: self.find_pool(lb_id, name),
            make=self._lbs.api.create_pool,
            wait=wait,
            name=name,
            protocol=protocol,
            lb_algorithm=lb_algorithm,
            **owner,
            **attrs,
        )

    def delete_pool(self, lb_id: str, pool_id: str, *, wait: bool = True) -> None:
        api = self._lbs.api
        self._change(
            lb_id,
            lambda: self._client.call(
                "loadbalancer_pool_delete", lambda: api.delete_pool(pool_id, ignore_missing=True)
            ),
            wait=wait,
        )

    # Members

    def members(self, pool_id: str, **filters: Any) -> list[Member]:
        api = self._lbs.api
        return self._client.call(
            "loadbalancer_member_list", lambda: list(api.members(pool_id, **filters))
        )

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
        return self._create(
            lb_id,
            "loadbalancer_member_create",
            find=lambda: self.find_member(pool_id, address, port),
            make=self._lbs.api.create_member,
            wait=wait,
            pool=pool_id,
            address=address,
            protocol_port=port,
            **attrs,
        )

    def delete_member(self, lb_id: str, pool_id: str, member_id: str, *, wait: bool = True) -> None:
        api = self._lbs.api
        self._change(
            lb_id,
            lambda: self._client.call(
                "loadbalancer_member_delete",
                lambda: api.delete_member(member_id, pool_id, ignore_missing=True),
            ),
            wait=wait,
        )

    # Health monitors

    def health_monitors(self, pool_id: str) -> list[HealthMonitor]:
        api = self._lbs.api
        return self._client.call(
            "loadbalancer_healthmonitor_list", lambda: list(api.health_monitors(pool_id=pool_id))
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
        return self._create(
            lb_id,
            "loadbalancer_healthmonitor_create",
            find=lambda: self.find_health_monitor(pool_id),
            make=self._lbs.api.create_health_monitor,
            wait=wait,
            pool_id=pool_id,
            type=monitor_type,
            delay=delay,
            timeout=timeout,
            max_retries=max_retries,
            **attrs,
        )

    def delete_health_monitor(self, lb_id: str, monitor_id: str, *, wait: bool = True) -> None:
        api = self._lbs.api
        self._change(
            lb_id,
            lambda: self._client.call(
                "loadbalancer_healthmonitor_delete",
                lambda: api.delete_health_monitor(monitor_id, ignore_missing=True),
            ),
            wait=wait,
        )
