"""Fixtures of the ingress tests: the real Octavia/Neutron/Barbican of the test cloud (through
the core's loader, credentials and ``OpenStackClient``) and an in-memory API server per
module holding Nodes, Services, Secrets and Ingresses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes.client import CoreV1Api, NetworkingV1Api
from openstack.connection import Connection
from prometheus_client import CollectorRegistry

from osk8s_core.config import CloudConfig
from osk8s_core.config.loader import load_cloud_config
from osk8s_core.crashpoints import NO_CRASH_POINTS, CrashPoints
from osk8s_core.credentials.connection import ClientSettings, build_connection
from osk8s_core.credentials.tls import CaFileStore
from osk8s_core.k8s.clock import SystemClock
from osk8s_core.k8s.events import EventRecorder
from osk8s_core.logging import get_logger
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import RetryPolicy, WaitPolicy
from osk8s_octavia_ingress import naming
from osk8s_octavia_ingress.app import build_reconciler
from osk8s_octavia_ingress.config import IngressConfig, OctaviaConfig
from osk8s_octavia_ingress.kube import ApiKubeView
from osk8s_octavia_ingress.reconciler import IngressReconciler
from osk8s_testing.cloudgate import cloud_unavailable
from osk8s_testing.kubeapi.server import KubeApiServer
from osk8s_testing.testcloud.layout import Layout, resolve_dir

SETTINGS = ClientSettings(component="octavia-ingress-controller", version="0", timeout=60)
POLICY = RetryPolicy(max_attempts=4, backoff_base=0.2)
# Octavia (noop) settles in well under a second: poll often so the suite stays short.
FAST_WAIT = WaitPolicy(timeout=120, interval=0.2, factor=1.3, max_interval=1.0)
WRITE_SUFFIXES = ("_create", "_update", "_delete")


@pytest.fixture(scope="session")
def ingress_cloud_config() -> CloudConfig:
    layout = Layout(resolve_dir(None, os.environ))
    if not layout.cloud_conf.exists():
        cloud_unavailable(f"OpenStack test cloud not set up: no {layout.cloud_conf}")
    return load_cloud_config([layout.cloud_conf], environ={}).config


@pytest.fixture(scope="session")
def ingress_conn(ingress_cloud_config: CloudConfig) -> Iterator[Connection]:
    store = CaFileStore()
    try:
        conn = build_connection(ingress_cloud_config.global_, settings=SETTINGS, ca_store=store)
        types = {entry["type"] for entry in conn.service_catalog}
    except Exception as exc:
        store.close()
        cloud_unavailable(f"OpenStack test cloud does not answer: {type(exc).__name__}")
    if "load-balancer" not in types:
        cloud_unavailable("test cloud runs no Octavia")
    try:
        yield conn
    finally:
        conn.close()
        store.close()


@dataclass
class Counter:
    """OpenStack requests by label, per registry."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def all(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for metric in self.registry.collect():
            for sample in metric.samples:
                if sample.name == "openstack_api_requests_total":
                    found[sample.labels["request"]] = int(sample.value)
        return found

    def writes(self) -> dict[str, int]:
        return {k: v for k, v in self.all().items() if k.endswith(WRITE_SUFFIXES)}


@dataclass
class Kube:
    server: KubeApiServer
    core: Any
    """CoreV1Api (typed Any: the tests pass plain JSON bodies)."""
    net: Any
    """NetworkingV1Api."""
    client: Any

    def node(
        self,
        name: str,
        ip: str,
        *,
        ready: bool = True,
        server: str | None = None,
        region: str = "",
    ) -> None:
        """A Node with an InternalIP; ``server``: the Nova server id of its ``providerID``
        (``openstack://<region>/<id>`` when ``region``, as a regional CCM writes it)."""
        spec = {"providerID": f"openstack://{region}/{server}"} if server else {}
        self.core.create_node({"metadata": {"name": name}, "spec": spec})
        status = "True" if ready else "False"
        self.core.patch_node_status(
            name,
            {
                "status": {
                    "addresses": [{"type": "InternalIP", "address": ip}],
                    "conditions": [{"type": "Ready", "status": status}],
                }
            },
        )

    def service(self, name: str, ports: list[dict[str, Any]], namespace: str = "default") -> None:
        self.core.create_namespaced_service(
            namespace,
            {"metadata": {"name": name}, "spec": {"type": "NodePort", "ports": ports}},
        )


@pytest.fixture(scope="module")
def kube() -> Iterator[Kube]:
    server = KubeApiServer().start()
    client = server.api_client()
    try:
        yield Kube(server, CoreV1Api(client), NetworkingV1Api(client), client)
    finally:
        client.close()
        server.stop()


