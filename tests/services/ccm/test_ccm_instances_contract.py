"""InstancesV2 against the real Nova and Neutron of the test cloud.

The expected addresses are a table worked out from cpo.md §1.3 for the world the fixture
builds (see conftest): step 1 A's two ACTIVE ports (Neutron's order, so compared as a set),
2 its access IPs, 3 its ``hostname`` key, 4+5 networks by name: ``ccm-<tag>-second`` (already
there), ``osk8s-net`` (the floating IP is new), ``zz-ccm-<tag>-vlan`` (the trunk subport).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from osk8s_ccm.addresses import NodeAddress
from osk8s_ccm.batch import SyncSnapshot
from osk8s_ccm.instances import InstanceMetadata, InstanceSettings, InstancesV2, NodeRef
from osk8s_ccm.nova_neutron import LiveLookup
from osk8s_ccm.provider_id import InvalidProviderId
from osk8s_ccm.settings import instance_settings
from osk8s_core.config import NetworkingOptions

from .conftest import ACCESS_V4, ACCESS_V6, HOSTNAME, SECOND_CIDR, Cloud, World, _wait

pytestmark = pytest.mark.contract


def internal(a: str) -> NodeAddress:
    return NodeAddress("InternalIP", a)


def external(a: str) -> NodeAddress:
    return NodeAddress("ExternalIP", a)


def expected_tail(world: World) -> list[NodeAddress]:
    """Steps 2-5 for node A with the test cloud's [Networking] (public: osk8s-public)."""
    return [
        external(ACCESS_V4),
        external(ACCESS_V6),
        NodeAddress("Hostname", HOSTNAME),
        external(world.floating_ip),
        internal(world.subport_ip),
    ]


def check_node_a(meta: InstanceMetadata, world: World, provider_id: str) -> None:
    assert meta.provider_id == provider_id
    step1 = {internal(world.a_demo_ip), internal(world.a_second_ip)}
    assert set(meta.node_addresses[:2]) == step1
    assert list(meta.node_addresses[2:]) == expected_tail(world)
    assert (meta.zone, meta.region) == ("az-2", "RegionOne")
    assert meta.instance_type == world.flavor_name


def test_node_by_provider_id_as_cpo_with_its_requests(world: World, cloud: Cloud) -> None:
    v2 = InstancesV2(instance_settings(world.config, {}))
    lookup = LiveLookup(cloud.nova_neutron)
    meta = v2.instance_metadata(lookup, NodeRef(world.a_name, f"openstack:///{world.a_id}"))
    check_node_a(meta, world, f"openstack:///{world.a_id}")
    # CPO's way: a server GET, the port list, and a GET of the subport and its network.
    assert cloud.all_requests() == {
        "server_get": 1,
        "port_list": 1,
        "port_get": 1,
        "network_get": 1,
    }


def test_node_by_exact_name_regional(world: World, cloud: Cloud) -> None:
    v2 = InstancesV2(instance_settings(world.config, {"OS_CCM_REGIONAL": "true"}))
    meta = v2.instance_metadata(LiveLookup(cloud.nova_neutron), NodeRef(world.a_name))
    check_node_a(meta, world, f"openstack://RegionOne/{world.a_id}")
    meta_b = v2.instance_metadata(LiveLookup(cloud.nova_neutron), NodeRef(world.b_name))
    assert meta_b.node_addresses[0].type == "InternalIP"
    assert (meta_b.zone, meta_b.provider_id) == ("az-1", f"openstack://RegionOne/{world.b_id}")
    # The name is matched exactly: a prefix of it is no server.
    assert not v2.instance_exists(LiveLookup(cloud.nova_neutron), NodeRef(world.a_name[:-1]))


def test_networking_options_on_the_real_server(world: World, cloud: Cloud) -> None:
    lookup = LiveLookup(cloud.nova_neutron)
    only_demo = InstanceSettings(
        region="RegionOne",
        networking=NetworkingOptions(
            internal_network_name=("osk8s-net",), ipv6_support_disabled=True
        ),
    )
    meta = InstancesV2(only_demo).instance_metadata(lookup, NodeRef(world.a_name))
    # The second network's and the subport's IPs are dropped; no IPv6.
    assert list(meta.node_addresses) == [
        internal(world.a_demo_ip),
        external(ACCESS_V4),
        NodeAddress("Hostname", HOSTNAME),
        external(world.floating_ip),
    ]
    public_second = InstanceSettings(
        region="RegionOne",
        networking=NetworkingOptions(
            public_network_name=(world.second_network,), address_sort_order=f"{SECOND_CIDR}, x"
        ),
    )
    meta = InstancesV2(public_second).instance_metadata(lookup, NodeRef(world.a_name))
    # The second network's IP is ExternalIP only, and sorted first by address-sort-order.
    assert list(meta.node_addresses) == [
        external(world.a_second_ip),
        internal(world.a_demo_ip),
        *expected_tail(world),
    ]


def test_exists_and_provider_id_errors(world: World, cloud: Cloud) -> None:
    v2 = InstancesV2(instance_settings(world.config, {}))
    lookup = LiveLookup(cloud.nova_neutron)
    assert v2.instance_exists(lookup, NodeRef("x", world.a_id)) is True  # a bare id
    assert v2.instance_exists(lookup, NodeRef("x", f"openstack:///{uuid.uuid4()}")) is False
    with pytest.raises(InvalidProviderId):
        v2.instance_exists(lookup, NodeRef("x", f"openstack://RegionTwo/{world.a_id}"))


def test_sync_snapshot_same_answers_constant_requests(world: World, cloud: Cloud) -> None:
    v2 = InstancesV2(instance_settings(world.config, {}))
    snapshot = SyncSnapshot.take(cloud.nova_neutron)
    nodes = [NodeRef(world.a_name, f"openstack:///{world.a_id}"), NodeRef(world.b_name)]
    metas = [v2.instance_metadata(snapshot, node) for node in nodes]
    check_node_a(metas[0], world, f"openstack:///{world.a_id}")
    # Servers, their ports, the subports by id, the subport networks: 4 whatever the count.
    assert cloud.all_requests() == {"server_list": 1, "port_list": 2, "network_list": 1}
    live = LiveLookup(cloud.nova_neutron)
    assert metas == [v2.instance_metadata(live, node) for node in nodes]


def test_shutdown_follows_nova(world: World, cloud: Cloud, ccm_conn: Any) -> None:
    v2 = InstancesV2(instance_settings(world.config, {}))
    lookup = LiveLookup(cloud.nova_neutron)
    node = NodeRef(world.b_name, f"openstack:///{world.b_id}")
    assert v2.instance_shutdown(lookup, node) is False
    compute = ccm_conn.compute
    compute.stop_server(world.b_id)
    try:
        _wait(lambda: compute.get_server(world.b_id).status, lambda s: s == "SHUTOFF", "stop", 60)
        assert v2.instance_shutdown(lookup, node) is True
        assert v2.instance_exists(lookup, node) is True
    finally:
        compute.start_server(world.b_id)
    _wait(lambda: compute.get_server(world.b_id).status, lambda s: s == "ACTIVE", "start", 60)
    assert v2.instance_shutdown(lookup, node) is False
