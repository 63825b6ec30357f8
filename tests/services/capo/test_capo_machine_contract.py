"""OpenStackMachine against the real test cloud with CAPI objects in the in-memory API server:
the waits of the contract, a worker machine to provisioned (providerID, addresses, AZ from the
failure domain), idle passes writing nothing, scale down leaving nothing; a server in ERROR
carrying Nova's fault text and, deleted, freeing its ports and volumes; the opt-in managed
control-plane server group; the no-LB control plane taking the API floating IP; the kill-point
loop. API load balancer membership: test_capo_machine_cluster_contract (with the real cluster
controller).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from openstack.connection import Connection

from osk8s_capo import conditions as cond
from osk8s_capo import naming
from osk8s_capo.kube import MACHINE, OPENSTACK_CLUSTER, OPENSTACK_SERVER
from osk8s_capo.machine import FINALIZER, SERVER_GROUP_ANNOTATION
from osk8s_testing.crashpoints import Point, loop_over_crash_points

from .capo_harness import World
from .capo_machine_harness import MachineWorld, provisioned
from .capo_server_harness import TestNetwork, private_network

pytestmark = pytest.mark.contract

PORT_CREATED = Point("port_create.after", 2)
SERVER_CREATED = Point("server_create.after")
PORT_ID_WRITE = Point("openstackserver_status_write.before", 2)
MACHINE_WRITE = Point("openstackmachine_status_write.before")

WRITES = (
    "port_create",
    "port_update",
    "port_delete",
    "server_create",
    "server_delete",
    "volume_create",
    "volume_delete",
    "floating_ip_update",
    "server_group_create",
)


@pytest.fixture(scope="module")
def net(demo: Connection) -> Iterator[TestNetwork]:
    yield from private_network(demo, "capo-mach")


@pytest.fixture
def mw(world: World) -> MachineWorld:
    return MachineWorld(world)


def writes(mw: MachineWorld) -> dict[str, float]:
    return {k: v for k, v in mw.world.api_requests().items() if k in WRITES}


def test_worker_machine_waits_then_provisions_and_scales_down(
    mw: MachineWorld, net: TestNetwork, demo: Connection
) -> None:
    mw.cluster("c1", net, status={})  # infrastructure not provisioned yet
    mw.machine("w1", "c1", {"tags": ["w"]}, bootstrap=None, failure_domain="az-1")
    waiting = mw.converge_machine(
        "w1", lambda o: bool(o and cond.find(o.get("status"), cond.INSTANCE_READY)), rounds=2
    )
    assert waiting is not None
    assert cond.find(waiting["status"], cond.INSTANCE_READY)["reason"] == (  # type: ignore[index]
        "WaitingForClusterInfrastructure"
    )
    osc = mw.kube.get(OPENSTACK_CLUSTER, mw.namespace, "c1")
    assert osc is not None
    status = {
        "initialization": {"provisioned": True},
        "network": {
            "id": net.network_id,
            "name": net.name,
            "subnets": [{"id": net.subnet_id, "name": net.name, "cidr": net.cidr}],
        },
    }
    mw.kube.patch_status(OPENSTACK_CLUSTER, osc, status)
    bootstrap_wait = mw.converge_machine(
        "w1",
        lambda o: (
            (cond.find((o or {}).get("status"), cond.INSTANCE_READY) or {}).get("reason")
            == "WaitingForBootstrapData"
        ),
        rounds=2,
    )
    assert bootstrap_wait is not None
    assert mw.kube.get(OPENSTACK_SERVER, mw.namespace, "w1") is None  # nothing made yet
    mw.bootstrap_secret()
    machine = mw.kube.get(MACHINE, mw.namespace, "w1")
    assert machine is not None
    mw.kube.patch(MACHINE, machine, {"spec": {"bootstrap": {"dataSecretName": "boot"}}})

    done = mw.converge_machine("w1", provisioned)
    assert done is not None
    assert FINALIZER in done["metadata"]["finalizers"]
    instance = done["status"]["instanceID"]
    assert done["spec"]["providerID"] == f"openstack:///{instance}"
    assert cond.is_true(done["status"], cond.READY)
    internal = [a["address"] for a in done["status"]["addresses"] if a["type"] == "InternalIP"]
    assert len(internal) == 1 and internal[0].startswith(net.cidr.rsplit(".", 2)[0])
    server = demo.compute.get_server(instance)
    assert server.availability_zone == "az-1" and "w" in server.tags
    oss = mw.kube.get(OPENSTACK_SERVER, mw.namespace, "w1")
    assert oss is not None
    assert oss["metadata"]["ownerReferences"][0]["name"] == "w1"
    assert oss["spec"]["userDataRef"] == {"name": "boot"}

    # idle: the machine and server passes write nothing anywhere
    before = writes(mw)
    versions = (done["metadata"]["resourceVersion"], oss["metadata"]["resourceVersion"])
    mw.step("w1", mw.machine_reconciler(), mw.reconciler())
    assert writes(mw) == before
    after = (
        mw.osm("w1")["metadata"]["resourceVersion"],  # type: ignore[index]
        mw.kube.get(OPENSTACK_SERVER, mw.namespace, "w1")["metadata"]["resourceVersion"],
    )  # type: ignore[index]
    assert after == versions

    mw.delete_machine("w1")
    assert mw.cloud_objects("w1") == {"servers": [], "ports": [], "volumes": []}


def test_quota_and_error_states_carry_novas_message_and_deletion_frees_everything(
    mw: MachineWorld, net: TestNetwork, admin: Connection
) -> None:
    """Over the RAM quota: Nova refuses the create (403) and the machine shows Nova's text.
    A disk no host has: Nova puts the server in ERROR with "No valid host"; the machine says
    so; deleting it frees the server, its port and its data volume."""
    suffix = uuid.uuid4().hex[:6]
    over_quota = admin.compute.create_flavor(
        name=f"capo-ram-{suffix}", vcpus=1, ram=4_000_000, disk=1
    )
    no_host = admin.compute.create_flavor(
        name=f"capo-disk-{suffix}", vcpus=1, ram=256, disk=900_000
    )
    try:
        mw.cluster("c2", net)
        mw.bootstrap_secret()
        mw.machine("q1", "c2", {"flavor": {"id": over_quota.id}})
        refused = mw.converge_machine(
            "q1", lambda o: (o or {}).get("status", {}).get("instanceState") == "ERROR"
        )
        assert refused is not None
        ready = cond.find(refused["status"], cond.READY)
        assert ready is not None and "Quota exceeded for ram" in ready["message"]
        assert mw.cloud_objects("q1")["servers"] == []

        mw.machine(
            "e1",
            "c2",
            {
                "flavor": {"id": no_host.id},
                "additionalBlockDevices": [
                    {"name": "data", "sizeGiB": 1, "storage": {"type": "Volume"}}
                ],
            },
        )
        failed = mw.converge_machine(
            "e1",
            lambda o: (
                bool((o or {}).get("status", {}).get("instanceID"))
                and (o or {}).get("status", {}).get("instanceState") == "ERROR"
            ),
        )
        assert failed is not None
        ready = cond.find(failed["status"], cond.READY)
        assert ready is not None and ready["reason"] == "InstanceStateError"
        assert "No valid host" in ready["message"]
        assert not provisioned(failed)
        found = mw.cloud_objects("e1")
        assert len(found["servers"]) == 1 and len(found["ports"]) == 1
        assert len(found["volumes"]) == 1
        mw.delete_machine("e1")
        mw.delete_machine("q1")
        assert mw.cloud_objects("e1") == {"servers": [], "ports": [], "volumes": []}
        assert mw.cloud_objects("q1") == {"servers": [], "ports": [], "volumes": []}
    finally:
        admin.compute.delete_flavor(over_quota.id, ignore_missing=True)
        admin.compute.delete_flavor(no_host.id, ignore_missing=True)


def test_managed_control_plane_server_group_and_api_floating_ip(
    mw: MachineWorld, net: TestNetwork, demo: Connection
) -> None:
    """Beyond CAPO (opt-in annotation): control-plane machines share a managed anti-affinity
    server group. No LB: the control plane's port gets the API floating IP, released on
    delete (the FIP belongs to the cluster and stays)."""
    public = next(demo.network.networks(is_router_external=True))
    router = demo.network.create_router(
        name=f"{net.name}-r", external_gateway_info={"network_id": public.id}
    )
    demo.network.add_interface_to_router(router, subnet_id=net.subnet_id)
    fip = demo.network.create_ip(floating_network_id=public.id, description="capo-test api")
    try:
        mw.cluster(
            "c3",
            net,
            spec={"controlPlaneEndpoint": {"host": fip.floating_ip_address, "port": 6443}},
            annotations={SERVER_GROUP_ANNOTATION: "soft-anti-affinity"},
        )
        mw.bootstrap_secret()
        mw.machine("cp1", "c3", {}, control_plane=True)
        done = mw.converge_machine("cp1", provisioned)
        assert done is not None
        assert cond.is_true(done["status"], "APIServerIngressReady")
        group = next(
            g
            for g in demo.compute.server_groups()
            if g.name == naming.control_plane_server_group_name(mw.namespace, "c3")
        )
        assert done["status"]["instanceID"] in group.member_ids
        attached = demo.network.get_ip(fip.id)
        server_ports = [p.id for p in demo.network.ports(device_id=done["status"]["instanceID"])]
        assert attached.port_id in server_ports
        mw.delete_machine("cp1")
        assert demo.network.get_ip(fip.id).port_id is None
        assert mw.cloud_objects("cp1") == {"servers": [], "ports": [], "volumes": []}
        demo.compute.delete_server_group(group.id)
    finally:
        demo.network.delete_ip(fip.id, ignore_missing=True)
        demo.network.remove_interface_from_router(router, subnet_id=net.subnet_id)
        demo.network.delete_router(router.id, ignore_missing=True)


def test_kill_points_on_the_machine_path_converge_to_one_server_and_its_ports(
    mw: MachineWorld, net: TestNetwork
) -> None:
    """Killed after the port create, after the server create, before the server's status
    write of the port ID and before the machine's first status write, a restarted pair of
    controllers adopts by name: one OpenStackServer, one Nova server, its ports."""
    mw.cluster("c5", net)
    mw.bootstrap_secret()
    name = "kill"

    def scenario(points: Any) -> None:
        if mw.osm(name) is None:
            mw.machine(name, "c5", {"ports": [{}, {"nameSuffix": "b"}]})
        machines, servers = mw.machine_reconciler(points), mw.reconciler(points)
        for _ in range(40):
            machines.reconcile(mw.namespace, name)
            servers.reconcile(mw.namespace, name)
            if (mw.osm(name) or {}).get("status", {}).get("instanceID"):
                return  # booting is Nova's business from here: no need to wait for ACTIVE
        raise AssertionError("no instance recorded on the machine")

    def verify() -> None:
        found = mw.cloud_objects(name)
        assert len(found["servers"]) == 1 and len(found["ports"]) == 2, found
        osm = mw.osm(name)
        assert osm is not None and osm["status"]["instanceID"] == found["servers"][0]
        server = mw.kube.get(OPENSTACK_SERVER, mw.namespace, name)
        assert server is not None
        recorded = sorted(p["id"] for p in server["status"]["resources"]["ports"])
        assert recorded == sorted(found["ports"])

    def reset() -> None:
        mw.delete_machine(name)
        machine = mw.kube.get(MACHINE, mw.namespace, name)
        if machine is not None:
            mw.kube.delete(MACHINE, mw.namespace, name)
        assert mw.cloud_objects(name) == {"servers": [], "ports": [], "volumes": []}

    crashed = loop_over_crash_points(
        scenario,
        verify=verify,
        reset=reset,
        select=lambda p: p in (PORT_CREATED, SERVER_CREATED, PORT_ID_WRITE, MACHINE_WRITE),
    )
    assert set(crashed) == {PORT_CREATED, SERVER_CREATED, PORT_ID_WRITE, MACHINE_WRITE}
