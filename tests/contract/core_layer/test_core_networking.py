"""Neutron through the core layer: ports, floating IPs, security groups and rules,
networks/subnets/routers, tag filters; every create repeated to prove it idempotent."""

from __future__ import annotations

import pytest

from osk8s_core.openstack.filters import parse_tag_spec
from osk8s_core.openstack.floating_ips import FloatingIps
from osk8s_core.openstack.networking import Networking
from osk8s_core.openstack.ports import Ports
from osk8s_core.openstack.security_groups import RuleSpec, SecurityGroups
from osk8s_testing.testcloud.cloud import TENANT_RESERVED_IPS

from ..conftest import TestCloud
from .conftest import Cleanup, Core

pytestmark = pytest.mark.contract


def test_port_create_find_update_tags_delete(
    core: Core, testcloud: TestCloud, cleanup: Cleanup, name: str
) -> None:
    ports = Ports(core.client)
    network_id, subnet_id = testcloud.network["network_id"], testcloud.network["subnet_id"]
    fixed = [{"subnet_id": subnet_id, "ip_address": TENANT_RESERVED_IPS[1]}]
    port = ports.create(network_id, name, fixed_ips=fixed)
    cleanup.add(lambda: ports.delete(port.id))
    assert port.fixed_ips == fixed
    assert ports.create(network_id, name, fixed_ips=fixed).id == port.id
    assert core.requests("port_create") == 1
    found = ports.find(network_id, name)
    assert found is not None and found.id == port.id

    pairs = [{"ip_address": "10.96.0.0/12", "mac_address": port.mac_address}]
    assert ports.update(port.id, allowed_address_pairs=pairs).allowed_address_pairs == pairs

    ports.add_tag(port, "osk8s-contract")
    tagged = ports.get(port.id)
    assert "osk8s-contract" in tagged.tags
    hits = ports.query(network_id=network_id, tags=parse_tag_spec("osk8s-contract"))
    assert port.id in {p.id for p in hits}
    misses = ports.query(network_id=network_id, tags=parse_tag_spec("!osk8s-contract"))
    assert port.id not in {p.id for p in misses}
    ports.remove_tag(tagged, "osk8s-contract")
    ports.remove_tag(ports.get(port.id), "osk8s-contract")  # not there: skipped
    assert ports.get(port.id).tags == []

    ports.delete(port.id)
    ports.delete(port.id)
    assert ports.find(network_id, name) is None


def test_floating_ip_by_description_marker(
    core: Core, testcloud: TestCloud, cleanup: Cleanup, name: str
) -> None:
    ports, fips = Ports(core.client), FloatingIps(core.client)
    network_id = testcloud.network["network_id"]
    public_id = testcloud.network["floating_network_id"]
    port = ports.create(network_id, name)
    cleanup.add(lambda: ports.delete(port.id))
    marker = f"Floating IP for Kubernetes external service default/{name} from cluster contract"

    fip = fips.create(public_id, description=marker)
    cleanup.add(lambda: fips.delete(fip.id))
    assert fip.port_id is None
    # The repeat finds it by its description and points it at the port.
    same = fips.create(public_id, description=marker, port_id=port.id)
    assert same.id == fip.id
    assert same.port_id == port.id
    assert same.fixed_ip_address == port.fixed_ips[0]["ip_address"]
    assert core.requests("floating_ip_create") == 1
    on_port = fips.on_port(port.id)
    assert on_port is not None and on_port.id == fip.id

    assert fips.disassociate(fip.id).port_id is None
    assert fips.associate(fip.id, port.id).port_id == port.id
    fips.delete(fip.id)
    fips.delete(fip.id)
    assert fips.find_by_description(public_id, marker) is None


def test_security_group_and_rules(core: Core, cleanup: Cleanup, name: str) -> None:
    groups = SecurityGroups(core.client)
    group = groups.create(name, description="Security Group for default/svc in cluster contract")
    cleanup.add(lambda: groups.delete(group.id))
    assert groups.create(name).id == group.id
    assert core.requests("security_group_create") == 1

    spec = RuleSpec(protocol="tcp", port_range_min=30080, port_range_max=30080)
    rule = groups.create_rule(group.id, spec)
    assert groups.create_rule(group.id, spec).id == rule.id
    # Neutron's own normalisation: "everywhere" is the same rule.
    wide = RuleSpec(
        protocol="6", port_range_min=30080, port_range_max=30080, remote_ip_prefix="0.0.0.0/0"
    )
    assert groups.create_rule(group.id, wide).id == rule.id
    assert core.requests("security_group_rule_create") == 1
    found = groups.find_rule(group.id, spec)
    assert found is not None and found.id == rule.id

    groups.delete_rule(rule.id)
    groups.delete_rule(rule.id)
    assert groups.find_rule(group.id, spec) is None
    groups.delete(group.id)
    assert groups.find_by_name(name) is None


def test_network_subnet_router_interface_routes(
    core: Core, testcloud: TestCloud, cleanup: Cleanup, name: str
) -> None:
    net = Networking(core.client)
    network = net.create_network(name)
    cleanup.add(lambda: net.delete_network(network.id))
    assert net.create_network(name).id == network.id
    subnet = net.create_subnet(network.id, name, cidr="10.250.0.0/24")
    cleanup.add(lambda: net.delete_subnet(subnet.id))
    assert net.create_subnet(network.id, name, cidr="10.250.0.0/24").id == subnet.id
    router = net.create_router(name)
    cleanup.add(lambda: net.delete_router(router.id))
    assert net.create_router(name).id == router.id
    assert core.requests("network_create") == 1
    assert core.requests("subnet_create") == 1
    assert core.requests("router_create") == 1

    net.add_router_interface(router.id, subnet.id)
    cleanup.add(lambda: net.remove_router_interface(router.id, subnet.id))
    net.add_router_interface(router.id, subnet.id)  # already plugged: no second port
    router_ports = core.conn.network.ports(device_id=router.id)
    assert len([p for p in router_ports if p.network_id == network.id]) == 1

    if {"extraroute-atomic"} <= net.extensions():
        route = ("10.244.1.0/24", "10.250.0.10")
        net.add_routes(router.id, [route])
        updated = net.add_routes(router.id, [route])
        assert updated.routes == [{"destination": route[0], "nexthop": route[1]}]
        assert net.remove_routes(router.id, [route]).routes == []

    subnet_tagged = core.conn.network.set_tags(net.get_subnet(subnet.id), ["osk8s-fip"])
    assert subnet_tagged.tags == ["osk8s-fip"]
    found = net.subnets(network_id=network.id, tags=parse_tag_spec("&osk8s-fip"))
    assert [s.id for s in found] == [subnet.id]

    net.remove_router_interface(router.id, subnet.id)
    net.remove_router_interface(router.id, subnet.id)  # not plugged: success
    net.delete_router(router.id)
    net.delete_subnet(subnet.id)
    net.delete_network(network.id)
    assert net.find_network(name) is None
