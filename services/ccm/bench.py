"""Benchmark: OpenStack requests per full node sync, CPO's per-node way against osk8s's batch.

For each N it resolves the InstancesV2 metadata of N nodes (by providerID) twice: as CPO does
(``LiveLookup``: a server GET and a port list per node) and through one ``SyncSnapshot``
(constant list calls), and prints the HTTP requests each made beside CPO's 2N. Requests are
counted on the wire (a hook on the sdk's HTTP session), after a warm-up sync so that
Keystone and version discovery are not counted; both ways must give the same metadata.

    python services/ccm/bench.py                  # N = 500 on a counting stand-in
    python services/ccm/bench.py --cloud          # also N = 1, 10, 50 on the test cloud

``--cloud`` boots the servers on the running test cloud (Nova's fake driver) and deletes
them at the end; it takes minutes on a loaded machine, so it is not part of CI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import openstack.connection
from prometheus_client import CollectorRegistry

from osk8s_ccm.batch import SyncSnapshot
from osk8s_ccm.instances import InstanceMetadata, InstanceSettings, InstancesV2, NodeRef
from osk8s_ccm.lookup import CloudLookup
from osk8s_ccm.nova_neutron import LiveLookup, NovaNeutron
from osk8s_core.logging import get_logger
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.retry import NO_RETRY


class WireCounter:
    """Counts the HTTP requests an sdk connection sends (identity and discovery excluded)."""

    def __init__(self, conn: openstack.connection.Connection) -> None:
        self.count = 0
        conn.session.session.hooks.setdefault("response", []).append(self._seen)

    def _seen(self, response: Any, *args: Any, **kwargs: Any) -> None:
        parts = urlsplit(response.request.url)
        resource = parts.path.rstrip("/").rsplit("/", 1)[-1]
        if parts.port == 5000 or resource in ("", "v2.0", "v2.1"):
            return
        self.count += 1


def one_sync(
    v2: InstancesV2, lookup: Callable[[], CloudLookup], nodes: Sequence[NodeRef]
) -> list[InstanceMetadata]:
    source = lookup()
    return [v2.instance_metadata(source, node) for node in nodes]


def measure(
    cloud: NovaNeutron, counter: WireCounter, settings: InstanceSettings, nodes: Sequence[NodeRef]
) -> tuple[int, int]:
    """(CPO-way requests, batched requests) for one warm sync of ``nodes``."""
    v2 = InstancesV2(settings)
    ways: dict[str, Callable[[], CloudLookup]] = {
        "cpo": lambda: LiveLookup(cloud),
        "batch": lambda: SyncSnapshot.take(cloud),
    }
    one_sync(v2, ways["batch"], nodes[:1])  # warm-up: token, discovery
    counts: dict[str, int] = {}
    results: dict[str, list[InstanceMetadata]] = {}
    for name, way in ways.items():
        before = counter.count
        results[name] = one_sync(v2, way, nodes)
        counts[name] = counter.count - before
    if results["cpo"] != results["batch"]:
        raise SystemExit("the two ways disagree on the node metadata")
    return counts["cpo"], counts["batch"]


def print_row(where: str, n: int, cpo: int, batch: int) -> None:
    print(f"{where:<10} {n:>5} {cpo:>14} {batch:>14} {2 * n:>8}", flush=True)


# The stand-in: Nova and Neutron list/get answers for N servers, one port each.


class StandIn:
    def __init__(self, n: int) -> None:
        self.servers: dict[str, dict[str, Any]] = {}
        self.ports: dict[str, dict[str, Any]] = {}
        for i in range(n):
            sid = str(uuid.UUID(int=i + 1))
            ip = f"10.{i // 250}.{i % 250}.10"
            self.servers[sid] = {
                "id": sid,
                "name": f"node-{i}",
                "status": "ACTIVE",
                "OS-EXT-AZ:availability_zone": f"az-{1 + i % 2}",
                "accessIPv4": "",
                "accessIPv6": "",
                "metadata": {},
                "addresses": {"net": [{"addr": ip, "OS-EXT-IPS:type": "fixed", "version": 4}]},
                "flavor": {"original_name": "m1.small", "vcpus": 1, "ram": 512, "disk": 1},
            }
            pid = str(uuid.UUID(int=10**6 + i))
            self.ports[pid] = {
                "id": pid,
                "device_id": sid,
                "device_owner": f"compute:az-{1 + i % 2}",
                "status": "ACTIVE",
                "network_id": "net-id",
                "fixed_ips": [{"ip_address": ip, "subnet_id": "sub"}],
            }

    def answer(self, path: str, query: dict[str, list[str]], url: str) -> tuple[int, Any]:
        if path in ("/compute/v2.1", "/compute/v2.1/"):
            return 200, {"version": _version("v2.1", f"{url}/compute/v2.1/", "2.96")}
        if path in ("/network/v2.0", "/network/v2.0/"):
            return 200, {"version": _version("v2.0", f"{url}/network/v2.0/", None)}
        if path == "/compute/v2.1/servers/detail":
            return 200, {"servers": list(self.servers.values()), "servers_links": []}
        if path.startswith("/compute/v2.1/servers/"):
            found = self.servers.get(path.rsplit("/", 1)[-1])
            return (200, {"server": found}) if found else (404, {"itemNotFound": {}})
        if path == "/network/v2.0/ports":
            return 200, {"ports": [p for p in self.ports.values() if _matches(p, query)]}
        return 404, {"NeutronError": {"message": "not found"}}


def _version(version_id: str, href: str, current: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": version_id, "status": "CURRENT"}
    doc["links"] = [{"rel": "self", "href": href}]
    if current:
        doc.update({"min_version": "2.1", "version": current})
    return doc


def _matches(port: dict[str, Any], query: dict[str, list[str]]) -> bool:
    return all(port.get(key) in values for key, values in query.items() if key != "fields")


@contextlib.contextmanager
def serving(stand_in: StandIn) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            status, body = stand_in.answer(parts.path, parse_qs(parts.query), url)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def bench_stand_in(n: int) -> None:
    stand_in = StandIn(n)
    with serving(stand_in) as url:
        conn = openstack.connection.Connection(
            auth_type="none",
            auth={"endpoint": url},
            compute_endpoint_override=f"{url}/compute/v2.1/",
            compute_api_version="2",
            network_endpoint_override=f"{url}/network/v2.0/",
            network_api_version="2",
            connect_retries=0,
            api_timeout=10,
        )
        client = OpenStackClient(
            conn,
            metrics=ApiMetrics(CollectorRegistry()),
            retry_policy=NO_RETRY,
            logger=get_logger("bench"),
        )
        counter = WireCounter(conn)
        nodes = [NodeRef(s["name"], f"openstack:///{s['id']}") for s in stand_in.servers.values()]
        cpo, batch = measure(NovaNeutron(client), counter, InstanceSettings(region="R"), nodes)
        print_row("stand-in", n, cpo, batch)


# The real test cloud.


def bench_cloud(sizes: Sequence[int]) -> None:
    from osk8s_ccm.settings import instance_settings  # noqa: PLC0415
    from osk8s_core.config.loader import load_cloud_config  # noqa: PLC0415
    from osk8s_core.credentials.connection import ClientSettings, build_connection  # noqa: PLC0415
    from osk8s_core.credentials.tls import CaFileStore  # noqa: PLC0415

    root = Path(os.environ.get("OSK8S_TESTCLOUD_DIR", Path(__file__).parents[2] / ".testcloud"))
    config = load_cloud_config([root / "cloud.conf"], environ={}).config
    settings = ClientSettings(component="osk8s-ccm-bench", version="0", timeout=60)
    store = CaFileStore()
    conn = build_connection(config.global_, settings=settings, ca_store=store)
    client = OpenStackClient(conn, metrics=ApiMetrics(CollectorRegistry()), logger=get_logger("b"))
    counter = WireCounter(conn)
    compute: Any = conn.compute
    flavor = min(compute.flavors(), key=lambda f: (f.ram, f.vcpus))
    image = next(i for i in conn.image.images() if i.status == "active")
    tag = f"ccm-bench-{uuid.uuid4().hex[:6]}"
    booted: list[Any] = []
    restore_quota = _raise_quota(root, str(conn.current_project_id), max(sizes))
    try:
        for n in sorted(sizes):
            for i in range(len(booted), n):
                booted.append(
                    compute.create_server(
                        name=f"{tag}-{i}",
                        flavor_id=flavor.id,
                        image_id=image.id,
                        networks=[{"uuid": config.load_balancer.network_id}],
                    )
                )
            for server in booted:
                compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], wait=900)
            nodes = [NodeRef(s.name, f"openstack:///{s.id}") for s in booted]
            cpo, batch = measure(NovaNeutron(client), counter, instance_settings(config, {}), nodes)
            print_row("testcloud", n, cpo, batch)
    finally:
        for server in booted:
            with contextlib.suppress(Exception):
                compute.delete_server(server, ignore_missing=True)
        # Quota counts a server until it is gone: wait for all of them before restoring it.
        deadline = time.monotonic() + 600
        while any(s.name.startswith(tag) for s in compute.servers()):
            if time.monotonic() > deadline:
                raise SystemExit(f"servers {tag}-* still there after 600 s; quota left raised")
            time.sleep(2)
        restore_quota()
        conn.close()
        store.close()


def _raise_quota(root: Path, project_id: str, n: int) -> Callable[[], None]:
    """The demo project allows 10 servers: raise instances and cores to ``n`` + 10 as admin
    for the run; the returned callable puts the old values back."""
    from openstack.config.loader import OpenStackConfig  # noqa: PLC0415

    config = OpenStackConfig(config_files=[str(root / "clouds.yaml")], load_envvars=False)
    admin = openstack.connection.Connection(config=config.get_one(cloud="osk8s-admin"))
    old = admin.compute.get_quota_set(project_id)
    wanted = {"instances": n + 10, "cores": n + 10}
    if old.instances >= wanted["instances"] and old.cores >= wanted["cores"]:
        admin.close()
        return lambda: None
    admin.compute.update_quota_set(project_id, instances=wanted["instances"], cores=wanted["cores"])

    def restore() -> None:
        admin.compute.update_quota_set(project_id, instances=old.instances, cores=old.cores)
        admin.close()

    return restore


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud", action="store_true", help="also run on the test cloud")
    parser.add_argument("--cloud-nodes", default="1,10,50", help="N values on the test cloud")
    parser.add_argument("--stand-in-nodes", default="500", help="N values on the stand-in")
    args = parser.parse_args(argv)
    print(f"{'where':<10} {'N':>5} {'cpo-way reqs':>14} {'osk8s reqs':>14} {'CPO 2N':>8}")
    started = time.monotonic()
    for n in (int(x) for x in args.stand_in_nodes.split(",") if x):
        bench_stand_in(n)
    if args.cloud:
        bench_cloud([int(x) for x in args.cloud_nodes.split(",") if x])
    print(f"({time.monotonic() - started:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
