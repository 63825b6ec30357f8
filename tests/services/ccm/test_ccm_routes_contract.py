"""Routes against the real Neutron router of the test cloud, through a fault proxy (its call log
counts the router updates; it injects the failed update).

The module makes its OWN network, subnet, router and ports (never the demo router's routes):
three ports stand in for node NICs (Neutron only checks that a next hop is on a router subnet,
so no server is needed), the third one belonging to "another cluster". Pod CIDRs become
routes and allowed address pairs, vanish with their node, and routes this cluster does not
own survive.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import CoreV1Api, V1Node, V1NodeSpec, V1ObjectMeta
from openstack.connection import Connection
from prometheus_client import CollectorRegistry

from osk8s_ccm.nova_neutron import NovaNeutron
from osk8s_ccm.route_condition import sync_routes
from osk8s_ccm.route_controller import COMPONENT, RouteController, RouteSettings
from osk8s_ccm.routes import (
    ADDRESS_PAIRS,
    EXTRAROUTE,
    NeutronRoutes,
    NodeRoutes,
    Route,
    RouteReconciler,
    RouteUpdateFailed,
    parse_cidrs,
)
from osk8s_core import errors
from osk8s_core.config import CloudConfig
from osk8s_core.credentials.connection import build_connection
from osk8s_core.credentials.tls import CaFileStore
from osk8s_core.k8s.clock import SystemClock
from osk8s_core.k8s.events import EventRecorder
from osk8s_core.k8s.informer import Informer
from osk8s_core.k8s.listwatch import ApiListWatch
from osk8s_core.logging import get_logger
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.retry import NO_RETRY
from osk8s_testing.faultproxy.rules import error
from osk8s_testing.testcloud.layout import Layout, resolve_dir

from .conftest import SETTINGS
from .node_helpers import events_for

pytestmark = pytest.mark.contract

SUBNET_CIDR = "10.81.0.0/24"
CLUSTER = parse_cidrs(["10.244.0.0/16"])
ADD = r"/add_extraroutes$"
REMOVE = r"/remove_extraroutes$"


@dataclass(frozen=True)
class Site:
    router_id: str
    ips: tuple[str, str, str]
    """Node 1, node 2, the foreign machine."""
    port_ids: tuple[str, str, str]


@pytest.fixture(scope="module")
def site(ccm_conn: Connection) -> Iterator[Site]:
    net: Any = ccm_conn.network
    tag = uuid.uuid4().hex[:8]
    undo: list[Callable[[], object]] = []
    try:
        network = net.create_network(name=f"ccm-routes-{tag}")
        undo.append(lambda: net.delete_network(network, ignore_missing=True))
        subnet = net.create_subnet(network_id=network.id, cidr=SUBNET_CIDR, ip_version=4)
        router = net.create_router(name=f"ccm-routes-{tag}")
        undo.append(lambda: net.delete_router(router, ignore_missing=True))
        net.add_interface_to_router(router, subnet_id=subnet.id)
        undo.append(lambda: net.remove_interface_from_router(router, subnet_id=subnet.id))
        undo.append(lambda: net.update_router(router, routes=[]))
        ports = []
        for i in range(3):
            port = net.create_port(name=f"ccm-routes-{tag}-{i}", network_id=network.id)
            undo.append(functools.partial(net.delete_port, port, ignore_missing=True))
            ports.append(port)
        ips = tuple(p.fixed_ips[0]["ip_address"] for p in ports)
        yield Site(router.id, ips, tuple(p.id for p in ports))
    finally:
        for step in reversed(undo):
            with contextlib.suppress(Exception):
                step()


@pytest.fixture
def neutron(fault_proxy: Any, cloud_config: CloudConfig) -> Iterator[tuple[Connection, Any]]:
    fleet = fault_proxy.fleet(
        {"keystone": "http://127.0.0.1:5000", "neutron": "http://127.0.0.1:9696"}
    )
    auth = dataclasses.replace(cloud_config.global_, auth_url=f"{fleet['keystone'].url}/v3")
    store = CaFileStore()
    conn = build_connection(auth, settings=SETTINGS, ca_store=store)
    try:
        yield conn, fleet["neutron"]
    finally:
        conn.close()
        store.close()


@pytest.fixture
def fresh_router(site: Site, ccm_conn: Connection) -> Iterator[Site]:
    """The module's router with no routes and its ports with no pairs, before and after."""

    def clear() -> None:
        net: Any = ccm_conn.network
        net.update_router(site.router_id, routes=[])
        for port_id in site.port_ids:
            net.update_port(port_id, allowed_address_pairs=[])

    clear()
    yield site
    clear()


