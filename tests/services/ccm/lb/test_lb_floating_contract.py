"""Internal vs external and floating IPs on the real Neutron (CPO §1.4.6): an internal Service
gets no floating IP; turning external allocates one with CCM's marker; turning internal with
``keep-floatingip`` detaches but keeps it, and delete keeps it too; ``spec.loadBalancerIP``
attaches a floating IP the user allocated (never deleting it); a floating subnet chosen by
name pattern of a ``[LoadBalancerClass]`` is honoured, an unknown class refused.
"""

from __future__ import annotations

import dataclasses

import pytest

from osk8s_ccm import lb_annotations as ann
from osk8s_ccm.lb_provider import LoadBalancerError, LoadBalancerService
from osk8s_core.config import LoadBalancerClass

from .conftest import Octavia, Recorder, annotated, nodes_at, service

pytestmark = pytest.mark.contract


def _with_ids(svc: LoadBalancerService, recorder: Recorder) -> LoadBalancerService:
    return annotated(svc, recorder.annotations)


def test_internal_external_class_and_keep_floatingip(octavia: Octavia) -> None:
    # The floating network and subnet come from a [LoadBalancerClass] only (a name pattern).
    subnet = octavia.conn.network.get_subnet(octavia.options.floating_subnet_id)
    classes = {
        "public": LoadBalancerClass(
            floating_network_id=octavia.options.floating_network_id,
            floating_subnet=f"~^{subnet.name[:5]}",
        )
    }
    harness = octavia.harness(classes=classes, floating_network_id="", floating_subnet_id="")
    provider = harness.provider
    nodes = nodes_at(21)
    svc = service(
        "flip", ("TCP", 80, 30180), annotations={ann.INTERNAL: "true", ann.CLASS: "public"}
    )
    recorder = Recorder()
    status = provider.ensure_load_balancer(octavia.cluster, svc, nodes, recorder)
    [lb] = octavia.lbs()
    assert [p.ip for p in status.ingress] == [lb.vip_address]
    assert octavia.fips() == []

    svc = annotated(_with_ids(svc, recorder), {ann.INTERNAL: "false"})
    status = provider.ensure_load_balancer(octavia.cluster, svc, nodes, recorder)
    [fip] = octavia.fips()
    assert fip.port_id == lb.vip_port_id
    assert fip.floating_network_id == octavia.options.floating_network_id
    assert [p.ip for p in status.ingress] == [fip.floating_ip_address]
    assert harness.requests().get("subnet_list") == 1  # the pattern, resolved in Neutron

    svc = annotated(svc, {ann.INTERNAL: "true", ann.KEEP_FLOATING_IP: "true"})
    status = provider.ensure_load_balancer(octavia.cluster, svc, nodes, recorder)
    assert [p.ip for p in status.ingress] == [lb.vip_address]
    [kept] = octavia.fips()
    assert (kept.id, kept.port_id) == (fip.id, None)

    # External again: the kept floating IP (CCM's marker) is re-attached, not a second one.
    svc = annotated(svc, {ann.INTERNAL: "false"})
    status = provider.ensure_load_balancer(octavia.cluster, svc, nodes, recorder)
    [again] = octavia.fips()
    assert (again.id, again.port_id) == (fip.id, lb.vip_port_id)

    provider.ensure_load_balancer_deleted(octavia.cluster, svc, recorder)
    assert octavia.lbs() == []
    [left] = octavia.fips()  # keep-floatingip: released from the LB, not deleted
    assert (left.id, left.port_id) == (fip.id, None)
    octavia.conn.network.delete_ip(left.id)

    unknown = dataclasses.replace(svc, annotations={ann.CLASS: "nope"})
    with pytest.raises(LoadBalancerError, match="LoadBalancerClass") as caught:
        provider.ensure_load_balancer(octavia.cluster, unknown, nodes, recorder)
    assert caught.value.reason == "InvalidConfiguration"


def test_load_balancer_ip_attaches_the_users_floating_ip(octavia: Octavia) -> None:
    provider = octavia.harness().provider
    network = octavia.options.floating_network_id
    users = octavia.conn.network.create_ip(
        floating_network_id=network, description=f"user's address {octavia.cluster}"
    )
    try:
        svc = service("byip", ("TCP", 80, 30280), load_balancer_ip=users.floating_ip_address)
        recorder = Recorder()
        status = provider.ensure_load_balancer(octavia.cluster, svc, nodes_at(22), recorder)
        [lb] = octavia.lbs()
        assert octavia.conn.network.get_ip(users.id).port_id == lb.vip_port_id
        assert [p.ip for p in status.ingress] == [users.floating_ip_address]
        assert lb.vip_address != users.floating_ip_address  # not used as the VIP (external)

        provider.ensure_load_balancer_deleted(octavia.cluster, _with_ids(svc, recorder), recorder)
        assert octavia.lbs() == []
        # Not CCM's (no marker): detached by the LB's deletion, never deleted.
        assert octavia.conn.network.get_ip(users.id).port_id is None
    finally:
        octavia.conn.network.delete_ip(users.id, ignore_missing=True)
