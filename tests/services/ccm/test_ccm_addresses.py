"""Node addresses: the expected lists are worked out by hand from cpo.md §1.3 (five steps in
order, dedup of (type, address), public/internal network names, IPv6 switch, sort order)."""

from __future__ import annotations

from types import MappingProxyType

from osk8s_ccm.addresses import (
    NodeAddress,
    Subport,
    node_addresses,
    parse_sort_order,
    sort_addresses,
)
from osk8s_ccm.cloud_view import PortInfo, ServerAddress, ServerInfo
from osk8s_core.config import NetworkingOptions

SERVER = ServerInfo(
    id="srv",
    name="node-1",
    access_ipv4="203.0.113.10",
    access_ipv6="2001:db8:1::10",
    metadata=MappingProxyType({"hostname": "node-1.example"}),
    addresses=MappingProxyType(
        {
            "b-net": (ServerAddress("10.2.0.9"),),
            "a-net": (
                ServerAddress("10.0.0.5"),
                ServerAddress("198.51.100.3", "floating"),
                ServerAddress("2001:db8::5"),
            ),
            "c-net": (ServerAddress("10.1.0.7"),),
        }
    ),
)
PORTS = (
    PortInfo(id="p1", device_id="srv", fixed_ips=("10.0.0.5", "2001:db8::5")),
    PortInfo(id="p2", device_id="srv", status="DOWN", fixed_ips=("10.1.0.7",)),
    PortInfo(id="p3", device_id="srv", fixed_ips=("10.2.0.9",)),
)
SUBPORTS = (Subport(network_name="a-vlan", fixed_ips=("10.3.0.4",)),)


def int_ip(a: str) -> NodeAddress:
    return NodeAddress("InternalIP", a)


def ext_ip(a: str) -> NodeAddress:
    return NodeAddress("ExternalIP", a)


H = NodeAddress("Hostname", "node-1.example")


def run(options: NetworkingOptions) -> list[NodeAddress]:
    return node_addresses(SERVER, PORTS, SUBPORTS, options)


def test_default_five_steps_in_order() -> None:
    # 1: ACTIVE ports' fixed IPs (p2 is DOWN); 2: access IPs; 3: hostname; 4+5: networks
    # a-net, a-vlan (subport), b-net, c-net in name order, new pairs appended.
    assert run(NetworkingOptions()) == [
        int_ip("10.0.0.5"),
        int_ip("2001:db8::5"),
        int_ip("10.2.0.9"),
        ext_ip("203.0.113.10"),
        ext_ip("2001:db8:1::10"),
        H,
        ext_ip("198.51.100.3"),
        int_ip("10.3.0.4"),
        int_ip("10.1.0.7"),
    ]


def test_ipv6_support_disabled_drops_every_v6_address() -> None:
    assert run(NetworkingOptions(ipv6_support_disabled=True)) == [
        int_ip("10.0.0.5"),
        int_ip("10.2.0.9"),
        ext_ip("203.0.113.10"),
        H,
        ext_ip("198.51.100.3"),
        int_ip("10.3.0.4"),
        int_ip("10.1.0.7"),
    ]


def test_public_network_turns_its_ip_external_and_removes_the_internal_one() -> None:
    assert run(NetworkingOptions(public_network_name=("b-net",))) == [
        int_ip("10.0.0.5"),
        int_ip("2001:db8::5"),
        ext_ip("203.0.113.10"),
        ext_ip("2001:db8:1::10"),
        H,
        ext_ip("198.51.100.3"),
        int_ip("10.3.0.4"),
        ext_ip("10.2.0.9"),
        int_ip("10.1.0.7"),
    ]


def test_internal_network_name_keeps_only_its_networks() -> None:
    # b-net's 10.2.0.9 came from step 1 and is removed again; floating IPs stay.
    assert run(NetworkingOptions(internal_network_name=("a-net",))) == [
        int_ip("10.0.0.5"),
        int_ip("2001:db8::5"),
        ext_ip("203.0.113.10"),
        ext_ip("2001:db8:1::10"),
        H,
        ext_ip("198.51.100.3"),
    ]


def test_same_ip_may_be_internal_and_external_but_each_pair_once() -> None:
    server = ServerInfo(
        id="srv",
        name="n",
        access_ipv4="10.0.0.5",
        addresses=MappingProxyType({"a-net": (ServerAddress("10.0.0.5"),)}),
    )
    ports = (PortInfo(id="p1", device_id="srv", fixed_ips=("10.0.0.5", "10.0.0.5")),)
    assert node_addresses(server, ports, (), NetworkingOptions()) == [
        int_ip("10.0.0.5"),
        ext_ip("10.0.0.5"),
    ]


def test_address_sort_order_groups_by_cidr_and_skips_bad_ones() -> None:
    warned: list[str] = []
    cidrs = parse_sort_order(
        "10.2.0.0/16, bogus ,10.0.0.0/8,", warn=lambda item, why: warned.append(item)
    )
    assert warned == ["bogus"]
    assert sort_addresses(run(NetworkingOptions()), cidrs) == [
        int_ip("10.2.0.9"),
        int_ip("10.0.0.5"),
        int_ip("10.1.0.7"),
        int_ip("10.3.0.4"),
        int_ip("2001:db8::5"),
        ext_ip("203.0.113.10"),
        ext_ip("2001:db8:1::10"),
        H,
        ext_ip("198.51.100.3"),
    ]


def test_empty_sort_order_keeps_the_order() -> None:
    addresses = run(NetworkingOptions())
    assert sort_addresses(addresses, parse_sort_order("", warn=lambda i, w: None)) == addresses
