"""``manage-security-groups`` and a given floating IP, on the real Neutron and Octavia.

A Node's ``providerID`` names a "server" whose Neutron port (made here with that device id)
gets the Ingress's security group: named like the LB, tagged as CPO tags it, with a TCP rule
from the VIP subnet to the NodePort. The Ingress asks for an existing floating IP
(``floatingip``), which is associated to its VIP once it is free (while another port holds it,
the sync is a clear error and leaves it there). On delete the port loses the group, the group
is gone, and the floating IP is released (no ``keep-floatingip``, as CPO).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from openstack.connection import Connection

from osk8s_core.config import CloudConfig
from osk8s_octavia_ingress import naming
from osk8s_octavia_ingress.desired import IngressError

from .conftest import Builder, Kube, delete_lbs

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
        kube.core.create_node(
            {"metadata": {"name": "sg-node"}, "spec": {"providerID": f"openstack:///{server_id}"}}
        )
        kube.core.patch_node_status(
            "sg-node",
            {
                "status": {
                    "addresses": [
                        {"type": "InternalIP", "address": port.fixed_ips[0]["ip_address"]}
                    ],
                    "conditions": [{"type": "Ready", "status": "True"}],
                }
            },
        )
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
        reconciler, _ = make_reconciler(cluster, floating=True, manage_security_groups=True)
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
