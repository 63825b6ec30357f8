"""The bastion module on the test cloud, on a cluster made by the cluster controller (managed
network routed to the external network, managed security groups): the bastion server boots
with the bastion security group and gets a floating IP; a spec change recreates it (the FIP
kept and moved); disabling it removes the server and deletes our FIP. Driven through the
cluster controller (which runs the bastion after the cluster is Ready) with the OpenStackServer
controller, as the manager's work queues would.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from openstack.connection import Connection

from osk8s_capo.kube import OPENSTACK_CLUSTER, OPENSTACK_SERVER
from osk8s_core.errors import Osk8sError

from .capo_harness import World
from .capo_machine_harness import MachineWorld
from .test_capo_cluster_contract import external_network_id, is_ready

pytestmark = pytest.mark.contract

BASTION_SPEC = {
    "flavor": {"filter": {"name": "osk8s.small"}},
    "image": {"filter": {"name": "osk8s-fake-image"}},
}


def test_bastion_boots_with_fip_is_recreated_on_change_and_removed(
    world: World, demo: Connection
) -> None:
    name = "bst"
    world.create_cluster(
        name,
        {
            "managedSubnets": [{"cidr": "10.62.0.0/24"}],
            "externalNetwork": {"id": external_network_id(demo)},
            "apiServer": {"enableFloatingIP": False, "fixedIP": "10.62.0.250"},
            "managedSecurityGroups": {},
            "bastion": {"enabled": True, "spec": BASTION_SPEC},
        },
    )
    assert world.converge(name, until=is_ready) is not None
    mw = MachineWorld(world)
    clusters = world.reconciler()
    servers = mw.reconciler()
    server_name = f"{name}-bastion"

    def converge(until: Any, rounds: int = 200) -> dict[str, Any]:
        for _ in range(rounds):
            wait: float | None = -1.0  # an error: not converged
            with contextlib.suppress(Osk8sError):  # retried as the work queue would
                result = clusters.reconcile(world.key(name))
                wait = result.after if result is not None else None
            if world.kube.get(OPENSTACK_SERVER, world.namespace, server_name) is not None:
                with contextlib.suppress(Osk8sError):  # retried as the work queue would
                    servers.reconcile(world.namespace, server_name)
            osc = world.osc(name)
            if until(osc, wait):
                return osc
        raise AssertionError(f"bastion did not converge: {world.osc(name).get('status')}")

    osc = converge(
        lambda o, wait: wait is None and (o["status"].get("bastion") or {}).get("floatingIP")
    )
    first = osc["status"]["bastion"]
    group = osc["status"]["bastionSecurityGroup"]["id"]
    ports = list(demo.network.ports(device_id=first["id"]))
    assert [p.security_group_ids for p in ports] == [[group]]
    fip = next(demo.network.ips(floating_ip_address=first["floatingIP"]))
    assert fip.port_id == ports[0].id and first["ip"] == ports[0].fixed_ips[0]["ip_address"]

    # a spec change recreates the bastion; the FIP moves to the new server
    world.kube.patch(
        OPENSTACK_CLUSTER,
        world.osc(name),
        {"spec": {"bastion": {"spec": {"serverMetadata": [{"key": "rev", "value": "2"}]}}}},
    )
    osc = converge(
        lambda o, wait: (
            wait is None
            and (o["status"].get("bastion") or {}).get("id") not in (None, first["id"])
            and o["status"]["bastion"].get("floatingIP")
        )
    )
    second = osc["status"]["bastion"]
    assert second["floatingIP"] == first["floatingIP"]
    now = world.kube.get(OPENSTACK_SERVER, world.namespace, server_name)
    assert now is not None and second["id"] == now["status"]["instanceID"]
    assert second["state"] == "ACTIVE"
    assert demo.compute.get_server(second["id"]).metadata == {"rev": "2"}

    # disabled: server object and Nova server gone, our FIP deleted
    world.kube.patch(OPENSTACK_CLUSTER, world.osc(name), {"spec": {"bastion": {"enabled": False}}})
    osc = converge(lambda o, wait: wait is None and "bastion" not in o["status"])
    assert world.kube.get(OPENSTACK_SERVER, world.namespace, server_name) is None
    assert mw.cloud_objects(server_name) == {"servers": [], "ports": [], "volumes": []}
    assert list(demo.network.ips(floating_ip_address=first["floatingIP"])) == []
    world.delete(name)
    left = world.cloud_objects(name)
    assert all(not ids for ids in left.values()), left