Builder = Callable[..., tuple[IngressReconciler, Counter]]


@pytest.fixture(scope="module")
def make_reconciler(
    ingress_conn: Connection, ingress_cloud_config: CloudConfig, kube: Kube
) -> Builder:
    """A reconciler on fresh metrics: ``make_reconciler(cluster, floating=True)``."""

    def make(
        cluster: str,
        *,
        floating: bool = False,
        serial: bool = False,
        manage_security_groups: bool = False,
        conn: Connection | None = None,
        crash_points: CrashPoints = NO_CRASH_POINTS,
    ) -> tuple[IngressReconciler, Counter]:
        lb_options = ingress_cloud_config.load_balancer
        config = IngressConfig(
            cluster_name=cluster,
            openstack=ingress_cloud_config.global_,
            octavia=OctaviaConfig(
                subnet_id=lb_options.subnet_id,
                floating_network_id=lb_options.floating_network_id if floating else "",
                provider_requires_serial_api_calls=serial,
                manage_security_groups=manage_security_groups,
            ),
        )
        counter = Counter()
        metrics = ApiMetrics(counter.registry)
        client = OpenStackClient(
            conn or ingress_conn,
            metrics=metrics,
            retry_policy=POLICY,
            logger=get_logger("test.ingress"),
            crash_points=crash_points,
        )
        recorder = EventRecorder(
            kube.core, component="octavia-ingress-controller", clock=SystemClock()
        )
        octavia = OpenStackClient(
            conn or ingress_conn,
            metrics=metrics,
            retry_policy=dataclasses.replace(POLICY, retry_conflict=True),
            logger=get_logger("test.ingress"),
            crash_points=crash_points,
        )
        reconciler = build_reconciler(
            config,
            client=client,
            octavia_client=octavia,
            kube=ApiKubeView(kube.client),
            recorder=recorder,
            waiter=Waiter(policy=FAST_WAIT),
        )
        return reconciler, counter

    return make


@pytest.fixture
def cluster() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def delete_lbs(conn: Connection, name: str) -> None:
    """Test clean-up: every LB of that name, waited out of PENDING_* first."""
    lb_api: Any = conn.load_balancer
    for lb in lb_api.load_balancers(name=name):
        with contextlib.suppress(Exception):
            lb_api.wait_for_load_balancer(lb.id, status="ACTIVE", failures=["ERROR"], wait=120)
        lb_api.delete_load_balancer(lb.id, cascade=True, ignore_missing=True)


CRASH_NAME = "crashy"


@pytest.fixture(scope="module")
def crash_world(kube: Kube) -> Kube:
    kube.node("crash-node-a", "10.23.0.11")
    kube.node("crash-node-b", "10.23.0.12")
    kube.service("crash-web", [{"name": "http", "port": 80, "nodePort": 30380}])
    kube.net.create_namespaced_ingress(
        "default",
        {
            "metadata": {
                "name": CRASH_NAME,
                "annotations": {"kubernetes.io/ingress.class": "openstack"},
            },
            "spec": {
                "rules": [
                    {
                        "host": "crash.example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/app",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {"name": "crash-web", "port": {"name": "http"}}
                                    },
                                }
                            ]
                        },
                    }
                ]
            },
        },
    )
    return kube


def verify_one_of_each(conn: Connection, kube: Kube, resource: str) -> None:
    lb_api: Any = conn.load_balancer
    lbs = list(lb_api.load_balancers(name=resource))
    assert len(lbs) == 1, [lb.id for lb in lbs]
    lb = lbs[0]
    listeners = list(lb_api.listeners(load_balancer_id=lb.id))
    assert [(x.name, x.protocol) for x in listeners] == [(resource, "HTTP")]
    pools = list(lb_api.pools(loadbalancer_id=lb.id))
    assert len(pools) == 1
    assert sorted((m.address, m.protocol_port) for m in lb_api.members(pools[0].id)) == [
        ("10.23.0.11", 30380),
        ("10.23.0.12", 30380),
    ]
    policies = list(lb_api.l7_policies(listener_id=listeners[0].id))
    assert len(policies) == 1 and policies[0].redirect_pool_id == pools[0].id
    rules = sorted((r.type, r.rule_value) for r in lb_api.l7_rules(policies[0].id))
    assert rules == [
        ("HOST_NAME", r"^crash\.example\.com(:80)?$"),
        ("PATH", r"^/app(/.*)?$"),
    ]
    ingress: Any = kube.net.read_namespaced_ingress(CRASH_NAME, "default")
    assert ingress.status.load_balancer.ingress[0].ip == lb.vip_address
    version = ingress.metadata.resource_version
    assert naming.processed_version(lb.description) == version
