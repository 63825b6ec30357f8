"""InstancesV2 lookup, existence, shutdown, instance type and metadata over a small fake of
the ``CloudLookup`` interface; and the batched snapshot's fallback to per-node calls."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from osk8s_ccm.addresses import NodeAddress
from osk8s_ccm.batch import SyncSnapshot
from osk8s_ccm.cloud_view import PortInfo, ServerAddress, ServerInfo
from osk8s_ccm.instances import InstanceNotFound, InstanceSettings, InstancesV2, NodeRef
from osk8s_ccm.provider_id import InvalidProviderId
from osk8s_core import errors
from osk8s_core.config import NetworkingOptions

from .fakes import FakeLookup

A = ServerInfo(
    id="id-a",
    name="node-a",
    availability_zone="az 1",
    flavor_original_name="m1.small",
    addresses=MappingProxyType({"net": (ServerAddress("10.0.0.1"),)}),
)
B = ServerInfo(
    id="id-b", name="node-b", status="SHUTOFF", flavor_id="f2", flavor_original_name="bad name!"
)
TWIN1 = ServerInfo(id="id-t1", name="twin")
TWIN2 = ServerInfo(id="id-t2", name="twin")
TRUNK = ServerInfo(id="id-t", name="node-t", flavor_id="f3")
PORTS = (
    PortInfo(id="pa", device_id="id-a", fixed_ips=("10.0.0.1",)),
    PortInfo(id="pt", device_id="id-t", fixed_ips=("10.0.0.9",), subport_ids=("sp",)),
    PortInfo(id="sp", device_id="", network_id="vlan-id", fixed_ips=("10.9.0.9",)),
)


def lookup() -> FakeLookup:
    return FakeLookup(
        [A, B, TWIN1, TWIN2, TRUNK],
        PORTS,
        networks={"vlan-id": "vlan100"},
        flavors={"f2": "m1.large", "f3": "not valid!"},
    )


def instances(*, regional: bool = False) -> InstancesV2:
    return InstancesV2(InstanceSettings(region="RegionOne", regional=regional))


def test_lookup_by_provider_id_gets_the_server_only() -> None:
    fake = lookup()
    found = instances().find_server(fake, NodeRef("whatever", "openstack:///id-a"))
    assert found == A
    assert fake.asked == {"server": 1}


def test_lookup_by_exact_name_when_no_provider_id() -> None:
    fake = lookup()
    assert instances().find_server(fake, NodeRef("node-b")) == B
    assert fake.asked == {"servers_named": 1}


def test_lookup_errors() -> None:
    fake = lookup()
    v2 = instances()
    with pytest.raises(InstanceNotFound):
        v2.find_server(fake, NodeRef("x", "openstack:///gone"))
    with pytest.raises(InstanceNotFound):
        v2.find_server(fake, NodeRef("nobody"))
    with pytest.raises(errors.AmbiguousMatch):
        v2.find_server(fake, NodeRef("twin"))
    asked_before = sum(fake.asked.values())
    with pytest.raises(InvalidProviderId):
        v2.find_server(fake, NodeRef("x", "openstack://RegionTwo/id-a"))
    assert sum(fake.asked.values()) == asked_before  # refused before any call


def test_exists_is_false_only_when_not_found() -> None:
    fake = lookup()
    v2 = instances()
    assert v2.instance_exists(fake, NodeRef("node-a")) is True
    assert v2.instance_exists(fake, NodeRef("x", "openstack:///gone")) is False
    with pytest.raises(errors.AmbiguousMatch):
        v2.instance_exists(fake, NodeRef("twin"))


def test_shutdown_iff_shutoff() -> None:
    fake = lookup()
    assert instances().instance_shutdown(fake, NodeRef("node-a")) is False
    assert instances().instance_shutdown(fake, NodeRef("node-b")) is True


def test_instance_type_rules() -> None:
    fake = lookup()
    assert InstancesV2.instance_type(fake, A) == "m1.small"
    assert fake.asked["flavor_name"] == 0  # the embedded name was enough
    assert InstancesV2.instance_type(fake, B) == "m1.large"  # original_name not a label
    assert InstancesV2.instance_type(fake, TRUNK) == "f3"  # name not a label either: the id


def test_metadata_of_a_trunk_server_regional() -> None:
    fake = lookup()
    meta = instances(regional=True).instance_metadata(fake, NodeRef("node-t"))
    assert meta.provider_id == "openstack://RegionOne/id-t"
    assert meta.node_addresses == (
        NodeAddress("InternalIP", "10.0.0.9"),
        NodeAddress("InternalIP", "10.9.0.9"),  # subport, under network vlan100
    )
    assert (meta.zone, meta.region, meta.instance_type) == ("", "RegionOne", "f3")


def test_metadata_zone_sanitised_and_sorted_addresses() -> None:
    fake = lookup()
    settings = InstanceSettings(
        region="RegionOne", networking=NetworkingOptions(address_sort_order="192.0.2.0/24")
    )
    meta = InstancesV2(settings).instance_metadata(fake, NodeRef("node-a"))
    assert meta.provider_id == "openstack:///id-a"
    assert meta.zone == "az-1"
    assert meta.node_addresses == (NodeAddress("InternalIP", "10.0.0.1"),)


def test_snapshot_answers_from_its_lists_and_falls_back_for_misses() -> None:
    live = lookup()
    snapshot = SyncSnapshot([A, TRUNK], [PORTS[0], PORTS[1]], {"vlan-id": "vlan100"}, live=live)
    v2 = instances()
    meta_a = v2.instance_metadata(snapshot, NodeRef("node-a"))
    v2.instance_metadata(snapshot, NodeRef("n", "openstack:///id-t"))
    assert sum(live.asked.values()) == 2  # the subport (port) and flavor f3: not in the lists
    assert live.asked == {"port": 1, "flavor_name": 1}
    assert meta_a == v2.instance_metadata(lookup(), NodeRef("node-a"))  # same answer as CPO's way
    assert v2.instance_exists(snapshot, NodeRef("x", "openstack:///gone")) is False
    assert live.asked["server"] == 1  # not in the list: asked the live cloud once
    assert v2.instance_shutdown(snapshot, NodeRef("node-b")) is True  # by name, fallback
    assert live.asked["servers_named"] == 1
