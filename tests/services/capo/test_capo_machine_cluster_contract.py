"""The cluster and machine controllers together on the test cloud: a managed cluster (network,
router, security groups, API load balancer with its floating IP) made by the cluster
controller, one control-plane and one worker machine made by the machine and server
controllers (role security groups on their ports, the control plane in the API pool), then
scale down and a full cluster delete leaving nothing of the cluster's or the machines' names.
"""

from __future__ import annotations

from typing import Any

import pytest
from openstack.connection import Connection

from osk8s_capo import naming
from osk8s_capo.kube import MACHINE
from osk8s_capo.machine import SERVER_GROUP_ANNOTATION

from .capo_harness import World
from .capo_machine_harness import MachineWorld, provisioned
from .test_capo_cluster_contract import external_network_id, is_ready

pytestmark = pytest.mark.contract


def test_cluster_with_control_plane_and_worker_then_full_delete(
    world: World, demo: Connection
) -> None:
    name = "e2e"
    world.create_cluster(
        name,
        {
            "managedSubnets": [{"cidr": "10.61.0.0/24"}],
            "externalNetwork": {"id": external_network_id(demo)},
            "apiServer": {"managedLoadBalancer": {}},
            "managedSecurityGroups": {},
        },
        # Beyond CAPO (opt-in): the control plane in a managed server group, which the
        # cluster's deletion removes with everything else.
        annotations={SERVER_GROUP_ANNOTATION: "soft-anti-affinity"},
    )
    osc = world.converge(name, until=is_ready)
    assert osc is not None
    status: dict[str, Any] = osc["status"]
    mw = MachineWorld(world)
    mw.bootstrap_secret()
    mw.machine("e2e-cp", name, {}, control_plane=True)
    mw.machine("e2e-md", name, {})
    cp = mw.converge_machine("e2e-cp", provisioned)
    md = mw.converge_machine("e2e-md", provisioned)
    assert cp is not None and md is not None

    def port_groups(machine: dict[str, Any]) -> list[str]:
        ports = list(demo.network.ports(device_id=machine["status"]["instanceID"]))
        assert len(ports) == 1 and ports[0].network_id == status["network"]["id"]
        return list(ports[0].security_group_ids)

    assert port_groups(cp) == [status["controlPlaneSecurityGroup"]["id"]]
    assert port_groups(md) == [status["workerSecurityGroup"]["id"]]
    lb = status["apiServerManagedLoadBalancer"]
    lb_name = naming.load_balancer_name(world.namespace, name)
    pool = next(demo.load_balancer.pools(loadbalancer_id=lb["id"], name=f"{lb_name}-6443"))
    internal = [a["address"] for a in cp["status"]["addresses"] if a["type"] == "InternalIP"]
    members = [(m.name, m.address) for m in demo.load_balancer.members(pool.id)]
    assert members == [(f"{lb_name}-6443-e2e-cp", internal[0])]
    group = naming.control_plane_server_group_name(world.namespace, name)
    managed = [g for g in demo.compute.server_groups() if g.name == group]
    assert [g.member_ids for g in managed] == [[cp["status"]["instanceID"]]]

    # scale down, then delete the cluster (it waits until no Machine is left)
    for machine in ("e2e-md", "e2e-cp"):
        mw.delete_machine(machine)
        world.kube.delete(MACHINE, world.namespace, machine)
        assert mw.cloud_objects(machine) == {"servers": [], "ports": [], "volumes": []}
    assert list(demo.load_balancer.members(pool.id)) == []
    world.delete(name)
    left = world.cloud_objects(name)
    assert all(not ids for ids in left.values()), left
    assert [g.id for g in demo.compute.server_groups() if g.name == group] == []
