"""Neutron as CAPO and OCCM use it: the extensions they probe for, each exercised, and
floating IP status reported as an L3 agent would (ACTIVE when associated, DOWN when not).

All as the non-admin demo user on the demo network (attached to the demo router, so floating
IPs can be associated), each test deleting what it made.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from openstack import exceptions
from openstack.connection import Connection

from .conftest import TestCloud

pytestmark = pytest.mark.contract

# What OCCM's routes controller (extraroute / extraroute-atomic), CAPO (trunk, tags, port
# security, allowed address pairs) and CPO's LB code (allowed-address-pairs) look for.
EXPECTED = {
    "extraroute",
    "extraroute-atomic",
    "allowed-address-pairs",
    "trunk",
    "trunk-details",
    "standard-attr-tag",
    "port-security",
}


@contextlib.contextmanager
def _deleting() -> Iterator[list[Callable[[], object]]]:
    """Collects delete calls; runs them newest first, even when the test failed."""
    deletes: list[Callable[[], object]] = []
    try:
        yield deletes
    finally:
        for delete in reversed(deletes):
            with contextlib.suppress(exceptions.SDKException):
                delete()


def test_extensions_capo_and_occm_need_are_listed(demo_conn: Connection) -> None:
    aliases = {ext.alias for ext in demo_conn.network.extensions()}
    assert aliases >= EXPECTED, f"missing: {sorted(EXPECTED - aliases)}"


def test_floating_ip_status_follows_association(
    demo_conn: Connection, testcloud: TestCloud, name: str
) -> None:
    net: Any = demo_conn.network
    with _deleting() as deletes:
        port = net.create_port(name=name, network_id=testcloud.network["network_id"])
        deletes.append(lambda: net.delete_port(port))
        fip = net.create_ip(floating_network_id=testcloud.network["floating_network_id"])
        deletes.append(lambda: net.delete_ip(fip))
        assert fip.status == "DOWN"
        associated = net.update_ip(fip, port_id=port.id)
        assert associated.status == "ACTIVE"  # in the answer already, as with OVN
        assert net.get_ip(fip.id).status == "ACTIVE"
        disassociated = net.update_ip(fip, port_id=None)
        assert disassociated.status == "DOWN"
        assert net.get_ip(fip.id).status == "DOWN"
        # Created straight onto a port: ACTIVE; the port deleted under it: DOWN again.
        fip2 = net.create_ip(
            floating_network_id=testcloud.network["floating_network_id"], port_id=port.id
        )
        deletes.append(lambda: net.delete_ip(fip2))
        assert fip2.status == "ACTIVE"
        net.delete_port(port)
        after = net.get_ip(fip2.id)
        assert after.port_id is None
        assert after.status == "DOWN"


def test_extraroute_atomic_add_and_remove(
    demo_conn: Connection, testcloud: TestCloud, name: str
) -> None:
    net: Any = demo_conn.network
    with _deleting() as deletes:
        # A router of its own: routes on the shared demo router would disturb other tests.
        network = net.create_network(name=name)
        deletes.append(lambda: net.delete_network(network))
        subnet = net.create_subnet(
            name=name, network_id=network.id, ip_version=4, cidr="198.51.100.0/24"
        )
        deletes.append(lambda: net.delete_subnet(subnet))
        router = net.create_router(name=name)
        deletes.append(lambda: net.delete_router(router))
        net.add_interface_to_router(router, subnet_id=subnet.id)
        deletes.append(lambda: net.remove_interface_from_router(router, subnet_id=subnet.id))
        pod_a = {"destination": "10.244.1.0/24", "nexthop": "198.51.100.11"}
        pod_b = {"destination": "10.244.2.0/24", "nexthop": "198.51.100.12"}
        net.add_extra_routes_to_router(router, {"router": {"routes": [pod_a, pod_b]}})
        assert _routes(net, router) == [pod_a, pod_b]
        # Adding one already there changes nothing (what OCCM's retries rely on).
        net.add_extra_routes_to_router(router, {"router": {"routes": [pod_a]}})
        assert _routes(net, router) == [pod_a, pod_b]
        net.remove_extra_routes_from_router(router, {"router": {"routes": [pod_a]}})
        assert _routes(net, router) == [pod_b]
        # The non-atomic extraroute way: replace the whole list.
        net.update_router(router, routes=[])
        assert _routes(net, router) == []
        with pytest.raises(exceptions.BadRequestException):  # nexthop not on a router subnet
            net.add_extra_routes_to_router(
                router,
                {"router": {"routes": [{"destination": "10.0.0.0/8", "nexthop": "1.2.3.4"}]}},
            )


def _routes(net: Any, router: Any) -> list[dict[str, str]]:
    routes = net.get_router(router.id).routes or []
    return sorted(routes, key=lambda r: r["destination"])


def test_trunk_with_vlan_subport_goes_active(
    demo_conn: Connection, testcloud: TestCloud, name: str
) -> None:
    net: Any = demo_conn.network
    network_id = testcloud.network["network_id"]
    with _deleting() as deletes:
        parent = net.create_port(name=f"{name}-parent", network_id=network_id)
        deletes.append(lambda: net.delete_port(parent))
        sub1 = net.create_port(name=f"{name}-sub1", network_id=network_id)
        deletes.append(lambda: net.delete_port(sub1))
        sub2 = net.create_port(name=f"{name}-sub2", network_id=network_id)
        deletes.append(lambda: net.delete_port(sub2))
        first = {"port_id": sub1.id, "segmentation_type": "vlan", "segmentation_id": 101}
        trunk = net.create_trunk(name=name, port_id=parent.id, sub_ports=[first])
        deletes.append(lambda: net.delete_trunk(trunk))
        assert trunk.status == "ACTIVE"
        second = {"port_id": sub2.id, "segmentation_type": "vlan", "segmentation_id": 102}
        net.add_trunk_subports(trunk, [second])
        subports = net.get_trunk_subports(trunk)["sub_ports"]
        assert sorted(s["segmentation_id"] for s in subports) == [101, 102]
        assert net.get_trunk(trunk.id).status == "ACTIVE"
        details = net.get_port(parent.id).trunk_details  # the trunk-details extension
        assert details["trunk_id"] == trunk.id
        net.delete_trunk_subports(trunk, [{"port_id": sub1.id}])
        assert [s["port_id"] for s in net.get_trunk_subports(trunk)["sub_ports"]] == [sub2.id]
        with pytest.raises(exceptions.ConflictException):  # a trunk's parent cannot go first
            net.delete_port(parent)


def test_tags_on_network_and_port_and_filtering(
    demo_conn: Connection, testcloud: TestCloud, name: str
) -> None:
    net: Any = demo_conn.network
    with _deleting() as deletes:
        network = net.create_network(name=name)
        deletes.append(lambda: net.delete_network(network))
        port = net.create_port(name=name, network_id=network.id)
        deletes.append(lambda: net.delete_port(port))
        cluster_tag = f"{name}-cluster"
        net.set_tags(network, [cluster_tag, "osk8s-role-net"])
        net.set_tags(port, [cluster_tag])
        net.add_tag(port, "osk8s-role-port")
        assert sorted(net.get_port(port.id).tags) == sorted([cluster_tag, "osk8s-role-port"])
        assert [n.id for n in net.networks(tags=cluster_tag)] == [network.id]
        assert [p.id for p in net.ports(tags=f"{cluster_tag},osk8s-role-port")] == [port.id]
        assert list(net.ports(tags=cluster_tag, not_tags="osk8s-role-port")) == []
        net.remove_tag(port, "osk8s-role-port")
        assert net.get_port(port.id).tags == [cluster_tag]


def test_port_security_and_allowed_address_pairs(
    demo_conn: Connection, testcloud: TestCloud, name: str
) -> None:
    net: Any = demo_conn.network
    network_id = testcloud.network["network_id"]
    vip = {"ip_address": "192.0.2.250", "mac_address": None}
    with _deleting() as deletes:
        port = net.create_port(
            name=name, network_id=network_id, allowed_address_pairs=[{"ip_address": "192.0.2.250"}]
        )
        deletes.append(lambda: net.delete_port(port))
        assert port.is_port_security_enabled is True
        assert port.security_group_ids  # the project's default group
        vip["mac_address"] = port.mac_address
        assert port.allowed_address_pairs == [vip]
        # Off needs the pairs and groups gone first, as Neutron enforces.
        with pytest.raises(exceptions.ConflictException):
            net.update_port(port, port_security_enabled=False)
        port = net.update_port(
            port, allowed_address_pairs=[], security_group_ids=[], port_security_enabled=False
        )
        assert port.is_port_security_enabled is False
        with pytest.raises(exceptions.ConflictException):
            net.update_port(port, allowed_address_pairs=[{"ip_address": "192.0.2.251"}])
        bare = net.create_port(
            name=f"{name}-bare", network_id=network_id, port_security_enabled=False
        )
        deletes.append(lambda: net.delete_port(bare))
        assert bare.is_port_security_enabled is False
        assert bare.security_group_ids == []
        port = net.update_port(port, port_security_enabled=True)
        assert port.is_port_security_enabled is True
