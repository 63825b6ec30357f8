"""The service controller end to end: Services and Nodes in the in-memory API server, CPO's
Octavia provider built the production way (``build_service_controller`` over the process
context: the test cloud's cloud.conf, one instrumented OpenStack client) against the real
Octavia and Neutron of the test cloud. A Service gets an ACTIVE load balancer, a floating IP
and its status; a new node becomes a member; delete leaves nothing (listed after the test).
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
from kubernetes.client import CoreV1Api
from openstack.connection import Connection

from osk8s_ccm import lb_annotations as ann
from osk8s_ccm.ccm_metrics import CcmMetrics
from osk8s_ccm.cli import build_parser
from osk8s_ccm.manager import ControllerContext, SharedInformers
from osk8s_ccm.options import options_from_args
from osk8s_ccm.service_controller import ServiceController, build_service_controller
from osk8s_ccm.service_status import CONDITION_TYPE, FINALIZER
from osk8s_core.config import CloudConfig
from osk8s_core.k8s.clock import SystemClock
from osk8s_core.k8s.events import EventRecorder
from osk8s_core.logging import get_logger
from osk8s_core.openstack.client import OpenStackClient

from .lb.conftest import SUBNET_CIDR_PREFIX, Octavia

pytestmark = pytest.mark.contract

NS = "default"


@pytest.fixture
def core(kube_api: Any) -> Iterator[Any]:
    client = kube_api.api_client()
    yield CoreV1Api(client)
    client.close()


@pytest.fixture
def world(ccm_conn: Connection, cloud_config: CloudConfig) -> Iterator[Octavia]:
    made = Octavia(conn=ccm_conn, config=cloud_config, cluster=f"s{uuid.uuid4().hex[:8]}")
    try:
        yield made
    finally:
        made.sweep()


def controller(core: Any, world: Octavia) -> ServiceController:
    parser = build_parser()
    parser.warning_stream = io.StringIO()
    opts = options_from_args(
        parser.parse_args(["--cloud-provider=openstack", f"--cluster-name={world.cluster}"]),
        user_agent="test/1",
    )
    clock = SystemClock()
    metrics = CcmMetrics.create()
    context = ControllerContext(
        options=opts,
        cloud_config=world.config,
        openstack=OpenStackClient(
            world.conn, metrics=metrics.api, logger=get_logger("test.ccm.service")
        ),
        nova_neutron=cast(Any, None),
        instances=cast(Any, None),
        kube=core.api_client,
        core=core,
        informers=SharedInformers(core, clock=clock),
        metrics=metrics,
        recorder=lambda component: EventRecorder(core, component=component, clock=clock),
        clock=clock,
    )
    built = build_service_controller(context, environ={})
    assert built is not None
    return built


def add_node(core: Any, name: str, host: int) -> None:
    core.create_node({"metadata": {"name": name}, "spec": {}})
    address = {"type": "InternalIP", "address": f"{SUBNET_CIDR_PREFIX}{host}"}
    core.patch_node_status(
        name,
        {"status": {"addresses": [address]}},
        _content_type="application/strategic-merge-patch+json",
    )


def eventually(check: Callable[[], Any], what: str, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not reached in {timeout} s: {what}")
        time.sleep(0.5)


def service(core: Any) -> dict[str, Any] | None:
    found = [s for s in core.list_namespaced_service(NS).items if s.metadata.name == "web"]
    if not found:
        return None
    raw: dict[str, Any] = core.api_client.sanitize_for_serialization(found[0])
    return raw


def members(world: Octavia) -> set[str]:
    [lb] = world.lbs()
    return {
        m.address for pool in world.pools(lb.id) for m in world.conn.load_balancer.members(pool.id)
    }


def reasons(core: Any) -> list[str]:
    return [
        e.reason for e in core.list_namespaced_event(NS).items if e.involved_object.name == "web"
    ]


def test_service_lifecycle_on_octavia(core: Any, world: Octavia) -> None:
    add_node(core, "n1", 21)
    add_node(core, "n2", 22)
    ctrl = controller(core, world)
    stop = threading.Event()
    threads = [threading.Thread(target=ctrl.run, args=(stop,), daemon=True)]
    threads += [informer.start(stop) for informer in (ctrl._services, ctrl._nodes)]
    threads[0].start()
    try:
        started = time.monotonic()
        core.create_namespaced_service(
            NS,
            {
                "metadata": {"name": "web"},
                "spec": {
                    "type": "LoadBalancer",
                    "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}],
                },
            },
        )

        def published() -> Any:
            svc = service(core)
            return svc and ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")

        [ingress] = eventually(published, "status.loadBalancer.ingress")
        elapsed = time.monotonic() - started
        svc = service(core)
        assert svc is not None
        [lb] = world.lbs()
        assert lb.provisioning_status == "ACTIVE"
        assert svc["metadata"]["finalizers"] == [FINALIZER]
        annotations = svc["metadata"]["annotations"]
        assert annotations[ann.LOAD_BALANCER_ID] == lb.id
        [fip] = world.fips()
        assert fip.port_id == lb.vip_port_id
        assert ingress == {"ip": fip.floating_ip_address, "ipMode": "VIP"}
        assert annotations[ann.LOAD_BALANCER_ADDRESS] == fip.floating_ip_address
        [ready] = [c for c in svc["status"]["conditions"] if c["type"] == CONDITION_TYPE]
        assert ready["status"] == "True"
        assert members(world) == {f"{SUBNET_CIDR_PREFIX}21", f"{SUBNET_CIDR_PREFIX}22"}
        assert {"EnsuringLoadBalancer", "EnsuredLoadBalancer"} <= set(reasons(core))
        print(f"Service create -> status.loadBalancer: {elapsed:.1f} s")

        add_node(core, "n3", 23)
        eventually(lambda: f"{SUBNET_CIDR_PREFIX}23" in members(world), "n3 a member", 60)
        eventually(lambda: "UpdatedLoadBalancer" in reasons(core), "UpdatedLoadBalancer", 120)

        core.delete_namespaced_service("web", NS)
        eventually(lambda: service(core) is None, "Service gone with its finalizer")
        assert world.inventory() == {
            "lbs": [],
            "listeners": [],
            "pools": [],
            "fips": [],
            "security_groups": [],
        }
        assert {"DeletingLoadBalancer", "DeletedLoadBalancer"} <= set(reasons(core))
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
