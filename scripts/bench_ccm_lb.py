"""Octavia LoadBalancer benchmark: OpenStack requests per Service create (fully populated),
per node-set change, per idle resync and per delete, beside CPO's request pattern for the
same operation, and the time from EnsureLoadBalancer to a status address.

A script, not a test: it runs against the local test cloud (`.testcloud/cloud.conf`) with a
Service of two ports (TCP 80, UDP 53), three nodes, a health monitor and a floating IP, and
prints the counts of the core's `openstack_api_requests_total` per operation, split into
Octavia, Neutron and status polls (`loadbalancer_get` while waiting for ACTIVE, which depends
on how fast the cloud is). Run: `.venv/bin/python scripts/bench_ccm_lb.py`.

CPO's counts are derived from the anchor (/work/shared/anchors/cpo.md §1.4.4-§1.4.10), step
by step, for the same Service with `[LoadBalancer]` subnet-id and floating-network-id set;
polls are excluded from them as from ours ("+ polls"):
  create:  version list 1 (cached per process) + LB lookup by name and legacy name 2 +
           fully populated LB create 1 + floating IP list on the VIP port 1 + floating IP
           create 1 + leftover-SG lookup 1                                   = 7 + polls
  idle:    LB get by id 1 + listener list 1 + per port: pool of listener 1, member list 1,
           monitor get 1 (x2 ports = 6) + floating IP list 1 + SG lookup 1   = 10 (0 writes)
  nodes:   LB get 1 + listener list 1 + per port: pool 1, members 1, batch member update
           1, monitor get 1 (x2 = 8)                                         = 10 + polls
  delete:  LB get by id 1 + floating IP list 1 + floating IP delete 1 + cascade delete 1
           + SG lookup 1                                                     = 5 + polls
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "services" / "ccm"))

CPO = {"create": 7, "idle resync": 10, "node change": 10, "delete": 5}
OCTAVIA_PREFIXES = ("loadbalancer_", "version_list")


def split(counts: dict[str, int]) -> tuple[int, int, int, int]:
    """(Octavia requests w/o polls, Neutron requests, polls, writes)."""
    polls = counts.get("loadbalancer_get", 0)
    octavia = sum(v for k, v in counts.items() if k.startswith(OCTAVIA_PREFIXES)) - polls
    neutron = sum(v for k, v in counts.items() if not k.startswith(OCTAVIA_PREFIXES))
    writes = sum(v for k, v in counts.items() if k.endswith(("_create", "_update", "_delete")))
    return octavia, neutron, polls, writes


def main() -> int:
    from lb.conftest import Octavia, Recorder, annotated, nodes_at, service  # noqa: PLC0415

    from osk8s_core.config.loader import load_cloud_config  # noqa: PLC0415
    from osk8s_core.credentials.connection import ClientSettings, build_connection  # noqa: PLC0415
    from osk8s_core.credentials.tls import CaFileStore  # noqa: PLC0415

    conf = ROOT / ".testcloud" / "cloud.conf"
    if not conf.exists():
        print("no test cloud (.testcloud/cloud.conf): run `osk8s-testcloud up` first")
        return 1
    config = load_cloud_config([conf], environ={}).config
    store = CaFileStore()
    settings = ClientSettings(component="bench-ccm-lb", version="0", timeout=60)
    conn = build_connection(config.global_, settings=settings, ca_store=store)
    world = Octavia(conn=conn, config=config, cluster=f"bench{uuid.uuid4().hex[:6]}")
    svc = service(
        "bench",
        ("TCP", 80, 30880),
        ("UDP", 53, 30853),
        annotations={"loadbalancer.openstack.org/enable-health-monitor": "true"},
    )
    rows: list[tuple[str, dict[str, int], float]] = []
    try:
        recorder = Recorder()
        harness = world.harness()
        start = time.perf_counter()
        status = harness.provider.ensure_load_balancer(
            world.cluster, svc, nodes_at(81, 82, 83), recorder
        )
        rows.append(("create", harness.requests(), time.perf_counter() - start))
        svc = annotated(svc, recorder.annotations)

        harness = world.harness()
        start = time.perf_counter()
        harness.provider.ensure_load_balancer(world.cluster, svc, nodes_at(81, 82, 83), recorder)
        rows.append(("idle resync", harness.requests(), time.perf_counter() - start))

        harness = world.harness()
        start = time.perf_counter()
        harness.provider.update_load_balancer(world.cluster, svc, nodes_at(81, 82, 84), recorder)
        rows.append(("node change", harness.requests(), time.perf_counter() - start))

        harness = world.harness()
        start = time.perf_counter()
        harness.provider.ensure_load_balancer_deleted(world.cluster, svc, recorder)
        rows.append(("delete", harness.requests(), time.perf_counter() - start))
    finally:
        world.sweep()
        conn.close()
        store.close()

    print(f"status after create: {[p.to_object() for p in status.ingress]}")
    header = ("operation", "octavia", "neutron", "polls", "writes", "CPO (+polls)", "seconds")
    print("{:<12} {:>8} {:>8} {:>6} {:>7} {:>13} {:>8}".format(*header))
    for name, counts, seconds in rows:
        octavia, neutron, polls, writes = split(counts)
        print(
            f"{name:<12} {octavia:>8} {neutron:>8} {polls:>6} {writes:>7} "
            f"{CPO[name]:>13} {seconds:>8.1f}"
        )
    for name, counts, _ in rows:
        print(f"  {name}: {dict(sorted(counts.items()))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
