"""Octavia through the core layer: a whole LB tree to ACTIVE with idempotent creates of
every part, then one cascade delete that also removes the real Neutron VIP port."""

from __future__ import annotations

import pytest
from openstack.connection import Connection

from osk8s_core.openstack.lb_catalog import LoadBalancerCatalog
from osk8s_core.openstack.lb_children import LoadBalancerChildren
from osk8s_core.openstack.loadbalancers import LoadBalancers, LoadBalancerSpec
from osk8s_core.openstack.ports import Ports

from ..conftest import TestCloud
from .conftest import Cleanup, Core

pytestmark = pytest.mark.contract


def test_lb_tree_to_active_then_cascade_delete(
    core: Core, testcloud: TestCloud, cleanup: Cleanup, name: str
) -> None:
    lbs = LoadBalancers(core.client, waiter=core.waiter)
    parts = LoadBalancerChildren(lbs)
    subnet_id = testcloud.network["subnet_id"]
    spec = LoadBalancerSpec(name=name, vip_subnet_id=subnet_id, description="osk8s contract")

    lb = lbs.create(spec)
    cleanup.add(lambda: lbs.delete(lb.id, cascade=True, wait=True))
    assert lb.provisioning_status == "ACTIVE"
    assert lbs.create(spec).id == lb.id
    found = lbs.find_by_name(name)
    assert found is not None and found.id == lb.id
    assert core.requests("loadbalancer_create") == 1

    listener = parts.create_listener(lb.id, f"listener_0_{name}", protocol="TCP", port=80)
    assert parts.create_listener(lb.id, f"listener_0_{name}", protocol="TCP", port=80).id == (
        listener.id
    )
    pool = parts.create_pool(lb.id, f"pool_0_{name}", protocol="TCP", listener_id=listener.id)
    assert parts.create_pool(lb.id, f"pool_0_{name}", protocol="TCP").id == pool.id
    member = parts.create_member(
        lb.id, pool.id, address="192.0.2.200", port=30080, subnet_id=subnet_id
    )
    again = parts.create_member(lb.id, pool.id, address="192.0.2.200", port=30080)
    assert again.id == member.id
    monitor = parts.create_health_monitor(
        lb.id, pool.id, monitor_type="TCP", delay=5, timeout=3, max_retries=2
    )
    assert (
        parts.create_health_monitor(
            lb.id, pool.id, monitor_type="TCP", delay=5, timeout=3, max_retries=2
        ).id
        == monitor.id
    )
    for label in (
        "loadbalancer_listener_create",
        "loadbalancer_pool_create",
        "loadbalancer_member_create",
        "loadbalancer_healthmonitor_create",
    ):
        assert core.requests(label) == 1, label

    assert lbs.wait_active(lb.id).provisioning_status == "ACTIVE"
    assert [m.id for m in parts.members(pool.id)] == [member.id]
    assert [p.id for p in parts.pools(lb.id)] == [pool.id]

    # Parts can go one by one too (CPO without cascade) ...
    parts.delete_member(lb.id, pool.id, member.id)
    assert parts.members(pool.id) == []

    # ... and the rest in one cascade delete; the VIP port goes with it.
    vip_port_id = lbs.get(lb.id).vip_port_id
    assert Ports(core.client).get(vip_port_id).id == vip_port_id
    lbs.delete(lb.id, cascade=True, wait=True)
    assert lbs.find_by_name(name) is None
    assert Ports(core.client).query(id=vip_port_id) == []


def test_lb_catalog_lists_enabled_providers_and_flavors_with_their_state(
    core: Core, admin_conn: Connection, name: str
) -> None:
    """What capo's provider/flavor by name reads: the test cloud's one driver, and flavors
    with their enabled state (an operator's disabled flavor is listed, marked so)."""
    catalog = LoadBalancerCatalog(core.client)
    assert catalog.provider_names() == ["amphora"]
    lb_admin = admin_conn.load_balancer
    profile = lb_admin.create_flavor_profile(
        name=name, provider_name="amphora", flavor_data='{"loadbalancer_topology": "SINGLE"}'
    )
    flavors = [
        lb_admin.create_flavor(name=f"{name}-{state}", flavor_profile_id=profile.id, enabled=on)
        for state, on in (("on", True), ("off", False))
    ]
    try:
        mine = {f.name: f for f in catalog.flavors() if f.name.startswith(name)}
        assert {n: (f.id, f.enabled) for n, f in mine.items()} == {
            f"{name}-on": (flavors[0].id, True),
            f"{name}-off": (flavors[1].id, False),
        }
        assert core.requests("loadbalancer_provider_list") == 1
        assert core.requests("loadbalancer_flavor_list") == 1
    finally:
        for flavor in flavors:
            lb_admin.delete_flavor(flavor.id, ignore_missing=True)
        lb_admin.delete_flavor_profile(profile.id, ignore_missing=True)
