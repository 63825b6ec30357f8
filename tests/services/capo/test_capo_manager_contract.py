"""The controller manager as the binary runs it: shared informers, leader election on its
Lease, the watch filter, the Cluster watch (pause transitions), /healthz and /readyz,
/metrics with CAPO's OpenStack request counters; an OpenStackCluster goes Ready through
informer events alone (no direct reconcile call)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from kubernetes.client import CoordinationV1Api

from osk8s_capo import conditions as cond
from osk8s_capo.app import build_dependencies
from osk8s_capo.cluster_controller import FINALIZER, register
from osk8s_capo.kube import CLUSTER
from osk8s_capo.manager import Manager, ManagerOptions
from osk8s_core.crashpoints import NO_CRASH_POINTS

from .capo_harness import World

pytestmark = pytest.mark.contract


def wait_for(check: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_manager_runs_the_cluster_controller(world: World, demo: Any) -> None:
    net = demo.network.create_network(name=f"{world.namespace}-mgr")
    demo.network.create_subnet(network_id=net.id, cidr="10.78.0.0/24", ip_version=4)
    spec = {
        "network": {"id": net.id},
        "enableExternalNetwork": False,
        "apiServer": {"enableFloatingIP": False, "fixedIP": "10.78.0.5"},
    }
    options = ManagerOptions(
        namespace=world.namespace,
        watch_filter="team-a",
        sync_period=600,
        leader_elect=True,
        leader_election_namespace=world.namespace,
        health_addr="127.0.0.1:0",
        diagnostics_addr="127.0.0.1:0",
        insecure_diagnostics=True,
    )
    manager = Manager(api_client=world.api, options=options)
    deps = build_dependencies(manager, crash_points=NO_CRASH_POINTS, environ={})
    register(manager, deps)
    stop = threading.Event()
    thread = threading.Thread(target=manager.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert manager.started.wait(10)
        health, diagnostics = (f"http://{h}:{p}" for h, p in (s.address for s in manager.servers))
        world.create_cluster("filtered", spec, labels={"cluster.x-k8s.io/watch-filter": "team-a"})
        world.create_cluster("other", spec)
        osc = wait_for(
            lambda: (
                (o := world.osc("filtered")) and cond.is_true(o.get("status"), cond.READY) and o
            ),
            "the filtered cluster to be Ready",
        )
        assert osc["spec"]["controlPlaneEndpoint"] == {"host": "10.78.0.5", "port": 6443}
        assert FINALIZER in osc["metadata"]["finalizers"]
        # Not ours per --watch-filter: never touched.
        other = world.osc("other")
        assert "finalizers" not in other["metadata"] and not other.get("status")
        lease = CoordinationV1Api(world.api).read_namespaced_lease(
            "controller-leader-election-capo", world.namespace
        )
        assert lease.spec.holder_identity == options.identity
        assert requests.get(f"{health}/healthz", timeout=5).status_code == 200
        wait_for(lambda: requests.get(f"{health}/readyz", timeout=5).status_code == 200, "readyz")
        metrics = requests.get(f"{diagnostics}/metrics", timeout=5).text
        assert 'capo_openstack_api_requests_total{request="network_get"}' in metrics
        assert (
            'controller_runtime_reconcile_total{controller="openstackcluster",result="success"}'
            in metrics
        )
        # Pausing the Cluster reaches the OpenStackCluster through the Cluster watch.
        world.kube.patch(
            CLUSTER,
            {"metadata": {"namespace": world.namespace, "name": "filtered"}},
            {"spec": {"paused": True}},
        )
        wait_for(
            lambda: cond.is_true(world.osc("filtered").get("status"), cond.PAUSED),
            "the Paused condition",
        )
    finally:
        stop.set()
        thread.join(timeout=30)
        world.kube.patch(
            CLUSTER,
            {"metadata": {"namespace": world.namespace, "name": "filtered"}},
            {"spec": {"paused": False}},
        )
        world.delete("filtered")
        for subnet in demo.network.subnets(network_id=net.id):
            demo.network.delete_subnet(subnet.id)
        demo.network.delete_network(net.id)
    assert not thread.is_alive()
