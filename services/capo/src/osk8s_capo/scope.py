"""A reconcile's OpenStack clients: one ``Scope`` per (identityRef, namespace), built from the
cached connection of its credential set (capo.md §3, CAPO's scope factory).

The scope hands out narrow resource modules of the core (networking, security groups, ports,
floating IPs, Octavia) over one instrumented ``OpenStackClient`` (metrics, retries, error
mapping, crash points). ``authenticate`` makes the token request explicit so a bad password
shows as ``OpenStackAuthenticationSucceeded=False`` before any other call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from osk8s_capo.credentials import ConnectionSource, IdentityRef
from osk8s_core.crashpoints import NO_CRASH_POINTS, CrashPoints
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import Logger, OpenStackClient
from osk8s_core.openstack.floating_ips import FloatingIps
from osk8s_core.openstack.lb_catalog import LoadBalancerCatalog
from osk8s_core.openstack.lb_children import LoadBalancerChildren
from osk8s_core.openstack.loadbalancers import LoadBalancers
from osk8s_core.openstack.networking import Networking
from osk8s_core.openstack.ports import Ports
from osk8s_core.openstack.security_groups import SecurityGroups
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import DEFAULT_POLICY, RetryPolicy

if TYPE_CHECKING:
    from openstack.connection import Connection


@dataclass(frozen=True)
class Scope:
    """Clients for one credential set."""

    client: OpenStackClient[Connection]
    networking: Networking
    security_groups: SecurityGroups
    ports: Ports
    floating_ips: FloatingIps
    load_balancers: LoadBalancers
    lb_children: LoadBalancerChildren
    crash_points: CrashPoints = NO_CRASH_POINTS
    """The client's crash points, for the controllers' own (``floating_ip_saved.after``)."""

    @property
    def lb_catalog(self) -> LoadBalancerCatalog:
        """Octavia's providers and flavors (looked up only when an LB is created)."""
        return LoadBalancerCatalog(self.client)

    def authenticate(self) -> str:
        """Get (or reuse) the token; returns the project ID it is scoped to."""
        conn = self.client.connection

        def token_project() -> str:
            conn.session.get_token()
            return str(conn.session.get_project_id() or "")

        return self.client.call("identity_token_get", token_project)

    def availability_zones(self) -> list[dict[str, Any]]:
        """Nova availability zones as ``{name, available}`` (``compute_availability_zone_list``)."""
        compute = self.client.service("compute")

        def listing() -> list[dict[str, Any]]:
            out = []
            for zone in compute.availability_zones(details=False):
                state = getattr(zone, "state", None) or {}
                out.append({"name": zone.name, "available": bool(state.get("available"))})
            return out

        return self.client.call("availability_zone_list", listing)


class ScopeFactory:
    """identityRef → ``Scope``; shared by every CAPO controller."""

    def __init__(
        self,
        *,
        connections: ConnectionSource,
        metrics: ApiMetrics,
        logger: Logger,
        waiter: Waiter | None = None,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
        crash_points: CrashPoints = NO_CRASH_POINTS,
    ) -> None:
        self._connections = connections
        self._metrics = metrics
        self._log = logger
        self._waiter = waiter if waiter is not None else Waiter()
        self._policy = retry_policy
        self._crash_points = crash_points

    @property
    def connections(self) -> ConnectionSource:
        return self._connections

    def scope(self, namespace: str, ref: IdentityRef) -> Scope:
        """Reads the credentials (uncached) and wraps the cached connection; raises
        ``IdentityError`` for a bad reference or Secret."""
        conn = self._connections.connection(namespace, ref)
        client: OpenStackClient[Connection] = OpenStackClient(
            conn,
            metrics=self._metrics,
            retry_policy=self._policy,
            logger=self._log,
            crash_points=self._crash_points,
        )
        lbs = LoadBalancers(client, waiter=self._waiter)
        return Scope(
            client=client,
            networking=Networking(client),
            security_groups=SecurityGroups(client),
            ports=Ports(client),
            floating_ips=FloatingIps(client),
            load_balancers=lbs,
            lb_children=LoadBalancerChildren(lbs),
            crash_points=self._crash_points,
        )
