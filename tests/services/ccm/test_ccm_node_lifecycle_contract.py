"""The lifecycle pass with real Nova servers: node B's server stopped → shutdown taint, started
and Ready → taint removed; NotReady nodes of servers Nova does not know (a server booted then
deleted, by id; and beyond CPO by name with an empty providerID) are deleted. Lookups through
one sync snapshot."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client import CoreV1Api

from osk8s_ccm.batch import SyncSnapshot
from osk8s_ccm.instances import InstancesV2
from osk8s_ccm.node_lifecycle import SHUTDOWN_TAINT, NodeLifecycle
from osk8s_ccm.settings import instance_settings
from osk8s_core.k8s.clock import SystemClock
from osk8s_core.k8s.events import EventRecorder
from osk8s_testing.testcloud.boot import boot_flavor_id, boot_image_id

from .conftest import Cloud, World, _wait
from .node_helpers import node_json, node_names, plain_node, set_ready, taint_keys

pytestmark = pytest.mark.contract


@pytest.fixture
def core(kube_api) -> Iterator[CoreV1Api]:  # type: ignore[no-untyped-def]
    client = kube_api.api_client()
    yield CoreV1Api(client)
    client.close()


def test_lifecycle_on_real_servers(
    core: CoreV1Api, world: World, cloud: Cloud, ccm_conn: Any
) -> None:
    controller = NodeLifecycle(
        api=core,
        instances=InstancesV2(instance_settings(world.config, {})),
        snapshot=lambda: SyncSnapshot.take(cloud.nova_neutron),
        recorder=EventRecorder(core, component="cloud-node-lifecycle", clock=SystemClock()),
    )
    compute = ccm_conn.compute
    deleted = _deleted_server(ccm_conn)
    plain_node(core, world.b_name, provider_id=f"openstack:///{world.b_id}", ready="False")
    plain_node(core, world.a_name, ready="Unknown")  # by name: exists, ACTIVE
    plain_node(core, "gone", provider_id=f"openstack:///{deleted}", ready="False")
    plain_node(core, f"no-such-server-{uuid.uuid4().hex[:6]}", ready="False")

    def nodes() -> list[dict[str, Any]]:
        return [node_json(core, n) for n in sorted(node_names(core))]

    first = controller.monitor(nodes())
    assert len(first.deleted) == 2 and "gone" in first.deleted
    assert node_names(core) == {world.a_name, world.b_name}
    assert first.tainted == []

    compute.stop_server(world.b_id)
    try:
        _wait(lambda: compute.get_server(world.b_id).status, lambda s: s == "SHUTOFF", "stop", 60)
        assert controller.monitor(nodes()).tainted == [world.b_name]
        assert taint_keys(node_json(core, world.b_name)) == [SHUTDOWN_TAINT]
    finally:
        compute.start_server(world.b_id)
    _wait(lambda: compute.get_server(world.b_id).status, lambda s: s == "ACTIVE", "start", 60)
    set_ready(core, world.b_name, "True")
    assert controller.monitor(nodes()).untainted == [world.b_name]
    assert taint_keys(node_json(core, world.b_name)) == []


def _deleted_server(conn: Any) -> str:
    """The id of a server that existed: booted (no network, no wait) and deleted until Nova no
    longer finds it."""
    compute = conn.compute
    flavor_id, image_id = boot_flavor_id(conn), boot_image_id(conn)
    server = compute.create_server(
        name=f"ccm-deleted-{uuid.uuid4().hex[:6]}",
        flavor_id=flavor_id,
        image_id=image_id,
        networks="none",
    )
    compute.delete_server(server.id)
    _wait(lambda: compute.find_server(server.id), lambda found: found is None, "deleted", 60)
    return str(server.id)
