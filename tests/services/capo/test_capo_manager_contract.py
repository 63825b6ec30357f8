"""The controller manager as the binary runs it: shared informers, leader election on its
Lease (losing it stops the manager with ``LeadershipLost``, exit 1 in ``app.run``), the
watch filter, ``--namespace`` (another namespace is never watched), the Cluster watch (pause
transitions), /healthz and /readyz, /metrics with CAPO's OpenStack request counters and
latency histogram, events; an OpenStackCluster goes Ready through informer events alone (no
direct reconcile call)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from kubernetes.client import ApiException, CoordinationV1Api
from prometheus_client.parser import text_string_to_metric_families

from osk8s_capo import conditions as cond
from osk8s_capo.app import build_dependencies
from osk8s_capo.cluster_controller import FINALIZER, register
from osk8s_capo.kube import CLUSTER
from osk8s_capo.manager import LEADER_ELECTION_ID, LeadershipLost, Manager, ManagerOptions
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


def start(manager: Manager) -> tuple[threading.Event, threading.Thread, dict[str, BaseException]]:
    """Runs the manager in a thread; ``outcome["lost"]`` is its LeadershipLost, if any."""
    stop = threading.Event()
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            manager.run(stop)
        except LeadershipLost as exc:
            outcome["lost"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return stop, thread, outcome


def assert_untouched(world: World, name: str) -> None:
    osc = world.osc(name)
    assert "finalizers" not in osc["metadata"] and not osc.get("status"), name


def assert_latency_histogram(metrics: str) -> None:
    """The per-call latency histogram of capo.md §4, with samples."""
    (duration,) = [
        f
        for f in text_string_to_metric_families(metrics)
        if f.name == "capo_openstack_api_request_duration_seconds"
    ]
    assert duration.type == "histogram"
    counts = {s.labels["request"]: s.value for s in duration.samples if s.name.endswith("_count")}
    assert counts.get("network_get", 0) >= 1 and counts.get("identity_token_get", 0) >= 1
    assert any(s.name.endswith("_bucket") and s.labels.get("le") for s in duration.samples)


def assert_provisioned_event(world: World, name: str) -> None:
    """The reconcile's Normal event on the OpenStackCluster (capo.md §2.10: events)."""
    events = wait_for(
        lambda: [
            e
            for e in world.core.list_namespaced_event(world.namespace).items
            if e.involved_object.name == name and e.reason == "Provisioned"
        ],
        "the Provisioned event",
    )
    assert events[0].type == "Normal" and events[0].involved_object.kind == "OpenStackCluster"


def take_lease(world: World) -> None:
    """Another holder takes the manager's Lease (as a new leader after a partition would)."""
    coordination = CoordinationV1Api(world.api)
    taken = coordination.read_namespaced_lease(LEADER_ELECTION_ID, world.namespace)
    taken.spec.holder_identity = "intruder"
    taken.spec.lease_duration_seconds = 60
    taken.spec.renew_time = dt.datetime.now(dt.UTC)
    coordination.replace_namespaced_lease(LEADER_ELECTION_ID, world.namespace, taken)


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
        lease_duration=10,  # a loaded CI machine may stall a renewal for seconds
        renew_deadline=6,
        retry_period=0.5,
        health_addr="127.0.0.1:0",
        diagnostics_addr="127.0.0.1:0",
        insecure_diagnostics=True,
    )
    manager = Manager(api_client=world.api, options=options)
    deps = build_dependencies(manager, crash_points=NO_CRASH_POINTS, environ={})
    register(manager, deps)
    stop, thread, outcome = start(manager)
    elsewhere = World(world.kube_api, world.clouds_yaml, demo)  # another namespace
    try:
        assert manager.started.wait(30)
        health, diagnostics = (f"http://{h}:{p}" for h, p in (s.address for s in manager.servers))
        # Matches the watch filter, but not --namespace: never seen (created first, so it
        # would have been reconciled before the one that is).
        elsewhere.create_cluster(
            "outside", spec, labels={"cluster.x-k8s.io/watch-filter": "team-a"}
        )
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
        assert_untouched(world, "other")
        assert_untouched(elsewhere, "outside")
        lease = CoordinationV1Api(world.api).read_namespaced_lease(
            "controller-leader-election-capo", world.namespace
        )
        assert lease.spec.holder_identity == options.identity
        assert requests.get(f"{health}/healthz", timeout=5).status_code == 200
        wait_for(lambda: requests.get(f"{health}/readyz", timeout=5).status_code == 200, "readyz")
        metrics = requests.get(f"{diagnostics}/metrics", timeout=5).text
        assert 'capo_openstack_api_requests_total{request="network_get"}' in metrics
        assert_latency_histogram(metrics)
        assert_provisioned_event(world, "filtered")
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
        take_lease(world)  # renewing fails past the renew deadline
        # The manager stops with LeadershipLost (controller-runtime exits 1: app.run does).
        thread.join(timeout=20)
        assert not thread.is_alive() and isinstance(outcome.get("lost"), LeadershipLost)
        assert stop.is_set()
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


def test_binary_exits_1_when_its_lease_is_taken(world: World, tmp_path: Any) -> None:
    """controller-runtime exits 1 on lost leadership: the real ``capo-controller-manager``
    process, once another holder has its Lease, exits with status 1 (its replacement leads)."""
    kubeconfig = world.kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    env = {**os.environ, "POD_NAMESPACE": world.namespace}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "osk8s_capo",
            f"--kubeconfig={kubeconfig}",
            f"--namespace={world.namespace}",
            "--leader-elect",
            "--leader-elect-lease-duration=10s",
            "--leader-elect-renew-deadline=6s",
            "--leader-elect-retry-period=500ms",
            "--health-addr=127.0.0.1:0",
            "--diagnostics-address=0",
            f"--webhook-cert-dir={tmp_path / 'no-certs'}",
            "--webhook-port=0",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    coordination = CoordinationV1Api(world.api)
    try:

        def holder() -> str:
            try:
                lease = coordination.read_namespaced_lease(LEADER_ELECTION_ID, world.namespace)
            except ApiException:
                return ""
            return str(lease.spec.holder_identity or "")

        assert wait_for(holder, "the binary to take its Lease", timeout=60)
        assert proc.poll() is None
        take_lease(world)
        code = proc.wait(timeout=30)
        stderr = proc.stderr.read() if proc.stderr else ""
        assert code == 1, stderr[-2000:]
        assert "leader election lost" in stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