def reconciler(conn: Connection, site: Site) -> RouteReconciler:
    client = OpenStackClient(
        conn, metrics=ApiMetrics(CollectorRegistry()), retry_policy=NO_RETRY, logger=get_logger("t")
    )
    cloud = NovaNeutron(client)
    return RouteReconciler(NeutronRoutes(cloud.networking, cloud.ports), site.router_id, CLUSTER)


def node(name: str, cidr: str, ip: str) -> NodeRoutes:
    return NodeRoutes(name, (cidr,), (ip,))


def router_routes(conn: Connection, site: Site) -> set[Route]:
    router: Any = conn.network.get_router(site.router_id)
    return {Route(r["destination"], r["nexthop"]) for r in router.routes}


def pairs(conn: Connection, port_id: str) -> set[str]:
    port: Any = conn.network.get_port(port_id)
    return {p["ip_address"] for p in port.allowed_address_pairs}


def test_pod_cidrs_follow_nodes_and_foreign_routes_survive(
    ccm_conn: Connection, neutron: tuple[Connection, Any], fresh_router: Site
) -> None:
    site = fresh_router
    conn, proxy = neutron
    ip1, ip2, other = site.ips
    foreign = {
        Route("10.245.0.0/24", other),  # another cluster's pod CIDR
        Route("10.244.99.0/24", other),  # inside our CIDR, next hop no node of ours
    }
    ccm_conn.network.add_extra_routes_to_router(
        site.router_id,
        {
            "router": {
                "routes": [{"destination": r.destination, "nexthop": r.nexthop} for r in foreign]
            }
        },
    )
    rec = reconciler(conn, site)
    n1, n2 = node("n1", "10.244.1.0/24", ip1), node("n2", "10.244.2.0/24", ip2)

    first = rec.reconcile([n1, n2])
    assert router_routes(ccm_conn, site) == foreign | {
        Route("10.244.1.0/24", ip1),
        Route("10.244.2.0/24", ip2),
    }
    assert pairs(ccm_conn, site.port_ids[0]) == {"10.244.1.0/24"}
    assert pairs(ccm_conn, site.port_ids[1]) == {"10.244.2.0/24"}
    assert first.routed_nodes == {"n1", "n2"}
    assert first.blackholes == (Route("10.244.99.0/24", other),)
    assert proxy.calls.count("PUT", ADD) == 1
    assert proxy.calls.count("PUT", REMOVE) == 0

    # n2 is deleted: its address is no longer any node's, the ledger still knows the route.
    second = rec.reconcile([n1])
    assert second.removed == (Route("10.244.2.0/24", ip2),)
    assert router_routes(ccm_conn, site) == foreign | {Route("10.244.1.0/24", ip1)}
    assert pairs(ccm_conn, site.port_ids[1]) == set()
    assert pairs(ccm_conn, site.port_ids[0]) == {"10.244.1.0/24"}
    assert proxy.calls.count("PUT", ADD) == 1
    assert proxy.calls.count("PUT", REMOVE) == 1

    # A quiet pass reads the router and changes nothing.
    rec.reconcile([n1])
    assert proxy.calls.count("PUT", r"/v2.0/routers") == 2
    assert pairs(ccm_conn, site.port_ids[2]) == set()


def test_one_pass_is_one_add_and_one_remove(
    ccm_conn: Connection, neutron: tuple[Connection, Any], fresh_router: Site
) -> None:
    site = fresh_router
    conn, proxy = neutron
    ip1, ip2, _ = site.ips
    rec = reconciler(conn, site)
    rec.reconcile([node("n1", "10.244.1.0/24", ip1), NodeRoutes("n2", ("10.244.2.0/24",), (ip2,))])
    assert proxy.calls.count("PUT", ADD) == 1
    # Both nodes get new pod CIDRs (four changes) and a third CIDR appears: one call each way.
    rec.reconcile(
        [
            NodeRoutes("n1", ("10.244.11.0/24", "10.244.12.0/24"), (ip1,)),
            node("n2", "10.244.21.0/24", ip2),
        ]
    )
    assert proxy.calls.count("PUT", ADD) == 2
    assert proxy.calls.count("PUT", REMOVE) == 1
    assert router_routes(ccm_conn, site) == {
        Route("10.244.11.0/24", ip1),
        Route("10.244.12.0/24", ip1),
        Route("10.244.21.0/24", ip2),
    }
    assert pairs(ccm_conn, site.port_ids[0]) == {"10.244.11.0/24", "10.244.12.0/24"}
    assert pairs(ccm_conn, site.port_ids[1]) == {"10.244.21.0/24"}


