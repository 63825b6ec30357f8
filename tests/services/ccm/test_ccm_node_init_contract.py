"""Real Nova servers become initialised Nodes on the in-memory API server; expected values
from cpo.md §1.3 (see test_ccm_instances_contract for the address table)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes.client import CoreV1Api

from osk8s_ccm.batch import SyncSnapshot
from osk8s_ccm.instances import InstancesV2
from osk8s_ccm.lookup import CloudLookup
from osk8s_ccm.node_init import NodeInitializer
from osk8s_ccm.nova_neutron import LiveLookup
from osk8s_ccm.settings import instance_settings
from osk8s_core.k8s.clock import SystemClock
from osk8s_core.k8s.controller import Requeue
from osk8s_core.k8s.events import EventRecorder

from .conftest import Cloud, World
from .node_helpers import events_for, expected_labels, node_json, taint_keys, tainted_node
from .test_ccm_instances_contract import expected_tail

pytestmark = pytest.mark.contract


@pytest.fixture
def core(kube_api) -> Iterator[CoreV1Api]:  # type: ignore[no-untyped-def]
    client = kube_api.api_client()
    yield CoreV1Api(client)
    client.close()


def initializer(core: CoreV1Api, world: World, lookup: CloudLookup) -> NodeInitializer:
    return NodeInitializer(
        api=core,
        instances=InstancesV2(instance_settings(world.config, {})),
        lookup=lambda: lookup,
        recorder=EventRecorder(core, component="cloud-node-controller", clock=SystemClock()),
    )


def test_servers_become_initialised_nodes(core: CoreV1Api, world: World, cloud: Cloud) -> None:
    tainted_node(core, world.a_name)  # found by name
    tainted_node(core, world.b_name, provider_id=world.b_id)  # a bare id, as kubelet may set
    init = initializer(core, world, LiveLookup(cloud.nova_neutron))
    assert init.reconcile(world.a_name) is None
    assert init.reconcile(world.b_name) is None

    a = node_json(core, world.a_name)
    assert a["spec"]["providerID"] == f"openstack:///{world.a_id}"
    assert a["metadata"]["labels"] == {
        "keep": "me",
        **expected_labels(world.flavor_name, "az-2", "RegionOne"),
    }
    assert taint_keys(a) == ["example.com/dedicated"]
    addresses = [(x["type"], x["address"]) for x in a["status"]["addresses"]]
    assert set(addresses[:2]) == {
        ("InternalIP", world.a_demo_ip),
        ("InternalIP", world.a_second_ip),
    }
    assert addresses[2:] == [(x.type, x.address) for x in expected_tail(world)]

    b = node_json(core, world.b_name)
    assert b["spec"]["providerID"] == world.b_id  # set by kubelet: kept as it is
    assert b["metadata"]["labels"]["topology.kubernetes.io/zone"] == "az-1"
    assert b["status"]["addresses"] == [{"type": "InternalIP", "address": world.b_demo_ip}]


def test_snapshot_initialises_and_missing_server_keeps_the_taint(
    core: CoreV1Api, world: World, cloud: Cloud
) -> None:
    ghost = f"openstack:///{uuid.uuid4()}"
    tainted_node(core, world.b_name)
    tainted_node(core, "ghost", provider_id=ghost)
    before = node_json(core, "ghost")
    init = initializer(core, world, SyncSnapshot.take(cloud.nova_neutron))
    assert init.reconcile(world.b_name) is None
    assert init.reconcile("ghost") == Requeue(10.0)
    assert taint_keys(node_json(core, world.b_name)) == ["example.com/dedicated"]
    assert node_json(core, "ghost") == before
    assert events_for(core, "ghost") == [("Warning", "FailedToInitialize")]
    # The lists had B; only the ghost's server was asked for by id (and not found).
    assert cloud.requests("server_get") == 1
