"""One LB through its life on the real Octavia: shared by a second Service through
``load-balancer-id`` (CPO §1.4.7: tags, port conflicts, ``max-shared-lb``, delete of a
sharer leaves the LB), left in ERROR by Octavia and recreated on the next sync keeping its
floating IP (osk8s, CPO #2036), renamed to a new cluster name (§1.4.8), then deleted with
nothing left.
"""

from __future__ import annotations

import dataclasses

import pytest

from osk8s_ccm import lb_annotations as ann
from osk8s_ccm.lb_provider import LoadBalancerError, LoadBalancerService
from osk8s_ccm.octavia import naming
from osk8s_ccm.octavia.provider import OctaviaProvider

from .conftest import Octavia, Recorder, annotated, force_error, nodes_at, service

pytestmark = pytest.mark.contract


def test_share_error_recreate_rename_delete(octavia: Octavia) -> None:
    cluster = octavia.cluster
    harness = octavia.harness(max_shared_lb=2)
    provider = harness.provider
    nodes = nodes_at(61)
    owner = service("owner", ("TCP", 80, 30780))
    owner_rec = Recorder()
    owner_status = provider.ensure_load_balancer(cluster, owner, nodes, owner_rec)
    owner = annotated(owner, owner_rec.annotations)
    lb_id = owner_rec.annotations[ann.LOAD_BALANCER_ID]
    owner_name = naming.lb_name(cluster, "default", "owner")

    # A second Service shares it: its own listener and tag, the owner's address.
    sharer = service("sharer", ("TCP", 81, 30781), annotations={ann.LOAD_BALANCER_ID: lb_id})
    sharer_rec = Recorder()
    status = provider.ensure_load_balancer(cluster, sharer, nodes, sharer_rec)
    assert status.ingress == owner_status.ingress
    sharer_name = naming.lb_name(cluster, "default", "sharer")
    lb = octavia.conn.load_balancer.get_load_balancer(lb_id)
    assert sorted(lb.tags) == sorted([owner_name, sharer_name])
    assert sorted(li.protocol_port for li in octavia.listeners(lb_id)) == [80, 81]

    # A port another Service serves is refused; so is a third Service (max-shared-lb=2).
    clash = dataclasses.replace(sharer, ports=owner.ports)
    with pytest.raises(LoadBalancerError) as caught:
        provider.ensure_load_balancer(cluster, clash, nodes, Recorder())
    assert caught.value.reason == "PortConflict"
    third = service("third", ("TCP", 82, 30782), annotations={ann.LOAD_BALANCER_ID: lb_id})
    with pytest.raises(LoadBalancerError) as caught:
        provider.ensure_load_balancer(cluster, third, nodes, Recorder())
    assert caught.value.reason == "SharedLoadBalancerFull"

    # The sharer goes: its listener and tag only.
    provider.ensure_load_balancer_deleted(cluster, sharer, sharer_rec)
    lb = octavia.conn.load_balancer.get_load_balancer(lb_id)
    assert lb.tags == [owner_name]
    assert [li.protocol_port for li in octavia.listeners(lb_id)] == [80]
    _error_rename_delete(octavia, provider, owner)


def _error_rename_delete(
    octavia: Octavia, provider: OctaviaProvider, owner: LoadBalancerService
) -> None:
    cluster = octavia.cluster
    nodes = nodes_at(61)
    lb_id = owner.annotations[ann.LOAD_BALANCER_ID]
    [fip] = octavia.fips()

    # Octavia leaves the LB in ERROR: the next sync replaces it, same floating IP.
    force_error(lb_id)
    recorder = Recorder()
    status = provider.ensure_load_balancer(cluster, owner, nodes, recorder)
    assert "LoadBalancerRecreated" in recorder.reasons()
    [lb] = octavia.lbs()
    assert lb.id != lb_id and lb.provisioning_status == "ACTIVE"
    assert recorder.annotations[ann.LOAD_BALANCER_ID] == lb.id
    [kept] = octavia.fips()
    assert (kept.id, kept.port_id) == (fip.id, lb.vip_port_id)
    assert [p.ip for p in status.ingress] == [fip.floating_ip_address]
    owner = annotated(owner, recorder.annotations)

    # The cluster is renamed: LB and children follow, found by the id annotation.
    renamed_cluster = f"{cluster}x"
    recorder = Recorder()
    provider.ensure_load_balancer(renamed_cluster, owner, nodes, recorder)
    assert "LoadBalancerRename" in recorder.reasons()
    new_name = naming.lb_name(renamed_cluster, "default", "owner")
    [lb] = octavia.lbs()
    assert (lb.name, lb.tags) == (new_name, [new_name])
    [listener] = octavia.listeners(lb.id)
    [pool] = octavia.pools(lb.id)
    assert (listener.name, listener.tags) == (f"listener_0_{new_name}", [new_name])
    assert pool.name == f"pool_0_{new_name}"

    provider.ensure_load_balancer_deleted(renamed_cluster, owner, recorder)
    assert octavia.inventory() == {
        "lbs": [],
        "listeners": [],
        "pools": [],
        "fips": [],
        "security_groups": [],
    }
