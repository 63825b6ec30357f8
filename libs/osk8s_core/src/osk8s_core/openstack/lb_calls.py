"""The one shape of every call on the children of an Octavia load balancer.

Listeners, pools, members, health monitors, L7 policies and rules (``lb_children``,
``lb_l7``, ``lb_updates``) are listed, created, updated and deleted alike: through the core's
client (retry, metrics under the caller's CPO label), every mutation between two waits for
the LB to be ACTIVE (Octavia answers 409 while a change is pending), creates find first
(``create_once``), deletes treat "already gone" as done. No resource knowledge lives here:
the callers pass the proxy method and the label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from osk8s_core.openstack.idempotency import create_once

if TYPE_CHECKING:
    from openstack.connection import Connection
    from openstack.load_balancer.v2._proxy import Proxy as LoadBalancerApi

    from osk8s_core.openstack.client import OpenStackClient
    from osk8s_core.openstack.loadbalancers import LoadBalancers

T = TypeVar("T")


class LoadBalancerCalls:
    """Reads and writes of LB children; shares the client and waits of ``lbs``."""

    def __init__(self, lbs: LoadBalancers) -> None:
        self._lbs = lbs

    @property
    def api(self) -> LoadBalancerApi:
        return self._lbs.api

    @property
    def client(self) -> OpenStackClient[Connection]:
        return self._lbs.client

    def listing(
        self, request: str, fn: Callable[..., Iterable[T]], /, *args: Any, **filters: Any
    ) -> list[T]:
        """``fn(*args, **filters)`` read to the end inside one call (pages included)."""
        return self.client.call(request, lambda: list(fn(*args, **filters)))

    def change(self, lb_id: str, fn: Callable[[], T], /, *, wait: bool) -> T:
        """Run one mutation of the LB tree between two "ACTIVE" waits (the second one only
        when ``wait``)."""
        self._lbs.wait_active(lb_id)
        result = fn()
        if wait:
            self._lbs.wait_active(lb_id)
        return result

    def write(self, lb_id: str, request: str, fn: Callable[[], T], /, *, wait: bool) -> T:
        """``fn`` as the retried, counted request ``request``, as one change of ``lb_id``."""
        return self.change(lb_id, lambda: self.client.call(request, fn), wait=wait)

    def create(
        self,
        lb_id: str,
        request: str,
        make: Callable[..., T],
        /,
        *args: Any,
        find: Callable[[], T | None],
        wait: bool,
        **attrs: Any,
    ) -> T:
        """``find()``, else ``make(*args, **attrs)`` once (never retried blindly; a lost
        answer looks again), as one change of ``lb_id``."""

        def create() -> T:
            return self.client.call(request, make, *args, idempotent=False, **attrs)

        return self.change(lb_id, lambda: create_once(find=find, create=create), wait=wait)

    def update(
        self,
        lb_id: str,
        request: str,
        fn: Callable[..., T],
        resource_id: str,
        /,
        *,
        wait: bool,
        **attrs: Any,
    ) -> T:
        """``fn(resource_id, **attrs)``; the same values again are harmless."""
        return self.write(lb_id, request, lambda: fn(resource_id, **attrs), wait=wait)

    def delete(
        self, lb_id: str, request: str, fn: Callable[..., object], /, *ids: str, wait: bool
    ) -> None:
        """``fn(*ids)``; a child already gone (404) is success."""
        self.write(lb_id, request, lambda: fn(*ids, ignore_missing=True), wait=wait)
