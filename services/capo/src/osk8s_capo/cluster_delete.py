"""Deleting a cluster's OpenStack objects in CAPO's order (capo.md §2.8), from deterministic
names as well as status (status may be lost), never touching what the user supplied.

Order: API LB (cascade; its floating IP first unless the user gave it), then the managed
network (router interfaces, the managed router, leftover ports named after the cluster, the
network), then the security groups, then the no-LB API floating IP we made. Each step is
idempotent; a step that must wait returns ``Pending`` and the caller requeues.
Load balancers on the cluster network that we did not make (OCCM's Services) are reported,
and deleted only when the OpenStackCluster opts in with ``FOREIGN_LB_ANNOTATION`` (osk8s).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from osk8s_capo import naming
from osk8s_capo.cluster_endpoint import fip_description
from osk8s_capo.cluster_network import ClusterRef
from osk8s_capo.scope import Scope
from osk8s_core import errors
from osk8s_core.openstack.loadbalancers import GONE_STATUSES, provisioning_status
from osk8s_core.openstack.server_groups import ServerGroups

FOREIGN_LB_ANNOTATION: Final = "capo.osk8s.io/delete-foreign-load-balancers"
"""osk8s (not CAPO): "true" lets cluster deletion cascade-delete load balancers on the
cluster network that CAPO did not create (e.g. OCCM's Service LBs), which otherwise block
the network's deletion forever (CAPO #842)."""


LB_DELETE_REQUEUE: Final = 15.0
"""capo.md §2.12: an API load balancer being deleted is looked at again after 15 s (CAPO's
``waitForOctaviaLBCleanup``); so are load balancers that block the network."""


Tell = Callable[[str, str], None]
"""Reports a deletion as CAPO's event (reason, message): ``SuccessfulDelete<Kind>``."""


def _quiet(reason: str, message: str) -> None:
    del reason, message


def _deleted(tell: Tell, kind: str, words: str, name: str, object_id: str) -> None:
    tell(f"SuccessfulDelete{kind}", f"Deleted {words} {name} with id {object_id}")


@contextmanager
def _deleting(
    kind: str, words: str, name: str, object_id: str, *, tell: Tell, warn: Tell
) -> Iterator[None]:
    """One delete call, told as CAPO: ``SuccessfulDelete<Kind>``, or the Warning
    ``FailedDelete<Kind>`` with the OpenStack message (and the error goes on)."""
    try:
        yield
    except errors.OpenStackError as exc:
        warn(f"FailedDelete{kind}", f"Failed to delete {words} {name} with id {object_id}: {exc}")
        raise
    _deleted(tell, kind, words, name, object_id)


@dataclass(frozen=True)
class Pending:
    """Deletion is under way; look again after ``after`` seconds."""

    reason: str
    after: float = 5.0


def delete_api_load_balancer(
    scope: Scope,
    cluster: ClusterRef,
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    *,
    tell: Tell = _quiet,
    warn: Tell = _quiet,
) -> Pending | None:
    lbs = scope.load_balancers
    name = naming.load_balancer_name(cluster.namespace, cluster.name)
    known = (status.get("apiServerManagedLoadBalancer") or {}).get("id")
    lb = None
    if known:
        try:
            lb = lbs.get(known)
        except errors.NotFound:
            lb = None
    if lb is None:
        found = [x for x in lbs.query(name=name) if x.name == name]
        lb = found[0] if found else None
    if lb is None:
        return None
    state = provisioning_status(lb)
    if state in GONE_STATUSES:
        return Pending(f"load balancer {lb.id} is being deleted", after=LB_DELETE_REQUEUE)
    user_fip = (spec.get("apiServer") or {}).get("floatingIP")
    if lb.vip_port_id:
        for fip in scope.floating_ips.query(port_id=lb.vip_port_id):
            if user_fip and fip.floating_ip_address == user_fip:
                scope.floating_ips.disassociate(fip.id)
            else:
                address = fip.floating_ip_address
                with _deleting("FloatingIP", "floating IP", address, fip.id, tell=tell, warn=warn):
                    scope.floating_ips.delete(fip.id)
    if state.startswith("PENDING"):
        return Pending(f"load balancer {lb.id} is {state}", after=LB_DELETE_REQUEUE)
    with _deleting("LoadBalancer", "load balancer", lb.name, lb.id, tell=tell, warn=warn):
        lbs.delete(lb.id, cascade=True)
    return Pending(f"load balancer {lb.id} deletion requested", after=LB_DELETE_REQUEUE)


def foreign_load_balancers(scope: Scope, network_id: str, ours: str) -> list[Any]:
    """LBs with a VIP on the cluster network other than our API LB."""
    return [
        lb
        for lb in scope.load_balancers.query(vip_network_id=network_id)
        if lb.name != ours and provisioning_status(lb) not in GONE_STATUSES
    ]


def delete_network(
    scope: Scope,
    cluster: ClusterRef,
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    *,
    delete_foreign: bool,
    tell: Tell = _quiet,
    warn: Tell = _quiet,
) -> Pending | None:
    """The managed network, subnet and router; an existing (user) network is left alone."""
    if not spec.get("managedSubnets"):
        return None
    net = scope.networking
    name = cluster.managed_name
    network = net.find_network(name)
    subnets = net.subnets(network_id=network.id) if network is not None else []
    if network is not None:
        foreign = foreign_load_balancers(
            scope, network.id, naming.load_balancer_name(cluster.namespace, cluster.name)
        )
        if foreign:
            if not delete_foreign:
                ids = ", ".join(sorted(lb.id for lb in foreign))
                return Pending(
                    f"load balancers not made by this controller use the network: {ids}",
                    LB_DELETE_REQUEUE,
                )
            for lb in foreign:
                if not provisioning_status(lb).startswith("PENDING"):
                    scope.load_balancers.delete(lb.id, cascade=True)
            return Pending("deleting foreign load balancers", after=LB_DELETE_REQUEUE)
    user_router = bool(spec.get("router"))
    router = None
    if user_router:
        known = (status.get("router") or {}).get("id")
        router = net.get_router(known) if known else None
    else:
        router = net.find_router(name)
    if router is not None:
        for subnet in subnets:
            net.remove_router_interface(router.id, subnet.id)
        if not user_router:
            with _deleting("Router", "router", router.name, router.id, tell=tell, warn=warn):
                net.delete_router(router.id)
    if network is None:
        return None
    # Leftover ports named after the cluster (machines that went away uncleanly).
    for port in scope.ports.query(network_id=network.id):
        port_name = port.name or ""
        if port_name.startswith(f"{cluster.name}-") and port.device_owner in (
            "",
            None,
            "compute:nova",
        ):
            scope.ports.delete(port.id)
    for subnet in subnets:
        if subnet.name == name:
            net.delete_subnet(subnet.id)
    with _deleting("Network", "network", network.name, network.id, tell=tell, warn=warn):
        net.delete_network(network.id)
    return None


def delete_security_groups(
    scope: Scope, cluster: ClusterRef, *, tell: Tell = _quiet, warn: Tell = _quiet
) -> None:
    """All three groups by name (the bastion one too, even when disabled)."""
    sgs = scope.security_groups
    for role in naming.SECGROUP_ROLES:
        group = sgs.find_by_name(naming.security_group_name(cluster.namespace, cluster.name, role))
        if group is not None:
            with _deleting(
                "SecurityGroup", "security group", group.name, group.id, tell=tell, warn=warn
            ):
                sgs.delete(group.id)


def delete_control_plane_server_group(
    scope: Scope, namespace: str, cluster_name: str, *, tell: Tell = _quiet, warn: Tell = _quiet
) -> None:
    """Beyond CAPO: the opt-in control-plane server group the machine controller made for this
    cluster (found by its one name; a group the user named in a machine spec is never touched).
    Runs once every machine is gone, so no server of ours is still in it."""
    groups = ServerGroups(scope.client)
    group = groups.find(naming.control_plane_server_group_name(namespace, cluster_name))
    if group is not None:
        with _deleting("ServerGroup", "server group", group.name, group.id, tell=tell, warn=warn):
            groups.delete(group.id)


def delete_api_floating_ip(
    scope: Scope,
    cluster: ClusterRef,
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    *,
    tell: Tell = _quiet,
    warn: Tell = _quiet,
) -> None:
    """The no-LB API floating IP we made (by our description); never the user's."""
    external = (status.get("externalNetwork") or {}).get("id")
    if not external:
        return
    user_fip = (spec.get("apiServer") or {}).get("floatingIP")
    for fip in scope.floating_ips.query(
        floating_network_id=external, description=fip_description(cluster)
    ):
        if fip.description == fip_description(cluster) and fip.floating_ip_address != user_fip:
            address = fip.floating_ip_address
            with _deleting("FloatingIP", "floating IP", address, fip.id, tell=tell, warn=warn):
                scope.floating_ips.delete(fip.id)
