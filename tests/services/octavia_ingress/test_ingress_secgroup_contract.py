"""``manage-security-groups`` and a given floating IP, on the real Neutron and Octavia.

A Node's ``providerID`` names a "server" whose Neutron port (made here with that device id)
gets the Ingress's security group: named like the LB, tagged as CPO tags it, with a TCP rule
from the VIP subnet to the NodePort. The Ingress asks for an existing floating IP
(``floatingip``), which is associated to its VIP once it is free (while another port holds it,
the sync is a clear error and leaves it there). On delete the port loses the group, the group
is gone, and the floating IP is released (no ``keep-floatingip``, as CPO).

Beyond CPO (whose node sync never touches security groups), on the same LB: a node added after
the Ingress is ready (its providerID in the regional form) gets the group on its server's port
at the next node sync, beside the port's other group, while its server's L2-only second port
(no IP address: no LB traffic reaches it; older Neutrons refuse a group there) is left
alone (this Neutron would accept the write: skipped by us, not refused); an idle sync writes
nothing; a node excluded from load balancers loses the group (its other group stays); a changed
NodePort moves the rule with the members; a port of a server that is no Kubernetes node keeps
the group the sync found on it.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from openstack.connection import Connection

from osk8s_core.config import CloudConfig
from osk8s_octavia_ingress import naming
from osk8s_octavia_ingress.desired import IngressError

from .conftest import WRITE_SUFFIXES, Builder, Counter, Kube, delete_lbs

pytestmark = pytest.mark.contract

P = "octavia.ingress.kubernetes.io/"


def test_security_group_and_given_floating_ip(
    kube: Kube,
    make_reconciler: Builder,
    ingress_conn: Connection,
    ingress_cloud_config: CloudConfig,
    cluster: str,
) -> None:
    net: Any = ingress_conn.network
    lb_api: Any = ingress_conn.load_balancer
    options = ingress_cloud_config.load_balancer
    server_id = str(uuid.uuid4())
    port = net.create_port(
        network_id=options.network_id, name=f"{cluster}-node", device_id=server_id
    )
    fip = net.create_ip(floating_network_id=options.floating_network_id)
    resource = naming.resource_name(cluster, "default", "guarded")
    try:
        kube.node("sg-node", port.fixed_ips[0]["ip_address"], server=server_id)
        kube.service("guarded", [{"port": 80, "nodePort": 30580}])
        kube.net.create_namespaced_ingress(
            "default",
            {
                "metadata": {
                    "name": "guarded",
                    "annotations": {
                        "kubernetes.io/ingress.class": "openstack",
                        P + "internal": "false",
                        P + "floatingip": fip.floating_ip_address,
                    },
                },
                "spec": {
                    "defaultBackend": {"service": {"name": "guarded", "port": {"number": 80}}}
                },
            },
        )
        reconciler, counter = make_reconciler(cluster, floating=True, manage_security_groups=True)
        # The given FIP is bound to another port first: a clear error, the FIP left alone.
        net.update_ip(fip.id, port_id=port.id)
        message = f"floating IP {fip.floating_ip_address} is already in use by another port"
        with pytest.raises(IngressError, match=message):
            reconciler.sync("default/guarded")
        assert net.get_ip(fip.id).port_id == port.id
        failed = [
            (e.type, e.message)
            for e in kube.core.list_namespaced_event("default").items
            if e.involved_object.name == "guarded"
        ]
        assert failed == [("Warning", message)]
        # Freed by its owner: the next pass takes it.
        net.update_ip(fip.id, port_id=None)
        assert reconciler.sync("default/guarded").action == "ensured"
        (group,) = net.security_groups(name=resource)
        assert group.description == (
            f"Security group created for Ingress default/guarded from cluster {cluster}"
        )
        assert sorted(group.tags) == sorted(["octavia.ingress.kubernetes.io", "default_guarded"])
        subnet = net.get_subnet(options.subnet_id)
        rules = {
            (r.protocol, r.port_range_min, r.port_range_max, r.remote_ip_prefix)
            for r in net.security_group_rules(security_group_id=group.id)
            if r.direction == "ingress"
        }
        assert rules == {("tcp", 30580, 30580, subnet.cidr)}
        assert group.id in net.get_port(port.id).security_group_ids
        lb = next(iter(lb_api.load_balancers(name=resource)))
        assert net.get_ip(fip.id).port_id == lb.vip_port_id
        ingress: Any = kube.net.read_namespaced_ingress("guarded", "default")
        assert ingress.status.load_balancer.ingress[0].ip == fip.floating_ip_address

        _node_sync_follows(
            kube,
            reconciler,
            counter=counter,
            conn=ingress_conn,
            options=options,
            cluster=cluster,
            group_id=group.id,
        )

        kube.net.delete_namespaced_ingress("guarded", "default")
        assert reconciler.sync("default/guarded").action == "deleted"
        assert list(net.security_groups(name=resource)) == []
        assert group.id not in net.get_port(port.id).security_group_ids
        assert list(net.ips(floating_ip_address=fip.floating_ip_address)) == []
        assert list(lb_api.load_balancers(name=resource)) == []
    finally:
        delete_lbs(ingress_conn, resource)
        net.delete_port(port.id, ignore_missing=True)
        for group in net.security_groups(name=resource):
            net.delete_security_group(group.id, ignore_missing=True)
        net.delete_ip(fip.id, ignore_missing=True)


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def _node_sync_follows(
    kube: Kube,
    reconciler: Any,
    *,
    counter: Counter,
    conn: Connection,
    options: Any,
    cluster: str,
    group_id: str,
) -> None:
    """The node sync steps, on the test's ready Ingress and its one LB (see the docstring)."""
    net: Any = conn.network
    other = net.create_security_group(name=f"{cluster}-other")
    late_server, bastion_server = str(uuid.uuid4()), str(uuid.uuid4())
    late = net.create_port(
        network_id=options.network_id,
        name=f"{cluster}-late",
        device_id=late_server,
        security_groups=[other.id],
    )
    bastion = net.create_port(
        network_id=options.network_id,
        name=f"{cluster}-bastion",
        device_id=bastion_server,
        security_groups=[other.id, group_id],
    )
    # A second port of the late server with no IP address (an L2-only network's port).
    l2_only = net.create_port(
        network_id=options.network_id,
        name=f"{cluster}-late-l2",
        device_id=late_server,
        fixed_ips=[],
    )
    try:
        assert l2_only.fixed_ips == []
        kube.node(
            "sg-late", late.fixed_ips[0]["ip_address"], server=late_server, region="RegionOne"
        )
        node_ip = next(
            a.address
            for a in kube.core.read_node("sg-node").status.addresses
            if a.type == "InternalIP"
        )
        # The Ingress is unchanged: processing it again is skipped, so only the node sync
        # can bring the group to the new node's port.
        assert reconciler.sync("default/guarded").action == "skipped"
        before = counter.writes()
        assert reconciler.sync_members() == 2
        assert _delta(before, counter.writes()) == {
            "loadbalancer_member_update": 1,
            "port_update": 1,
        }
        assert sorted(net.get_port(late.id).security_group_ids) == sorted([other.id, group_id])
        assert group_id not in net.get_port(l2_only.id).security_group_ids

        # Idle: reads (one port list for all nodes), no write.
        before_all = counter.all()
        assert reconciler.sync_members() == 0
        idle = _delta(before_all, counter.all())
        assert not {k for k in idle if k.endswith(WRITE_SUFFIXES)}, idle
        assert idle["port_list"] == 1

        # In one round (one member update, CI time): the node is excluded from load balancers
        # (out of the pool and the group, its other group stays) and the NodePort changes (the
        # members and the rule move together).
        kube.core.patch_node(
            "sg-late",
            {
                "metadata": {
                    "labels": {"node.kubernetes.io/exclude-from-external-load-balancers": ""}
                }
            },
        )
        kube.core.patch_namespaced_service(
            "guarded", "default", {"spec": {"ports": [{"port": 80, "nodePort": 30581}]}}
        )
        before = counter.writes()
        assert reconciler.sync_members() == 4
        assert _delta(before, counter.writes()) == {
            "loadbalancer_member_update": 1,
            "port_update": 1,
            "security_group_rule_create": 1,
            "security_group_rule_delete": 1,
        }
        assert net.get_port(late.id).security_group_ids == [other.id]
        lb_api: Any = conn.load_balancer
        (lb,) = lb_api.load_balancers(name=naming.resource_name(cluster, "default", "guarded"))
        (pool,) = lb_api.pools(loadbalancer_id=lb.id)
        assert {(m.address, m.protocol_port) for m in lb_api.members(pool.id)} == {(node_ip, 30581)}
        ports = {
            r.port_range_min
            for r in net.security_group_rules(security_group_id=group_id)
            if r.direction == "ingress"
        }
        assert ports == {30581}
        # Never touched: a port of a server that is no Kubernetes node.
        assert sorted(net.get_port(bastion.id).security_group_ids) == sorted([other.id, group_id])
    finally:
        net.delete_port(late.id, ignore_missing=True)
        net.delete_port(l2_only.id, ignore_missing=True)
        net.delete_port(bastion.id, ignore_missing=True)
        net.delete_security_group(other.id, ignore_missing=True)
