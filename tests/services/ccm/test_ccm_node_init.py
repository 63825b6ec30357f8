"""The cloud node controller on the in-memory API server, over a small fake of the cloud
lookup: initialisation all or nothing, a missing server leaves the taint and an event."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest
from kubernetes.client import CoreV1Api, V1Node

from osk8s_ccm.cloud_view import PortInfo, ServerAddress, ServerInfo
from osk8s_ccm.instances import InstanceSettings, InstancesV2
from osk8s_ccm.lookup import CloudLookup
from osk8s_ccm.node_addresses import AddressRefresher
from osk8s_ccm.node_controllers import NodeControllers, NodePeriods
from osk8s_ccm.node_init import NodeInitializer
from osk8s_ccm.node_lifecycle import SHUTDOWN_TAINT
from osk8s_ccm.provided_ip import PROVIDED_NODE_IP_ANNOTATION as PROVIDED
from osk8s_core import errors
from osk8s_core.k8s.clock import SystemClock
from osk8s_core.k8s.controller import Requeue
from osk8s_core.k8s.events import EventRecorder

from .fakes import FakeLookup
from .node_helpers import (
    events_for,
    expected_labels,
    node_json,
    node_names,
    plain_node,
    set_ready,
    taint_keys,
    tainted_node,
)

SERVER = ServerInfo(
    id="id-1",
    name="node-1",
    availability_zone="az-2",
    flavor_original_name="m1.small",
    access_ipv4="203.0.113.5",
    addresses=MappingProxyType({"net": (ServerAddress("10.0.0.5"),)}),
)
PORT = PortInfo(id="p1", device_id="id-1", fixed_ips=("10.0.0.5",))


@pytest.fixture
def core(kube_api) -> Iterator[CoreV1Api]:  # type: ignore[no-untyped-def]
    client = kube_api.api_client()
    yield CoreV1Api(client)
    client.close()


def initializer(core: CoreV1Api, lookup: CloudLookup) -> NodeInitializer:
    recorder = EventRecorder(core, component="cloud-node-controller", clock=SystemClock())
    return NodeInitializer(
        api=core,
        instances=InstancesV2(InstanceSettings(region="RegionOne")),
        lookup=lambda: lookup,
        recorder=recorder,
    )


def test_tainted_node_is_initialised(core: CoreV1Api) -> None:
    tainted_node(core, "node-1")
    assert initializer(core, FakeLookup([SERVER], [PORT])).reconcile("node-1") is None
    node = node_json(core, "node-1")
    assert node["spec"]["providerID"] == "openstack:///id-1"
    assert node["metadata"]["labels"] == {
        "keep": "me",
        **expected_labels("m1.small", "az-2", "RegionOne"),
    }
    assert taint_keys(node) == ["example.com/dedicated"]
    assert node["status"]["addresses"] == [
        {"type": "InternalIP", "address": "10.0.0.5"},
        {"type": "ExternalIP", "address": "203.0.113.5"},
    ]
    assert ("Normal", "Synced") in events_for(core, "node-1")


def test_missing_server_leaves_the_taint_and_an_event(core: CoreV1Api) -> None:
    tainted_node(core, "node-1", provider_id="openstack:///gone")
    before = node_json(core, "node-1")
    assert initializer(core, FakeLookup([SERVER], [PORT])).reconcile("node-1") == Requeue(10.0)
    assert node_json(core, "node-1") == before
    assert events_for(core, "node-1") == [("Warning", "FailedToInitialize")]


class FailingLookup(FakeLookup):
    def server_ports(self, server_id: str) -> list[PortInfo]:
        raise errors.ServiceUnavailable("port_list failed: Neutron unreachable")


def test_openstack_failure_writes_nothing(core: CoreV1Api) -> None:
    tainted_node(core, "node-1")
    before = node_json(core, "node-1")
    with pytest.raises(errors.ServiceUnavailable):
        initializer(core, FailingLookup([SERVER], [PORT])).reconcile("node-1")
    assert node_json(core, "node-1") == before


def test_initialised_or_missing_node_is_left_alone(core: CoreV1Api) -> None:
    fake = FakeLookup([SERVER], [PORT])
    init = initializer(core, fake)
    tainted_node(core, "node-1")
    init.reconcile("node-1")
    version = node_json(core, "node-1")["metadata"]["resourceVersion"]
    asked = sum(fake.asked.values())
    assert init.reconcile("node-1") is None
    assert init.reconcile("no-such-node") is None
    assert node_json(core, "node-1")["metadata"]["resourceVersion"] == version
    assert sum(fake.asked.values()) == asked  # no cloud call for an initialised node


def test_node_controllers_initialise_refresh_and_delete(core: CoreV1Api) -> None:
    stopped = ServerInfo(id="id-2", name="node-2", status="SHUTOFF")
    fake = FakeLookup([SERVER, stopped], [PORT])
    controllers = NodeControllers(
        api=core,
        list_nodes=core.list_node,
        instances=InstancesV2(InstanceSettings(region="RegionOne")),
        lookup=lambda: fake,
        snapshot=lambda: fake,
        recorder=EventRecorder(core, component="cloud-node-controller", clock=SystemClock()),
        clock=SystemClock(),
        periods=NodePeriods(node_monitor=0.05, status_update=0.05),
    )
    stop = threading.Event()
    thread = threading.Thread(target=controllers.run, args=(stop,))
    thread.start()
    try:
        tainted_node(core, "node-1")
        plain_node(core, "gone", provider_id="openstack:///gone", ready="False")
        wait_until(lambda: taint_keys(node_json(core, "node-1")) == ["example.com/dedicated"])
        assert node_json(core, "node-1")["spec"]["providerID"] == "openstack:///id-1"
        plain_node(core, "node-2", provider_id="openstack:///id-2", ready="False")
        wait_until(lambda: "gone" not in node_names(core))  # lifecycle pass
        wait_until(lambda: taint_keys(node_json(core, "node-2")) == [SHUTDOWN_TAINT])
        fake.servers["id-2"] = replace(stopped, status="ACTIVE")  # started again
        set_ready(core, "node-2", "True")  # its kubelet reports Ready
        wait_until(lambda: taint_keys(node_json(core, "node-2")) == [])
        fake.servers["id-1"] = replace(SERVER, access_ipv4="203.0.113.77")
        wait_until(  # address refresh pass
            lambda: (
                {"type": "ExternalIP", "address": "203.0.113.77"}
                in node_json(core, "node-1")["status"]["addresses"]
            )
        )
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached within the timeout"
        time.sleep(0.05)


def test_address_refresh_pass_writes_only_what_changed(core: CoreV1Api) -> None:
    fake = FakeLookup([SERVER], [PORT])
    init = initializer(core, fake)
    for name in ("node-1", "pending", "gone"):
        tainted_node(core, name, provider_id="openstack:///gone" if name == "gone" else "")
    init.reconcile("node-1")
    core.patch_node(  # "gone" is initialised, but its server has since been deleted
        "gone", [{"op": "remove", "path": "/spec/taints/0"}]
    )
    refresher = AddressRefresher(
        api=core, instances=InstancesV2(InstanceSettings(region="RegionOne")), snapshot=lambda: fake
    )

    def nodes() -> list[dict[str, object]]:
        return [node_json(core, n) for n in ("node-1", "pending", "gone")]

    first = refresher.sync_all(nodes())
    assert (first.unchanged, first.skipped, first.updated) == (("node-1",), ("pending", "gone"), ())
    fake.servers["id-1"] = replace(SERVER, access_ipv4="203.0.113.99")
    second = refresher.sync_all(nodes())
    assert second.updated == ("node-1",)
    assert node_json(core, "node-1")["status"]["addresses"][-1] == {
        "type": "ExternalIP",
        "address": "203.0.113.99",
    }


def test_kubelet_provided_node_ip_is_honoured_or_keeps_the_taint(core: CoreV1Api) -> None:
    fake = FakeLookup([SERVER], [PORT])
    for name, ip in (("node-1", "203.0.113.5"), ("other-ip", "10.9.9.9")):
        tainted_node(core, name, provider_id="openstack:///id-1")
        core.patch_node(name, {"metadata": {"annotations": {PROVIDED: ip}}})
    init = initializer(core, fake)
    assert init.reconcile("node-1") is None
    assert node_json(core, "node-1")["status"]["addresses"] == [
        {"type": "ExternalIP", "address": "203.0.113.5"},
        {"type": "InternalIP", "address": "10.0.0.5"},
    ]
    before = node_json(core, "other-ip")
    assert init.reconcile("other-ip") == Requeue(10.0)
    assert node_json(core, "other-ip") == before
    assert events_for(core, "other-ip") == [("Warning", "FailedToInitialize")]


class RecordingApi:
    """The real client as ``NodeApi``, recording what it sends to ``nodes/status``."""

    def __init__(self, core: CoreV1Api) -> None:
        self._core = core
        self.status_patches: list[tuple[str | None, dict[str, Any]]] = []

    def read_node(self, name: str) -> V1Node:
        return self._core.read_node(name)

    def replace_node(self, name: str, body: V1Node) -> V1Node:
        return self._core.replace_node(name, body)

    def delete_node(self, name: str) -> Any:
        return self._core.delete_node(name)

    def patch_node_status(
        self, name: str, body: dict[str, Any], *, _content_type: str | None = None
    ) -> V1Node:
        self.status_patches.append((_content_type, body))
        return self._core.patch_node_status(name, body, _content_type=_content_type)


def test_addresses_are_a_strategic_merge_patch_replacing_the_list(core: CoreV1Api) -> None:
    """Upstream's content type for ``nodes/status``; ``$patch: replace`` keeps both InternalIPs
    and drops an address the server no longer has."""
    two = replace(
        SERVER,
        addresses=MappingProxyType(
            {"net": (ServerAddress("10.0.0.5"),), "net2": (ServerAddress("10.0.1.5"),)}
        ),
    )
    second = PortInfo(id="p2", device_id="id-1", fixed_ips=("10.0.1.5",))
    fake = FakeLookup([two], [PORT, second])
    api = RecordingApi(core)
    recorder = EventRecorder(core, component="cloud-node-controller", clock=SystemClock())
    v2 = InstancesV2(InstanceSettings(region="RegionOne"))
    init = NodeInitializer(api=api, instances=v2, lookup=lambda: fake, recorder=recorder)
    tainted_node(core, "node-1")
    init.reconcile("node-1")
    internal = [
        {"type": "InternalIP", "address": "10.0.0.5"},
        {"type": "InternalIP", "address": "10.0.1.5"},
    ]
    external = {"type": "ExternalIP", "address": "203.0.113.5"}
    assert node_json(core, "node-1")["status"]["addresses"] == [*internal, external]
    fake.ports.remove(second)
    fake.servers["id-1"] = SERVER
    refresher = AddressRefresher(api=api, instances=v2, snapshot=lambda: fake)
    assert refresher.sync_all([node_json(core, "node-1")]).updated == ("node-1",)
    assert node_json(core, "node-1")["status"]["addresses"] == [internal[0], external]
    assert [c for c, _ in api.status_patches] == ["application/strategic-merge-patch+json"] * 2
    assert all(b["status"]["addresses"][0] == {"$patch": "replace"} for _, b in api.status_patches)
