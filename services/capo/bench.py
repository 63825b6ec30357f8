"""Benchmark: OpenStack requests per machine create, per idle reconcile and per delete, and
the time from Machine creation to ``status.initialization.provisioned`` on the test cloud.

The production ``MachineReconciler`` and ``ServerReconciler`` run against the in-memory API
server (CRDs from the release's ``infrastructure-components.yaml``) and the running test cloud
(Nova's fake driver), stepped as the manager's two controllers would be, without sleeping
between passes (so the time is the cloud's, not our requeue delays). Requests are counted by
the ``capo_openstack_api_requests_total`` labels (every call through the instrumented client);
the OpenStackCluster's status is written by the bench (the cluster controller is not measured).

    python services/capo/bench.py                 # 3 worker machines, one after the other
    python services/capo/bench.py --machines 1 --json
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openstack
import yaml
from kubernetes import client as k8s
from openstack.config.loader import OpenStackConfig
from prometheus_client import CollectorRegistry

from osk8s_capo.credentials import ConnectionSource, CredentialResolver
from osk8s_capo.kube import (
    CLUSTER,
    MACHINE,
    OPENSTACK_CLUSTER,
    OPENSTACK_MACHINE,
    OPENSTACK_SERVER,
    KubeObjects,
)
from osk8s_capo.machine import MachineReconciler
from osk8s_capo.scope import ScopeFactory
from osk8s_capo.server import ServerReconciler
from osk8s_core.credentials import ClientSettings, ConnectionCache
from osk8s_core.errors import Osk8sError
from osk8s_core.logging import get_logger
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import RetryPolicy, WaitPolicy
from osk8s_testing.kubeapi.server import KubeApiServer
from osk8s_testing.testcloud.layout import Layout, resolve_dir
from osk8s_testing.testcloud.outputs import DEMO_CLOUD

RELEASE = Path(__file__).resolve().parent / "release"
WRITE_VERBS = ("create", "update", "delete", "add", "associate")


def install_crds(api: Any) -> None:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    docs = yaml.load_all((RELEASE / "infrastructure-components.yaml").read_text(), Loader=loader)
    crds = [d for d in docs if d and d["kind"] == "CustomResourceDefinition"]
    for name in ("clusters", "machines"):
        path = RELEASE / "vendor" / "capi" / f"cluster.x-k8s.io_{name}.yaml"
        crds.append(yaml.load(path.read_text(), Loader=loader))
    ext = k8s.ApiextensionsV1Api(api)
    for crd in crds:
        ext.create_custom_resource_definition(crd)


class Counter:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def snapshot(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for metric in self._registry.collect():
            if metric.name == "capo_openstack_api_requests":
                for sample in metric.samples:
                    if sample.name.endswith("_total"):
                        out[sample.labels["request"]] = sample.value
        return out

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, int]:
        keys = set(before) | set(after)
        diff = {k: int(after.get(k, 0) - before.get(k, 0)) for k in keys}
        return {k: v for k, v in sorted(diff.items()) if v}


def writes(calls: dict[str, int]) -> int:
    return sum(v for k, v in calls.items() if any(verb in k for verb in WRITE_VERBS))


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - a linear script
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    layout = Layout(resolve_dir(None, os.environ))
    config = OpenStackConfig(config_files=[str(layout.clouds_yaml)], load_envvars=False)
    demo = openstack.connection.Connection(config=config.get_one(cloud=DEMO_CLOUD))
    clouds = yaml.safe_load(layout.clouds_yaml.read_text())
    clouds_yaml = yaml.safe_dump({"clouds": {"openstack": clouds["clouds"][DEMO_CLOUD]}})

    name = f"capo-bench-{uuid.uuid4().hex[:6]}"
    net = demo.network.create_network(name=name)
    subnet = demo.network.create_subnet(
        network_id=net.id, name=name, cidr="10.199.0.0/24", ip_version=4
    )
    server = KubeApiServer().start()
    results: list[dict[str, Any]] = []
    try:
        api = server.api_client()
        install_crds(api)
        kube = KubeObjects(api)
        core = k8s.CoreV1Api(api)
        ns = "bench"
        core.create_namespace({"metadata": {"name": ns}})
        core.create_namespaced_secret(
            ns,
            {
                "metadata": {"name": "cloud-config"},
                "data": {"clouds.yaml": base64.b64encode(clouds_yaml.encode()).decode()},
            },
        )
        core.create_namespaced_secret(
            ns, {"metadata": {"name": "boot"}, "stringData": {"value": "#cloud-config\n"}}
        )
        registry = CollectorRegistry()
        counter = Counter(registry)
        scopes = ScopeFactory(
            connections=ConnectionSource(
                resolver=CredentialResolver(secrets=kube, identities=kube),
                cache=ConnectionCache(settings=ClientSettings(component="capo-bench", version="0")),
            ),
            metrics=ApiMetrics(registry, prefix="capo_"),
            logger=get_logger("capo-bench"),
            waiter=Waiter(policy=WaitPolicy(timeout=300, interval=0.3, factor=1.3, max_interval=2)),
            retry_policy=RetryPolicy(max_attempts=3, backoff_base=0.2),
        )
        machines = MachineReconciler(kube=kube, scope_for=scopes.scope)
        servers = ServerReconciler(kube=kube, client_for=lambda n, ref: scopes.scope(n, ref).client)
        cluster = kube.create(
            CLUSTER,
            ns,
            {
                "apiVersion": CLUSTER.api_version,
                "kind": "Cluster",
                "metadata": {"name": "c"},
                "spec": {
                    "infrastructureRef": {
                        "apiGroup": OPENSTACK_CLUSTER.group,
                        "kind": "OpenStackCluster",
                        "name": "c",
                    }
                },
            },
        )
        osc = kube.create(
            OPENSTACK_CLUSTER,
            ns,
            {
                "apiVersion": OPENSTACK_CLUSTER.api_version,
                "kind": "OpenStackCluster",
                "metadata": {
                    "name": "c",
                    "labels": {"cluster.x-k8s.io/cluster-name": "c"},
                    "ownerReferences": [
                        {
                            "apiVersion": CLUSTER.api_version,
                            "kind": "Cluster",
                            "name": "c",
                            "uid": cluster["metadata"]["uid"],
                        }
                    ],
                },
                "spec": {"identityRef": {"name": "cloud-config", "cloudName": "openstack"}},
            },
        )
        kube.patch_status(
            OPENSTACK_CLUSTER,
            osc,
            {
                "initialization": {"provisioned": True},
                "network": {
                    "id": net.id,
                    "name": name,
                    "subnets": [{"id": subnet.id, "name": name, "cidr": subnet.cidr}],
                },
            },
        )

        def step(machine: str) -> None:
            with contextlib.suppress(Osk8sError):
                machines.reconcile(ns, machine)
            with contextlib.suppress(Osk8sError):
                servers.reconcile(ns, machine)

        def until(machine: str, done: Callable[[dict[str, Any] | None], bool]) -> int:
            for rounds in range(1, 2000):
                step(machine)
                if done(kube.get(OPENSTACK_MACHINE, ns, machine)):
                    return rounds
            raise RuntimeError(f"{machine} did not converge")

        def gone(machine: str) -> Callable[[dict[str, Any] | None], bool]:
            return lambda o: o is None and kube.get(OPENSTACK_SERVER, ns, machine) is None

        for index in range(args.machines):
            machine = f"w{index}"
            labels = {"cluster.x-k8s.io/cluster-name": "c"}
            m = kube.create(
                MACHINE,
                ns,
                {
                    "apiVersion": MACHINE.api_version,
                    "kind": "Machine",
                    "metadata": {"name": machine, "labels": labels},
                    "spec": {
                        "clusterName": "c",
                        "bootstrap": {"dataSecretName": "boot"},
                        "infrastructureRef": {
                            "apiGroup": OPENSTACK_MACHINE.group,
                            "kind": "OpenStackMachine",
                            "name": machine,
                        },
                    },
                },
            )
            start, before = time.monotonic(), counter.snapshot()
            kube.create(
                OPENSTACK_MACHINE,
                ns,
                {
                    "apiVersion": OPENSTACK_MACHINE.api_version,
                    "kind": "OpenStackMachine",
                    "metadata": {
                        "name": machine,
                        "labels": labels,
                        "ownerReferences": [
                            {
                                "apiVersion": MACHINE.api_version,
                                "kind": "Machine",
                                "name": machine,
                                "uid": m["metadata"]["uid"],
                            }
                        ],
                    },
                    "spec": {
                        "flavor": {"filter": {"name": "osk8s.small"}},
                        "image": {"filter": {"name": "osk8s-fake-image"}},
                    },
                },
            )
            passes = until(
                machine,
                lambda o: bool(
                    o and ((o.get("status") or {}).get("initialization") or {}).get("provisioned")
                ),
            )
            provisioned_s = time.monotonic() - start
            created = counter.delta(before, counter.snapshot())
            before = counter.snapshot()
            step(machine)
            idle = counter.delta(before, counter.snapshot())
            before, start = counter.snapshot(), time.monotonic()
            kube.delete(OPENSTACK_MACHINE, ns, machine)
            until(machine, gone(machine))
            deleted = counter.delta(before, counter.snapshot())
            results.append(
                {
                    "machine": machine,
                    "seconds_to_provisioned": round(provisioned_s, 2),
                    "passes_to_provisioned": passes,
                    "seconds_to_delete": round(time.monotonic() - start, 2),
                    "create": created,
                    "idle": idle,
                    "delete": deleted,
                }
            )
            kube.delete(MACHINE, ns, machine)
    finally:
        server.stop()
        for port in demo.network.ports(network_id=net.id):
            if (port.device_owner or "").startswith("compute:") or not port.device_owner:
                demo.network.delete_port(port.id, ignore_missing=True)
        demo.network.delete_network(net.id, ignore_missing=True)
        demo.close()
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"{'machine':8} {'to provisioned':>15} {'create req (writes)':>20} "
        f"{'idle req (writes)':>18} {'delete req (writes)':>20}"
    )
    for r in results:
        create, idle, delete = r["create"], r["idle"], r["delete"]
        print(
            f"{r['machine']:8} {r['seconds_to_provisioned']:>14.1f}s "
            f"{sum(create.values()):>12} ({writes(create)}) "
            f"{sum(idle.values()):>11} ({writes(idle)}) "
            f"{sum(delete.values()):>12} ({writes(delete)})"
        )
    if results:
        print(
            f"median time to provisioned: "
            f"{statistics.median(r['seconds_to_provisioned'] for r in results):.1f}s"
        )
        print("create calls:", results[-1]["create"])
        print("idle calls:", results[-1]["idle"])
        print("delete calls:", results[-1]["delete"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
