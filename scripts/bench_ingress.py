"""Octavia ingress benchmark: OpenStack requests per Ingress create, per rule change, per idle
resync, per node change and per delete, and the time from the Ingress's creation to its
``status.loadBalancer`` address.

A script, not a test: it runs the real reconciler against the local test cloud
(`.testcloud/cloud.conf`) and an in-memory API server, with an Ingress of one host, three
paths (Exact, Prefix, ImplementationSpecific) over two Services, a default backend and three
nodes, and prints the core's `openstack_api_requests_total` per operation, split into Octavia
requests, status polls (`loadbalancer_get` while waiting for ACTIVE: how fast the cloud is)
and writes. `--serial` builds the tree one call per object
(`provider-requires-serial-api-calls`). Run: `.venv/bin/python scripts/bench_ingress.py`.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POLLS = "loadbalancer_get"
WRITES = ("_create", "_update", "_delete")


def counts(registry: Any) -> dict[str, int]:
    found: dict[str, int] = {}
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name == "openstack_api_requests_total":
                found[sample.labels["request"]] = int(sample.value)
    return found


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def row(name: str, change: dict[str, int], seconds: float) -> str:
    polls = change.get(POLLS, 0)
    octavia = sum(v for k, v in change.items() if k.startswith("loadbalancer_")) - polls
    writes = sum(v for k, v in change.items() if k.endswith(WRITES))
    other = sum(v for k, v in change.items() if not k.startswith("loadbalancer_"))
    return f"{name:<14} {octavia:>8} {polls:>6} {writes:>7} {other:>6} {seconds:>8.1f}"


def main() -> int:  # noqa: PLR0915 (one scenario, step by step)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serial", action="store_true", help="provider-requires-serial-api-calls")
    args = parser.parse_args()

    from kubernetes.client import CoreV1Api, NetworkingV1Api  # noqa: PLC0415
    from prometheus_client import CollectorRegistry  # noqa: PLC0415

    from osk8s_core.config.loader import load_cloud_config  # noqa: PLC0415
    from osk8s_core.credentials.connection import ClientSettings, build_connection  # noqa: PLC0415
    from osk8s_core.credentials.tls import CaFileStore  # noqa: PLC0415
    from osk8s_core.k8s.clock import SystemClock  # noqa: PLC0415
    from osk8s_core.k8s.events import EventRecorder  # noqa: PLC0415
    from osk8s_core.logging import get_logger  # noqa: PLC0415
    from osk8s_core.metrics import ApiMetrics  # noqa: PLC0415
    from osk8s_core.openstack.client import OpenStackClient  # noqa: PLC0415
    from osk8s_core.retry import RetryPolicy  # noqa: PLC0415
    from osk8s_octavia_ingress.app import build_reconciler  # noqa: PLC0415
    from osk8s_octavia_ingress.config import IngressConfig, OctaviaConfig  # noqa: PLC0415
    from osk8s_octavia_ingress.kube import ApiKubeView  # noqa: PLC0415
    from osk8s_testing.kubeapi.server import KubeApiServer  # noqa: PLC0415

    conf = ROOT / ".testcloud" / "cloud.conf"
    if not conf.exists():
        print("no test cloud (.testcloud/cloud.conf): run `osk8s-testcloud up` first")
        return 1
    cloud = load_cloud_config([conf], environ={}).config
    store = CaFileStore()
    settings = ClientSettings(component="octavia-ingress-controller", version="bench", timeout=60)
    conn = build_connection(cloud.global_, settings=settings, ca_store=store)
    registry = CollectorRegistry()
    metrics = ApiMetrics(registry)
    log = get_logger("bench.ingress")
    client: OpenStackClient[Any] = OpenStackClient(conn, metrics=metrics, logger=log)
    octavia: OpenStackClient[Any] = OpenStackClient(
        conn, metrics=metrics, logger=log, retry_policy=RetryPolicy(retry_conflict=True)
    )
    server = KubeApiServer().start()
    api = server.api_client()
    core: Any = CoreV1Api(api)
    net: Any = NetworkingV1Api(api)
    cluster = f"bench{uuid.uuid4().hex[:6]}"
    config = IngressConfig(
        cluster_name=cluster,
        openstack=cloud.global_,
        octavia=OctaviaConfig(
            subnet_id=cloud.load_balancer.subnet_id,
            provider_requires_serial_api_calls=args.serial,
        ),
    )
    recorder = EventRecorder(core, component="octavia-ingress-controller", clock=SystemClock())
    reconciler = build_reconciler(
        config,
        client=client,
        octavia_client=octavia,
        kube=ApiKubeView(api),
        recorder=recorder,
        logger=log,
    )
    for i in range(3):
        core.create_node({"metadata": {"name": f"n{i}"}})
        core.patch_node_status(
            f"n{i}",
            {
                "status": {
                    "addresses": [{"type": "InternalIP", "address": f"10.30.0.{i + 10}"}],
                    "conditions": [{"type": "Ready", "status": "True"}],
                }
            },
        )
    for name, port, node_port in (("web", 80, 30480), ("api", 8080, 30481)):
        core.create_namespaced_service(
            "default",
            {
                "metadata": {"name": name},
                "spec": {"type": "NodePort", "ports": [{"port": port, "nodePort": node_port}]},
            },
        )

    def path(p: str, kind: str, svc: str, port: int) -> dict[str, Any]:
        return {"path": p, "pathType": kind,
                "backend": {"service": {"name": svc, "port": {"number": port}}}}  # fmt: skip

    paths = [path("/ping", "Exact", "web", 80), path("/api", "Prefix", "api", 8080),
             path("/static", "ImplementationSpecific", "web", 80)]  # fmt: skip
    body = {
        "metadata": {"name": "bench", "annotations": {"kubernetes.io/ingress.class": "openstack"}},
        "spec": {
            "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}},
            "rules": [{"host": "bench.example.com", "http": {"paths": paths}}],
        },
    }
    mode = "serial" if args.serial else "fully populated"
    print(f"octavia-ingress-controller on the test cloud ({mode} create), 3 paths, 2 Services")
    print(
        f"{'operation':<14} {'octavia':>8} {'polls':>6} {'writes':>7} {'other':>6} {'seconds':>8}"
    )
    rows = []
    try:
        started = time.monotonic()
        net.create_namespaced_ingress("default", body)
        before = counts(registry)
        reconciler.sync("default/bench")
        status = net.read_namespaced_ingress("bench", "default").status.load_balancer.ingress
        assert status and status[0].ip, "no address in status"
        took = time.monotonic() - started
        rows.append(row("create", delta(before, counts(registry)), took))
        # The status write triggers one more reconcile, which finds the LB marked processed.
        for name in ("idle resync", "idle resync"):
            before = counts(registry)
            t0 = time.monotonic()
            reconciler.sync("default/bench")
            rows.append(row(name, delta(before, counts(registry)), time.monotonic() - t0))
        paths[2] = path("/assets", "ImplementationSpecific", "web", 80)
        net.patch_namespaced_ingress(
            "bench",
            "default",
            {"spec": {"rules": [{"host": "bench.example.com", "http": {"paths": paths}}]}},
        )
        before = counts(registry)
        t0 = time.monotonic()
        reconciler.sync("default/bench")
        rows.append(row("rule change", delta(before, counts(registry)), time.monotonic() - t0))
        core.delete_node("n2")
        before = counts(registry)
        t0 = time.monotonic()
        reconciler.sync_members()
        rows.append(row("node change", delta(before, counts(registry)), time.monotonic() - t0))
        before = counts(registry)
        t0 = time.monotonic()
        reconciler.sync_members()
        rows.append(row("node idle", delta(before, counts(registry)), time.monotonic() - t0))
        net.delete_namespaced_ingress("bench", "default")
        before = counts(registry)
        t0 = time.monotonic()
        reconciler.sync("default/bench")
        rows.append(row("delete", delta(before, counts(registry)), time.monotonic() - t0))
    finally:
        for lb in conn.load_balancer.load_balancers(name=f"kube_ingress_{cluster}_default_bench"):
            conn.load_balancer.delete_load_balancer(lb.id, cascade=True, ignore_missing=True)
        api.close()
        server.stop()
        conn.close()
        store.close()
    print("\n".join(rows))
    print("create seconds = Ingress created -> status.loadBalancer set (includes LB build).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
