"""Octavia load balancers: create (idempotent by name), get, find, list, delete (cascade),
and the one "wait until ACTIVE" every change to an LB tree goes through.

Labels as CPO: ``loadbalancer_create``/``_get``/``_list``/``_update``/``_delete``. Listeners,
pools, members and monitors are in ``lb_children``. Octavia locks an LB while a change is
applied (PENDING_*), and answers 409 to a change meanwhile, so every mutation here and there
waits for ACTIVE first and, by default, after. No CCM naming or sharing policy lives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

from osk8s_core.openstack.filters import named
from osk8s_core.openstack.idempotency import create_once, single
from osk8s_core.openstack.waiting import Waiter

if TYPE_CHECKING:
    from openstack.connection import Connection
    from openstack.load_balancer.v2._proxy import Proxy as LoadBalancerApi
    from openstack.load_balancer.v2.load_balancer import LoadBalancer

    from osk8s_core.openstack.client import OpenStackClient

# Matches CPO: an LB on its way out is not "the LB of this name" any more.
GONE_STATUSES: Final = frozenset({"DELETED", "PENDING_DELETE"})


def provisioning_status(resource: object) -> str:
    """Octavia's lifecycle field (``status`` would be the operating status)."""
    return str(getattr(resource, "provisioning_status", "") or "")


@dataclass(frozen=True)
class LoadBalancerSpec:
    """A load balancer to create; ``name`` is the idempotency key. Give the VIP by one of
    ``vip_port_id``, ``vip_subnet_id`` or ``vip_network_id`` (Octavia's precedence)."""

    name: str
    vip_subnet_id: str | None = None
    vip_network_id: str | None = None
    vip_port_id: str | None = None
    vip_address: str | None = None
    description: str | None = None
    provider: str | None = None
    flavor_id: str | None = None
    availability_zone: str | None = None
    tags: Sequence[str] = ()
    """Octavia >= 2.5 only; CPO tags an LB with the names of the Services using it."""

    def attributes(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "vip_subnet_id": self.vip_subnet_id,
            "vip_network_id": self.vip_network_id,
            "vip_port_id": self.vip_port_id,
            "vip_address": self.vip_address,
            "description": self.description,
            "provider": self.provider,
            "flavor_id": self.flavor_id,
            "availability_zone": self.availability_zone,
        }
        attrs = {"name": self.name, **{k: v for k, v in values.items() if v is not None}}
        if self.tags:
            attrs["tags"] = list(self.tags)
        return attrs


class LoadBalancers:
    """Octavia load balancers of the client's project."""

    def __init__(
        self, client: OpenStackClient[Connection], *, waiter: Waiter | None = None
    ) -> None:
        self._client = client
        self._waiter = waiter if waiter is not None else Waiter()

    @property
    def client(self) -> OpenStackClient[Connection]:
        return self._client

    @property
    def api(self) -> LoadBalancerApi:
        return cast("LoadBalancerApi", self._client.service("load_balancer"))

    def get(self, lb_id: str) -> LoadBalancer:
        """The load balancer; NotFound when it does not exist."""
        return self._client.call("loadbalancer_get", self.api.get_load_balancer, lb_id)

    def query(self, **filters: Any) -> list[LoadBalancer]:
        """LBs matching Octavia's filters (``name``, ``vip_port_id``, ``tags``...)."""
        return self._client.call(
            "loadbalancer_list", lambda: list(self.api.load_balancers(**filters))
        )

    def find_by_name(self, name: str) -> LoadBalancer | None:
        """The live LB named ``name`` (DELETED/PENDING_DELETE ignored); AmbiguousMatch if
        several (matches CPO, which refuses to guess)."""
        live = [
            lb
            for lb in named(self.query(name=name), name)
            if provisioning_status(lb) not in GONE_STATUSES
        ]
        return single(live, what=f"load balancers named {name!r}")

    def create(self, spec: LoadBalancerSpec, *, wait: bool = True) -> LoadBalancer:
        """Create, or return the live LB of that name an earlier (maybe crashed) call made.

        Idempotent by name: an existing LB is returned without comparing its VIP (CCM
        reconciles the rest); a lost create answer is resolved by looking the name up again.
        ``wait``: until ACTIVE; ResourceError if it goes to ERROR (CPO then deletes it).
        """
        lb = create_once(
            find=lambda: self.find_by_name(spec.name),
            create=lambda: self._client.call(
                "loadbalancer_create",
                self.api.create_load_balancer,
                idempotent=False,
                **spec.attributes(),
            ),
        )
        return self.wait_active(lb.id) if wait else lb

    def update(self, lb_id: str, *, wait: bool = True, **attrs: Any) -> LoadBalancer:
        """Change attributes (``description``, ``tags``...); setting the same values again
        is harmless."""
        self.wait_active(lb_id)
        updated = self._client.call(
            "loadbalancer_update", lambda: self.api.update_load_balancer(lb_id, **attrs)
        )
        return self.wait_active(lb_id) if wait else updated

    def wait_active(self, lb_id: str) -> LoadBalancer:
        """Poll until provisioning_status is ACTIVE; ResourceError on ERROR. Every change
        to the LB or one of its children ends here."""
        return self._waiter.until(
            lambda: self.get(lb_id),
            target="ACTIVE",
            failure=("ERROR",),
            describe=f"load balancer {lb_id}",
            status_of=provisioning_status,
        )

    def delete(self, lb_id: str, *, cascade: bool = False, wait: bool = False) -> None:
        """Delete the LB; ``cascade`` removes listeners, pools, members and monitors with it
        in one call (Octavia >= 2.0). An LB already gone is success. Octavia refuses (409
        Conflict) while a change is pending: callers wait for ACTIVE (or ERROR) first, as CPO
        does."""
        self._client.call(
            "loadbalancer_delete",
            lambda: self.api.delete_load_balancer(lb_id, ignore_missing=True, cascade=cascade),
        )
        if wait:
            self._waiter.until_gone(
                lambda: self.get(lb_id),
                describe=f"load balancer {lb_id} deletion",
                failure=("ERROR",),
                status_of=provisioning_status,
            )
