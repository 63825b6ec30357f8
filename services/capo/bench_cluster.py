"""Benchmark of the OpenStackCluster controller: OpenStack requests for a full cluster create
(managed network, router, security groups, API load balancer with floating IP), for one
reconcile of the unchanged cluster (goal: zero writes, to OpenStack and to Kubernetes), and
for delete; and the wall time of create → Ready on the test cloud.

The production ``ClusterReconciler`` runs against the in-memory API server (CRDs from the
release's ``infrastructure-components.yaml``) and the running test cloud (demo project),
stepped as the manager would, sleeping only for the requeue delays it asks for. Requests are
the ``capo_openstack_api_requests_total`` counts (every call through the instrumented client).

    .venv/bin/python services/capo/bench_cluster.py           # needs `osk8s-testcloud up`
    .venv/bin/python services/capo/bench_cluster.py --no-lb --json
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import openstack
import yaml

# The machine bench's CRD install and request counter (same folder: on sys.path when run).
from bench import Counter, install_crds  # type: ignore[import-not-found]
from kubernetes import client as k8s
from openstack.config.loader import OpenStackConfig
from prometheus_client import CollectorRegistry

from osk8s_capo import conditions as cond
from osk8s_capo.cluster_controller import ClusterReconciler
from osk8s_capo.credentials import ConnectionSource, CredentialResolver
from osk8s_capo.kube import CLUSTER, OPENSTACK_CLUSTER, KubeObjects
from osk8s_capo.scope import ScopeFactory
from osk8s_core.credentials import ClientSettings, ConnectionCache
from osk8s_core.errors import Osk8sError
from osk8s_core.logging import get_logger
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import WaitPolicy
from osk8s_testing.kubeapi.server import KubeApiServer
from osk8s_testing.testcloud.layout import Layout, resolve_dir
from osk8s_testing.testcloud.outputs import DEMO_CLOUD

READ_SUFFIXES = ("_list", "_get")


def summary(calls: dict[str, int]) -> dict[str, Any]:
    reads = sum(
        v for k, v in calls.items() if k.endswith(READ_SUFFIXES) or k == "identity_token_get"
    )
    return {
        "total": sum(calls.values()),
        "reads": reads,
        "writes": sum(calls.values()) - reads,
        "by_request": calls,
    }


def step(rec: ClusterReconciler, key: str, done: Callable[[], bool], rounds: int = 200) -> int:
    for passes in range(1, rounds + 1):
        try:
            result = rec.reconcile(key)
        except Osk8sError:
            time.sleep(0.2)
        else:
            if result is not None and result.after > 0:
                time.sleep(min(result.after, 1.0))
        if done():
            return passes
    raise RuntimeError(f"{key} did not converge in {rounds} passes")


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - a linear script
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--no-lb", action="store_true", help="no Octavia LB (FIP endpoint)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    layout = Layout(resolve_dir(None, os.environ))
    config = OpenStackConfig(config_files=[str(layout.clouds_yaml)], load_envvars=False)
    demo = openstack.connection.Connection(config=config.get_one(cloud=DEMO_CLOUD))
    clouds = yaml.safe_load(layout.clouds_yaml.read_text())
    clouds_yaml = yaml.safe_dump({"clouds": {"openstack": clouds["clouds"][DEMO_CLOUD]}})
    external = sorted(demo.network.networks(is_router_external=True), key=lambda n: n.name)[0]

    server = KubeApiServer().start()
    try:
        api = server.api_client()
        install_crds(api)
        kube = KubeObjects(api)
        core: Any = k8s.CoreV1Api(api)
        ns, name = "bench", "bench"
        core.create_namespace({"metadata": {"name": ns}})
        secret = {"clouds.yaml": base64.b64encode(clouds_yaml.encode()).decode()}
        core.create_namespaced_secret(ns, {"metadata": {"name": "cloud-config"}, "data": secret})
        registry = CollectorRegistry()
        counter = Counter(registry)
        rec = ClusterReconciler(
            kube=kube,
            scopes=ScopeFactory(
                connections=ConnectionSource(
                    resolver=CredentialResolver(secrets=kube, identities=kube),
                    cache=ConnectionCache(settings=ClientSettings(component="bench", version="0")),
                ),
                metrics=ApiMetrics(registry, prefix="capo_"),
                logger=get_logger("bench"),
                waiter=Waiter(
                    policy=WaitPolicy(timeout=300, interval=0.5, factor=1.25, max_interval=2)
                ),
            ),
        )
        cluster = kube.create(CLUSTER, ns, {
            "apiVersion": CLUSTER.api_version, "kind": "Cluster", "metadata": {"name": name},
            "spec": {"infrastructureRef": {
                "apiGroup": OPENSTACK_CLUSTER.group, "kind": "OpenStackCluster", "name": name}},
        })  # fmt: skip
        spec: dict[str, Any] = {
            "identityRef": {"name": "cloud-config", "cloudName": "openstack"},
            "managedSubnets": [{"cidr": "10.198.0.0/24"}],
            "externalNetwork": {"id": external.id},
            "managedSecurityGroups": {},
        }
        if not args.no_lb:
            spec["apiServer"] = {"managedLoadBalancer": {}}
        kube.create(OPENSTACK_CLUSTER, ns, {
            "apiVersion": OPENSTACK_CLUSTER.api_version, "kind": "OpenStackCluster",
            "metadata": {"name": name, "ownerReferences": [{
                "apiVersion": CLUSTER.api_version, "kind": "Cluster", "name": name,
                "uid": cluster["metadata"]["uid"]}]},
            "spec": spec,
        })  # fmt: skip
        key = f"{ns}/{name}"

        def osc() -> dict[str, Any] | None:
            return kube.get(OPENSTACK_CLUSTER, ns, name)

        start, before = time.monotonic(), counter.snapshot()
        passes = step(rec, key, lambda: cond.is_true((osc() or {}).get("status"), cond.READY))
        create_s, create = time.monotonic() - start, Counter.delta(before, counter.snapshot())

        rv, before = (osc() or {})["metadata"]["resourceVersion"], counter.snapshot()
        idle_start = time.monotonic()
        rec.reconcile(key)
        idle_s, idle = time.monotonic() - idle_start, Counter.delta(before, counter.snapshot())
        kube_writes = 0 if (osc() or {})["metadata"]["resourceVersion"] == rv else 1

        kube.delete(OPENSTACK_CLUSTER, ns, name)
        start, before = time.monotonic(), counter.snapshot()
        step(rec, key, lambda: osc() is None)
        delete_s, deleted = time.monotonic() - start, Counter.delta(before, counter.snapshot())
    finally:
        server.stop()
        demo.close()
    result = {
        "load_balancer": not args.no_lb,
        "create": {**summary(create), "seconds": round(create_s, 1), "passes": passes},
        "idle_reconcile": {
            **summary(idle),
            "seconds": round(idle_s, 2),
            "kubernetes_writes": kube_writes,
        },
        "delete": {**summary(deleted), "seconds": round(delete_s, 1)},
    }
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for phase in ("create", "idle_reconcile", "delete"):
        item = result[phase]
        head = f"{phase:15} requests={item['total']:4} reads={item['reads']:4}"
        print(f"{head} writes={item['writes']:3} seconds={item['seconds']}")
        print("    " + ", ".join(f"{k}={v}" for k, v in item["by_request"].items()))
    print(f"idle reconcile Kubernetes writes: {kube_writes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