def test_pairs_rolled_back_when_the_route_update_fails(
    ccm_conn: Connection, neutron: tuple[Connection, Any], fresh_router: Site
) -> None:
    site = fresh_router
    conn, proxy = neutron
    ip1, ip2, _ = site.ips
    ccm_conn.network.update_port(
        site.port_ids[0], allowed_address_pairs=[{"ip_address": "192.0.2.7"}]
    )
    rec = reconciler(conn, site)
    nodes = [node("n1", "10.244.1.0/24", ip1), node("n2", "10.244.2.0/24", ip2)]
    proxy.inject(error(500), method="PUT", path=ADD, first=1)
    with pytest.raises(RouteUpdateFailed) as failed:
        rec.reconcile(nodes)
    assert isinstance(failed.value.__cause__, errors.ServerError)
    assert router_routes(ccm_conn, site) == set()
    assert pairs(ccm_conn, site.port_ids[0]) == {"192.0.2.7"}
    assert pairs(ccm_conn, site.port_ids[1]) == set()
    # Both ports had been given their pair before the failed update.
    assert proxy.calls.count("PUT", rf"/ports/{site.port_ids[0]}") == 2
    assert proxy.calls.count("PUT", rf"/ports/{site.port_ids[1]}") == 2

    rec.reconcile(nodes)
    assert router_routes(ccm_conn, site) == {
        Route("10.244.1.0/24", ip1),
        Route("10.244.2.0/24", ip2),
    }
    assert pairs(ccm_conn, site.port_ids[0]) == {"192.0.2.7", "10.244.1.0/24"}


def test_plain_extraroute_is_one_guarded_write(
    ccm_conn: Connection, neutron: tuple[Connection, Any], fresh_router: Site
) -> None:
    site = fresh_router
    conn, proxy = neutron
    ip1, ip2, other = site.ips
    foreign = Route("10.245.0.0/24", other)
    ccm_conn.network.update_router(
        site.router_id, routes=[{"destination": foreign.destination, "nexthop": other}]
    )
    rec = reconciler(conn, site)
    rec._extensions = {EXTRAROUTE, ADDRESS_PAIRS}  # as on a Neutron without extraroute-atomic
    router_path = rf"/v2.0/routers/{site.router_id}$"
    rec.reconcile([node("n1", "10.244.1.0/24", ip1), node("n2", "10.244.2.0/24", ip2)])
    assert proxy.calls.count("PUT", router_path) == 1
    # Another writer changed the router meanwhile (412 on the If-Match revision): re-read, retry.
    proxy.inject(error(412), method="PUT", path=router_path, first=1)
    reads = proxy.calls.count("GET", router_path)
    rec.reconcile([node("n1", "10.244.1.0/24", ip1)])
    assert proxy.calls.count("PUT", router_path) == 3
    assert proxy.calls.count("GET", router_path) == reads + 2
    assert router_routes(ccm_conn, site) == {foreign, Route("10.244.1.0/24", ip1)}
    assert pairs(ccm_conn, site.port_ids[1]) == set()
    assert proxy.calls.count("PUT", ADD) + proxy.calls.count("PUT", REMOVE) == 0


@pytest.fixture
def core(kube_api) -> Iterator[CoreV1Api]:  # type: ignore[no-untyped-def]
    client = kube_api.api_client()
    yield CoreV1Api(client)
    client.close()


def k8s_node(core: CoreV1Api, name: str, cidr: str, ip: str) -> None:
    core.create_node(V1Node(metadata=V1ObjectMeta(name=name), spec=V1NodeSpec(pod_cidr=cidr)))
    core.patch_node_status(
        name,
        {
            "status": {
                "addresses": [{"type": "InternalIP", "address": ip}],
                "conditions": [
                    {"type": "NetworkUnavailable", "status": "True", "reason": "NoRouteCreated"}
                ],
            }
        },
    )


