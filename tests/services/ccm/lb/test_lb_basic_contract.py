"""One external Service with a TCP and a UDP port on the real Octavia and Neutron: the LB tree
reaches ACTIVE with a real VIP port and a floating IP; an unchanged resync writes nothing and
reads a bounded number of times; node changes replace members; delete leaves nothing.

The LB is made once for the module (read-only cases share it); the delete case runs last.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from osk8s_ccm import lb_annotations as ann
from osk8s_ccm.lb_provider import (
    LoadBalancerError,
    LoadBalancerNode,
    LoadBalancerService,
    LoadBalancerStatus,
    NodeAddress,
)
from osk8s_ccm.octavia import naming

from .conftest import Harness, Octavia, Recorder, annotated, nodes_at, service

pytestmark = pytest.mark.contract

IDLE_READ_BUDGET = 12
"""Reads of an unchanged two-port Service (see test_unchanged_resync_makes_no_write)."""


@dataclass
class Made:
    svc: LoadBalancerService
    status: LoadBalancerStatus
    recorder: Recorder
    harness: Harness


@pytest.fixture(scope="module")
def made(octavia: Octavia) -> Iterator[Made]:
    harness = octavia.harness()
    svc = service("web", ("TCP", 80, 30080), ("UDP", 53, 30053))
    recorder = Recorder()
    status = harness.provider.ensure_load_balancer(octavia.cluster, svc, nodes_at(11, 12), recorder)
    svc = LoadBalancerService(**{**svc.__dict__, "annotations": dict(recorder.annotations)})
    yield Made(svc=svc, status=status, recorder=recorder, harness=harness)


def test_lb_tree_is_active_with_real_vip_port_and_floating_ip(octavia: Octavia, made: Made) -> None:
    conn = octavia.conn
    lb_name = naming.lb_name(octavia.cluster, "default", "web")
    [lb] = octavia.lbs()
    assert lb.name == lb_name and lb.provisioning_status == "ACTIVE"
    assert lb.tags == [lb_name]
    assert (
        lb.description == f"Kubernetes external service default/web from cluster {octavia.cluster}"
    )
    assert made.recorder.annotations[ann.LOAD_BALANCER_ID] == lb.id
    port = conn.network.get_port(lb.vip_port_id)
    assert port.fixed_ips[0]["ip_address"] == lb.vip_address
    [fip] = octavia.fips()
    assert fip.port_id == lb.vip_port_id
    assert fip.description == naming.fip_description(octavia.cluster, "default", "web")
    assert made.recorder.annotations[ann.LOAD_BALANCER_ADDRESS] == fip.floating_ip_address
    [point] = made.status.ingress
    assert (point.ip, point.ip_mode) == (fip.floating_ip_address, "VIP")

    listeners = sorted(octavia.listeners(lb.id), key=lambda li: li.protocol_port)
    assert [(li.name, li.protocol, li.protocol_port, li.tags) for li in listeners] == [
        (f"listener_1_{lb_name}", "UDP", 53, [lb_name]),
        (f"listener_0_{lb_name}", "TCP", 80, [lb_name]),
    ]
    pools = {p.id: p for p in octavia.pools(lb.id)}
    for listener, node_port in zip(listeners, (30053, 30080), strict=True):
        pool = pools[listener.default_pool_id]
        assert pool.protocol == listener.protocol and pool.lb_algorithm == "ROUND_ROBIN"
        members = sorted(
            (m.name, m.address, m.protocol_port) for m in conn.load_balancer.members(pool.id)
        )
        assert members == [
            ("node-11", "192.0.2.11", node_port),
            ("node-12", "192.0.2.12", node_port),
        ]
    # Fully populated: one LB POST made everything.
    assert made.harness.writes() == {"loadbalancer_create": 1, "floating_ip_create": 1}


def test_get_load_balancer_reports_the_address(octavia: Octavia, made: Made) -> None:
    status = made.harness.provider.get_load_balancer(octavia.cluster, made.svc)
    assert status == made.status
    missing = service("absent", ("TCP", 80, 30080))
    assert made.harness.provider.get_load_balancer(octavia.cluster, missing) is None


def test_unchanged_resync_makes_no_write(octavia: Octavia, made: Made) -> None:
    harness = octavia.harness()
    recorder = Recorder()
    status = harness.provider.ensure_load_balancer(
        octavia.cluster, made.svc, nodes_at(11, 12), recorder
    )
    assert status == made.status
    assert harness.writes() == {}
    reads = harness.reads()
    print(f"idle resync reads: {sum(reads.values())} {reads}")
    assert sum(reads.values()) <= IDLE_READ_BUDGET, reads


def test_node_change_updates_members_only(octavia: Octavia, made: Made) -> None:
    harness = octavia.harness()
    provider = harness.provider
    provider.update_load_balancer(octavia.cluster, made.svc, nodes_at(11, 13, 14), Recorder())
    assert harness.writes() == {"loadbalancer_member_update": 2}
    [lb] = octavia.lbs()
    for pool in octavia.pools(lb.id):
        addresses = sorted(m.address for m in octavia.conn.load_balancer.members(pool.id))
        assert addresses == ["192.0.2.11", "192.0.2.13", "192.0.2.14"]
    print(f"node change requests: {harness.requests()}")
    # Back to the module's nodes for the cases after this one.
    provider.update_load_balancer(octavia.cluster, made.svc, nodes_at(11, 12), Recorder())


def test_refused_lb_method_is_a_warning_and_the_sync_goes_on(octavia: Octavia, made: Made) -> None:
    """CPO: Octavia refusing the pool algorithm (amphora has no SOURCE_IP_PORT) gives a
    Warning ``LoadBalancerLbMethodUnknown``; the rest of the sync still happens."""
    harness = octavia.harness()
    recorder = Recorder()
    svc = annotated(made.svc, {ann.LB_METHOD: "SOURCE_IP_PORT"})
    status = harness.provider.ensure_load_balancer(octavia.cluster, svc, nodes_at(11, 12), recorder)
    assert status == made.status
    assert recorder.reasons() == ["LoadBalancerLbMethodUnknown"] * 2  # one per port's pool
    [lb] = octavia.lbs()
    assert {p.lb_algorithm for p in octavia.pools(lb.id)} == {"ROUND_ROBIN"}


def test_delete_leaves_nothing(octavia: Octavia, made: Made) -> None:
    harness = octavia.harness()
    recorder = Recorder()
    harness.provider.ensure_load_balancer_deleted(octavia.cluster, made.svc, recorder)
    assert octavia.inventory() == {
        "lbs": [],
        "listeners": [],
        "pools": [],
        "fips": [],
        "security_groups": [],
    }
    print(f"delete requests: {harness.requests()}")
    # Deleting again is a no-op success.
    harness.provider.ensure_load_balancer_deleted(octavia.cluster, made.svc, recorder)
    assert harness.provider.get_load_balancer(octavia.cluster, made.svc) is None


def test_vip_subnet_autodetected_from_the_first_nodes_server_port(
    octavia: Octavia, testcloud_network: dict[str, str]
) -> None:
    """§1.4.4 step 3: no subnet-id or network-id anywhere → the subnet of the Neutron port of
    the first node's server (providerID) carrying its InternalIP; it is also the member
    subnet. Without a providerID there is nothing to detect: a clear error, no LB."""
    server_id = str(uuid.uuid4())
    conn = octavia.conn
    port = conn.network.create_port(
        network_id=testcloud_network["network_id"],
        name=f"{octavia.cluster}-autodetect",
        device_id=server_id,
    )
    try:
        harness = octavia.harness(subnet_id="", network_id="")
        provider = harness.provider
        address = port.fixed_ips[0]["ip_address"]
        first = LoadBalancerNode(
            name="n1",
            provider_id=f"openstack:///{server_id}",
            addresses=(NodeAddress("InternalIP", address),),
        )
        sync = provider._start(octavia.cluster, service("auto", ("TCP", 80, 30980)), Recorder())
        network, subnet, members = provider._vip_and_members(sync, [first, *nodes_at(12)])
        assert (network, subnet, members) == ("", port.fixed_ips[0]["subnet_id"], subnet)
        with pytest.raises(LoadBalancerError) as caught:
            provider._vip_and_members(sync, nodes_at(12))  # no providerID
        assert caught.value.reason == "InvalidSubnet"
        assert harness.writes() == {}
    finally:
        conn.network.delete_port(port.id, ignore_missing=True)
