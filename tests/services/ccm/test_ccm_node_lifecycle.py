"""The cloud node lifecycle controller on the in-memory API server over a small fake of the
cloud lookup: gone servers' NotReady nodes deleted (by providerID and, beyond CPO, by name),
SHUTOFF servers' nodes tainted, the taint removed once Ready."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes.client import CoreV1Api

from osk8s_ccm.cloud_view import ServerInfo
from osk8s_ccm.instances import InstanceSettings, InstancesV2
from osk8s_ccm.node_lifecycle import SHUTDOWN_TAINT, NodeLifecycle
from osk8s_core.k8s.clock import SystemClock
from osk8s_core.k8s.events import EventRecorder

from .fakes import FakeLookup
from .node_helpers import events_for, node_json, node_names, plain_node, set_ready, taint_keys

RUNNING = ServerInfo(id="id-run", name="running")
STOPPED = ServerInfo(id="id-stop", name="stopped", status="SHUTOFF")


@pytest.fixture
def core(kube_api) -> Iterator[CoreV1Api]:  # type: ignore[no-untyped-def]
    client = kube_api.api_client()
    yield CoreV1Api(client)
    client.close()


def lifecycle(core: CoreV1Api, fake: FakeLookup) -> NodeLifecycle:
    return NodeLifecycle(
        api=core,
        instances=InstancesV2(InstanceSettings(region="RegionOne")),
        snapshot=lambda: fake,
        recorder=EventRecorder(
            core, component="cloud-node-lifecycle-controller", clock=SystemClock()
        ),
    )


def all_nodes(core: CoreV1Api) -> list[dict[str, object]]:
    return [node_json(core, name) for name in sorted(node_names(core))]


def test_one_pass(core: CoreV1Api) -> None:
    plain_node(core, "gone-by-id", provider_id="openstack:///gone", ready="False")
    plain_node(core, "gone-by-name", ready="Unknown")  # empty providerID: CPO #2999
    plain_node(core, "gone-but-ready", provider_id="openstack:///gone", ready="True")
    plain_node(core, "stopped", provider_id="openstack:///id-stop", ready="False")
    plain_node(core, "running", provider_id="openstack:///id-run", ready="False")
    plain_node(core, "running-no-condition", provider_id="openstack:///id-run")
    result = lifecycle(core, FakeLookup([RUNNING, STOPPED])).monitor(all_nodes(core))
    assert sorted(result.deleted) == ["gone-by-id", "gone-by-name"]
    assert result.tainted == ["stopped"]
    assert result.failed == []
    assert node_names(core) == {"gone-but-ready", "stopped", "running", "running-no-condition"}
    assert taint_keys(node_json(core, "stopped")) == [SHUTDOWN_TAINT]
    assert taint_keys(node_json(core, "running")) == []
    assert events_for(core, "gone-by-name") == [("Normal", "DeletingNode")]


def test_shutdown_taint_added_once_and_removed_when_ready(core: CoreV1Api) -> None:
    plain_node(core, "stopped", provider_id="openstack:///id-stop", ready="False")
    fake = FakeLookup([RUNNING, STOPPED])
    controller = lifecycle(core, fake)
    controller.monitor(all_nodes(core))
    version = node_json(core, "stopped")["metadata"]["resourceVersion"]
    assert controller.monitor(all_nodes(core)).tainted == []
    assert node_json(core, "stopped")["metadata"]["resourceVersion"] == version
    set_ready(core, "stopped", "True")  # started again, kubelet reports Ready
    asked = sum(fake.asked.values())
    assert controller.monitor(all_nodes(core)).untainted == ["stopped"]
    assert taint_keys(node_json(core, "stopped")) == []
    assert sum(fake.asked.values()) == asked  # Ready nodes cost no cloud call