def network_unavailable(core: CoreV1Api, name: str) -> str:
    status = core.read_node(name).status
    listed = (status.conditions if status is not None else None) or []
    found = [c.status for c in listed if c.type == "NetworkUnavailable"]
    return found[0] if found else ""


def test_node_objects_drive_routes_and_the_condition(
    ccm_conn: Connection, neutron: tuple[Connection, Any], fresh_router: Site, core: CoreV1Api
) -> None:
    site = fresh_router
    conn, _ = neutron
    ip1, ip2, _ = site.ips
    k8s_node(core, "node-1", "10.244.1.0/24", ip1)
    k8s_node(core, "node-2", "10.244.2.0/24", ip2)
    rec = reconciler(conn, site)
    now = datetime.now(UTC)

    sync_routes(core, rec, now=now)
    assert router_routes(ccm_conn, site) == {
        Route("10.244.1.0/24", ip1),
        Route("10.244.2.0/24", ip2),
    }
    assert network_unavailable(core, "node-1") == "False"
    assert network_unavailable(core, "node-2") == "False"

    core.delete_node("node-2")
    result = sync_routes(core, rec, now=now)
    assert result.removed == (Route("10.244.2.0/24", ip2),)
    assert router_routes(ccm_conn, site) == {Route("10.244.1.0/24", ip1)}


def test_stale_revision_is_refused_by_neutron(
    ccm_conn: Connection, neutron: tuple[Connection, Any], fresh_router: Site
) -> None:
    site = fresh_router
    conn, _ = neutron
    ip1 = site.ips[0]
    cloud = reconciler(conn, site).cloud
    routes, revision = cloud.router_routes(site.router_id)
    assert routes == [] and revision is not None
    ccm_conn.network.update_router(site.router_id, description="someone else wrote")
    with pytest.raises(errors.Conflict):
        cloud.replace_routes(site.router_id, [Route("10.244.1.0/24", ip1)], revision)
    assert router_routes(ccm_conn, site) == set()


# The route controller: its run loop over a real Node informer on the in-memory API server.


def _until(check: Callable[[], bool], what: str, wait: float = 20.0) -> None:
    deadline = time.monotonic() + wait
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not reached in {wait} s")
        time.sleep(0.1)


@contextlib.contextmanager
def running_controller(conn: Connection, site: Site, core: CoreV1Api) -> Iterator[RouteReconciler]:
    clock = SystemClock()
    informer = Informer(
        ApiListWatch(core.list_node, description="nodes"), name="nodes", clock=clock
    )
    rec = reconciler(conn, site)
    controller = RouteController(
        api=core,
        nodes=informer,
        reconciler=rec,
        settings=RouteSettings(site.router_id, CLUSTER, period=0.2),
        recorder=EventRecorder(core, component=COMPONENT, clock=clock),
        clock=clock,
    )
    stop = threading.Event()
    threads = [informer.start(stop), threading.Thread(target=controller.run, args=(stop,))]
    threads[1].start()
    try:
        yield rec
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)


def test_route_controller_follows_nodes_and_leaves_other_clusters_alone(
    ccm_conn: Connection, neutron: tuple[Connection, Any], fresh_router: Site, core: CoreV1Api
) -> None:
    site = fresh_router
    conn, proxy = neutron
    ip1, ip2, other = site.ips
    foreign = Route("10.245.0.0/24", other)  # another cluster's route on the shared router
    ccm_conn.network.update_router(
        site.router_id, routes=[{"destination": foreign.destination, "nexthop": other}]
    )
    k8s_node(core, "rc-1", "10.244.1.0/24", ip1)
    with running_controller(conn, site, core):
        _until(lambda: Route("10.244.1.0/24", ip1) in router_routes(ccm_conn, site), "route 1")
        _until(lambda: network_unavailable(core, "rc-1") == "False", "rc-1 condition")
        # A node added while running gets its route on a later pass.
        k8s_node(core, "rc-2", "10.244.2.0/24", ip2)
        _until(lambda: Route("10.244.2.0/24", ip2) in router_routes(ccm_conn, site), "route 2")
        _until(lambda: network_unavailable(core, "rc-2") == "False", "rc-2 condition")
        # A deleted node's route goes; the other cluster's route stays.
        core.delete_node("rc-2")
        _until(lambda: len(router_routes(ccm_conn, site)) == 2, "route 2 removed")
        assert router_routes(ccm_conn, site) == {foreign, Route("10.244.1.0/24", ip1)}
        # Quiet passes read the router and never write it.
        writes = proxy.calls.count("PUT", r"/v2.0/routers")
        reads = proxy.calls.count("GET", rf"/v2.0/routers/{site.router_id}$")
        _until(
            lambda: proxy.calls.count("GET", rf"/v2.0/routers/{site.router_id}$") >= reads + 3,
            "passes",
        )
        assert proxy.calls.count("PUT", r"/v2.0/routers") == writes
    core.delete_node("rc-1")


