"""The machine and server controllers' state rules without the cloud: the in-memory API server
(real CRDs) holds the objects, and the OpenStack side is a narrow fake of what the server
reconciler asks of ``ServerCloud`` (a server in a given state; creates recorded, so "nothing
created" can fail). Requeue timings (capo.md §2.12), ``initialization.provisioned`` never
reset (§2.6, CAPI v1beta2 contract), pause from the labelled Cluster (§1.11), and the
refusals that must leave nothing behind: a bootstrap Secret without ``value`` and
``floatingIPPoolRef`` (no OpenStackFloatingIPPool controller yet)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from osk8s_capo import conditions as cond
from osk8s_capo.kube import CLUSTER, CLUSTER_NAME_LABEL, OPENSTACK_SERVER
from osk8s_capo.machine import MachineReconciler
from osk8s_capo.server import FINALIZER, ServerReconciler, cluster_to_servers
from osk8s_core import errors
from osk8s_core.k8s.controller import Requeue
from osk8s_testing.kubeapi.server import KubeApiServer

from .capo_harness import World
from .capo_machine_harness import MachineWorld, provisioned
from .capo_server_harness import TestNetwork

NET_ID = "0b4f4b5e-8d1a-4d59-9a0e-3f0c1d2e3a41"
NET = TestNetwork(NET_ID, "5c2d3e4f-1a2b-4c3d-8e9f-0a1b2c3d4e5f", "10.9.0.0/24", "sg-1", "net")


class FakeServers:
    def __init__(self, cloud: FakeCloud) -> None:
        self.cloud = cloud

    def get(self, server_id: str) -> Any:
        if self.cloud.state is None:
            raise errors.NotFound(f"server {server_id}")
        fault = {"message": "No valid host was found."} if self.cloud.state == "ERROR" else {}
        return SimpleNamespace(
            id=server_id, name="srv", status=self.cloud.state, fault=fault, addresses={}
        )

    def create(self, name: str, **attrs: Any) -> Any:
        self.cloud.created.append(("server", name))
        return SimpleNamespace(id="i-new", name=name, status="BUILD")


class FakePorts:
    def __init__(self, cloud: FakeCloud) -> None:
        self.cloud = cloud

    def create(self, network_id: str, name: str, **attrs: Any) -> Any:
        self.cloud.created.append(("port", name))
        return SimpleNamespace(id=f"p-{name}", tags=[])


class FakeCloud:
    """What ServerReconciler asks of ServerCloud on these paths (no volumes planned)."""

    def __init__(self, state: str | None = "ACTIVE") -> None:
        self.state = state
        self.created: list[tuple[str, str]] = []
        self.servers = FakeServers(self)
        self.ports = FakePorts(self)

    def flavor_id_by_name(self, name: str) -> str:
        self.created.append(("lookup", name))  # resolution counts as touching the cloud
        return f"flavor-{name}"

    def image_id_by_filter(self, name: str, tags: Any) -> str:
        return f"image-{name}"

    def network_ids(self, query: Any) -> list[str]:
        return [NET_ID]

    def subnet_ids(self, query: Any) -> list[str]:
        return [NET.subnet_id]

    def security_group_ids(self, query: Any) -> list[str]:
        return [NET.security_group_id]


@pytest.fixture
def machines(capo_api: KubeApiServer) -> MachineWorld:
    # no cloud: the demo connection is never used on these paths
    return MachineWorld(World(capo_api, "clouds: {}\n", demo=None))  # type: ignore[arg-type]


def server_reconciler(world: MachineWorld, cloud: FakeCloud) -> ServerReconciler:
    fake: Any = cloud  # the narrow part of ServerCloud these paths use
    return ServerReconciler(
        kube=world.kube, client_for=lambda ns, ref: fake, cloud_for=lambda client: fake
    )


def machine_reconciler(world: MachineWorld) -> MachineReconciler:
    def no_scope(namespace: str, ref: Any) -> Any:
        raise AssertionError("a worker's state mirror needs no OpenStack scope")

    return MachineReconciler(kube=world.kube, scope_for=no_scope)


def set_server_state(world: MachineWorld, name: str, state: str, message: str = "") -> None:
    server = world.kube.get(OPENSTACK_SERVER, world.namespace, name)
    assert server is not None
    status: dict[str, Any] = {"instanceID": "i-1", "instanceState": state}
    if message:
        cond.set_condition(status, cond.INSTANCE_READY, False, "InstanceStateError", message)
    world.kube.patch_status(OPENSTACK_SERVER, server, status)


def test_machine_requeues_and_provisioned_is_never_reset(machines: MachineWorld) -> None:
    rec = machine_reconciler(machines)
    ns = machines.namespace
    machines.cluster("c-wait", NET, status={})
    machines.machine("m-wait", "c-wait", {})
    assert rec.reconcile(ns, "m-wait") == Requeue(after=15.0)
    waiting = cond.find(machines.osm("m-wait")["status"], cond.INSTANCE_READY)  # type: ignore[index]
    assert waiting is not None and waiting["reason"] == "WaitingForClusterInfrastructure"

    machines.cluster("c1", NET)
    machines.machine("m1", "c1", {})
    assert rec.reconcile(ns, "m1") == Requeue(after=10.0)  # server object made, no state yet
    assert machines.kube.get(OPENSTACK_SERVER, ns, "m1") is not None
    set_server_state(machines, "m1", "BUILD")
    assert rec.reconcile(ns, "m1") == Requeue(after=10.0)
    set_server_state(machines, "m1", "ACTIVE")
    assert rec.reconcile(ns, "m1") is None
    osm = machines.osm("m1")
    assert provisioned(osm) and cond.is_true(osm["status"], cond.READY)  # type: ignore[index]
    assert osm["spec"]["providerID"] == "openstack:///i-1"  # type: ignore[index]

    # after provisioned, the server stops, fails, or is deleted behind our back: provisioned
    # stays (CAPI v1beta2: written once), the conditions say what happened
    expected = {
        "SHUTOFF": (Requeue(after=60.0), cond.UNKNOWN, "InstanceNotReady"),
        "ERROR": (Requeue(after=60.0), "False", "InstanceStateError"),
        "DELETED": (None, "False", "InstanceDeleted"),
    }
    for state, (requeue, ready, reason) in expected.items():
        set_server_state(machines, "m1", state, f"server went {state}")
        assert rec.reconcile(ns, "m1") == requeue, state
        status = machines.osm("m1")["status"]  # type: ignore[index]
        assert status["initialization"]["provisioned"] is True, state
        found = cond.find(status, cond.READY)
        assert found is not None and (found["status"], found["reason"]) == (ready, reason), state
        assert status["instanceState"] == state


def test_server_requeues_by_state(machines: MachineWorld) -> None:
    ns = machines.namespace
    obj = machines.create("srv-q", {"ports": [{"network": {"id": NET_ID}}]})
    machines.kube.patch_status(
        OPENSTACK_SERVER,
        obj,
        {"resolved": {"flavorID": "f", "imageID": "i", "ports": []}, "instanceID": "i-1"},
    )
    cloud = FakeCloud()
    rec = server_reconciler(machines, cloud)
    for state, requeue, reason in (
        ("BUILD", Requeue(after=10.0), "InstanceNotReady"),
        ("ERROR", Requeue(after=60.0), "InstanceStateError"),
        ("SHUTOFF", Requeue(after=60.0), "InstanceNotReady"),
        ("ACTIVE", None, cond.READY_REASON),
    ):
        cloud.state = state
        assert rec.reconcile(ns, "srv-q") == requeue, state
        status = machines.get("srv-q")["status"]  # type: ignore[index]
        assert status["instanceState"] == state
        assert cond.find(status, cond.INSTANCE_READY)["reason"] == reason  # type: ignore[index]
    assert "No valid host" not in str(status)  # the ERROR message was replaced when ACTIVE
    cloud.state = None  # deleted behind our back
    with pytest.raises(errors.ResourceError):
        rec.reconcile(ns, "srv-q")
    status = machines.get("srv-q")["status"]  # type: ignore[index]
    assert status["instanceState"] == "DELETED"
    assert cond.find(status, cond.INSTANCE_READY)["reason"] == "InstanceNotFound"  # type: ignore[index]
    assert cloud.created == []


def test_server_honours_its_clusters_pause(machines: MachineWorld) -> None:
    ns = machines.namespace
    machines.kube.create(
        CLUSTER,
        ns,
        {"apiVersion": CLUSTER.api_version, "kind": "Cluster",
         "metadata": {"name": "paused-c"}, "spec": {"paused": True}},
    )  # fmt: skip
    body = {
        "apiVersion": OPENSTACK_SERVER.api_version,
        "kind": "OpenStackServer",
        "metadata": {"name": "srv-p", "labels": {"cluster.x-k8s.io/cluster-name": "paused-c"}},
        "spec": {
            "identityRef": {"name": "cloud-config", "cloudName": "openstack"},
            "flavor": "small",
            "sshKeyName": "",
            "image": {"filter": {"name": "img"}},
            "ports": [{"network": {"id": NET_ID}}],
        },
    }
    machines.kube.create(OPENSTACK_SERVER, ns, body)
    other = {**body, "metadata": {"name": "srv-o", "labels": {CLUSTER_NAME_LABEL: "other-c"}}}
    machines.kube.create(OPENSTACK_SERVER, ns, other)
    # a Cluster event (pause, unpause) enqueues exactly the servers labelled with it
    cluster_obj = machines.kube.get(CLUSTER, ns, "paused-c")
    assert cluster_obj is not None
    assert cluster_to_servers(machines.kube)(cluster_obj) == [f"{ns}/srv-p"]
    cloud = FakeCloud(state="BUILD")
    rec = server_reconciler(machines, cloud)
    assert rec.reconcile(ns, "srv-p") is None
    got = machines.get("srv-p")
    assert got is not None and FINALIZER not in (got["metadata"].get("finalizers") or [])
    assert not got.get("status") and cloud.created == []
    # unpaused: the same object is reconciled (resolution, a port, the server)
    cluster = machines.kube.get(CLUSTER, ns, "paused-c")
    machines.kube.patch(CLUSTER, cluster, {"spec": {"paused": False}})  # type: ignore[arg-type]
    assert rec.reconcile(ns, "srv-p") == Requeue(after=10.0)
    assert [kind for kind, _ in cloud.created] == ["lookup", "port", "server"]


def test_bootstrap_secret_without_value_and_floating_ip_pool_create_nothing(
    machines: MachineWorld,
) -> None:
    ns = machines.namespace
    machines.world.core.create_namespaced_secret(
        ns, {"metadata": {"name": "no-value"}, "stringData": {"format": "cloud-config"}}
    )
    cases = {
        "srv-nv": ({"userDataRef": {"name": "no-value"}}, f"Secret {ns}/no-value has no 'value'"),
        "srv-ns": ({"userDataRef": {"name": "missing"}}, "missing not found"),
        "srv-pool": (
            {"floatingIPPoolRef": {"apiGroup": "infrastructure.cluster.x-k8s.io",
                                   "kind": "OpenStackFloatingIPPool", "name": "pool"}},
            "floatingIPPoolRef is not supported by osk8s yet",
        ),
    }  # fmt: skip
    cloud = FakeCloud()
    rec = server_reconciler(machines, cloud)
    for name, (spec, message) in cases.items():
        machines.create(name, {"ports": [{"network": {"id": NET_ID}}], **spec})
        with pytest.raises(errors.ConfigError):
            rec.reconcile(ns, name)
        status = machines.get(name)["status"]  # type: ignore[index]
        found = cond.find(status, cond.INSTANCE_READY)
        assert found is not None and found["reason"] == "DependencyFailed", name
        assert message in found["message"], (name, found["message"])
        assert "instanceID" not in status and "resources" not in status
    assert cloud.created == []  # no lookup, no port, no server