def test_route_controller_reports_a_failed_route(
    ccm_conn: Connection, neutron: tuple[Connection, Any], fresh_router: Site, core: CoreV1Api
) -> None:
    site = fresh_router
    conn, proxy = neutron
    ip1 = site.ips[0]
    proxy.inject(error(500), method="PUT", path=ADD, first=1)
    k8s_node(core, "rc-fail", "10.244.7.0/24", ip1)
    with running_controller(conn, site, core):
        _until(lambda: ("Warning", "FailedToCreateRoute") in events_for(core, "rc-fail"), "event")
        # The next pass creates it and clears the condition.
        _until(lambda: network_unavailable(core, "rc-fail") == "False", "condition cleared")
    assert router_routes(ccm_conn, site) == {Route("10.244.7.0/24", ip1)}
    message = next(
        str(e.message)
        for e in core.list_namespaced_event("default").items
        if e.involved_object.name == "rc-fail" and e.reason == "FailedToCreateRoute"
    )
    assert (
        message.startswith("Could not create route ")
        and "10.244.7.0/24 for node rc-fail" in message
    )
    core.delete_node("rc-fail")


def test_a_restarted_reconciler_removes_dead_routes_only(
    ccm_conn: Connection, neutron: tuple[Connection, Any], fresh_router: Site
) -> None:
    """A node deleted (server and port gone) while no controller ran: its route's next hop is
    held by no port, so a fresh reconciler (empty ledger) removes it; the route to a port of
    another machine (held) stays."""
    site = fresh_router
    conn, proxy = neutron
    ip1, _, other = site.ips
    free = next(f"10.81.0.{i}" for i in range(200, 250) if f"10.81.0.{i}" not in site.ips)
    dead, held = Route("10.244.5.0/24", free), Route("10.244.6.0/24", other)
    ccm_conn.network.update_router(
        site.router_id,
        routes=[{"destination": r.destination, "nexthop": r.nexthop} for r in (dead, held)],
    )
    result = reconciler(conn, site).reconcile([node("n1", "10.244.1.0/24", ip1)])
    assert result.removed == (dead,)
    assert router_routes(ccm_conn, site) == {held, Route("10.244.1.0/24", ip1)}
    assert proxy.calls.count("PUT", REMOVE) == 1


def test_the_process_runs_the_route_controller(
    ccm_conn: Connection,
    fresh_router: Site,
    core: CoreV1Api,
    kube_api: Any,
    tmp_path: Path,
) -> None:
    """The real binary with upstream's route flags and ``[Route] router-id``: a Node's pod
    CIDR becomes a route on the router and its condition is cleared."""
    site = fresh_router
    ip1 = site.ips[0]
    conf = tmp_path / "cloud.conf"
    base = Layout(resolve_dir(None, os.environ)).cloud_conf
    conf.write_text(f"{base.read_text()}\n[Route]\nrouter-id = {site.router_id}\n")
    k8s_node(core, "proc-1", "10.244.3.0/24", ip1)
    argv = [
        str(Path(sys.executable).parent / "openstack-cloud-controller-manager"),
        "--cloud-provider=openstack",
        f"--cloud-config={conf}",
        f"--kubeconfig={kube_api.write_kubeconfig(tmp_path / 'kubeconfig')}",
        "--controllers=route",
        "--allocate-node-cidrs=true",
        "--cluster-cidr=10.244.0.0/16",
        "--route-reconciliation-period=1s",
        "--leader-elect=false",
        "--secure-port=0",
    ]
    log = tmp_path / "ccm.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        _until(
            lambda: (
                Route("10.244.3.0/24", ip1) in router_routes(ccm_conn, site)
                or proc.poll() is not None
            ),
            "route from the process",
            60,
        )
        assert proc.poll() is None, log.read_text()[-3000:]
        _until(lambda: network_unavailable(core, "proc-1") == "False", "condition cleared")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    core.delete_node("proc-1")
