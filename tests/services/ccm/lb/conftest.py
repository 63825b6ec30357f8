"""Fixtures of the Octavia provider's contract tests: the provider built the production way
over the test cloud (cloud.conf through the core loader, every call through
``OpenStackClient``), a recorder standing in for the service controller, Service and Node
facts, and a sweep that lists and deletes everything a test's cluster name marks (LBs, FIPs,
SGs), so parallel files never see each other's objects and no run leaves orphans.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from openstack.connection import Connection
from prometheus_client import CollectorRegistry

from osk8s_ccm.lb_provider import (
    EventType,
    LoadBalancerNode,
    LoadBalancerService,
    NodeAddress,
    ServicePort,
)
from osk8s_ccm.octavia.provider import OctaviaProvider, OctaviaSettings
from osk8s_core.config import CloudConfig, LoadBalancerClass, LoadBalancerOptions
from osk8s_core.crashpoints import NO_CRASH_POINTS, CrashPoints
from osk8s_core.logging import get_logger
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import RetryPolicy, WaitPolicy
from osk8s_testing.testcloud.layout import Layout, resolve_dir

POLICY = RetryPolicy(max_attempts=4, backoff_base=0.2)
OCTAVIA_POLICY = dataclasses.replace(POLICY, retry_conflict=True)
FAST_WAIT = WaitPolicy(timeout=120, interval=0.3, factor=1.3, max_interval=2)
SUBNET_CIDR_PREFIX = "192.0.2."
WRITE_PREFIXES = ("_create", "_update", "_delete", "tag_add", "tag_delete")


@dataclass
class Recorder:
    """The service controller's ``LoadBalancerRecorder``: keeps what the provider asked."""

    events: list[tuple[str, str, str]] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)
    not_ready_reasons: list[str] = field(default_factory=list)

    def event(self, type_: EventType, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))

    def annotate(self, key: str, value: str) -> None:
        self.annotations[key] = value

    def not_ready(self, reason: str, message: str) -> None:
        self.not_ready_reasons.append(reason)

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.events]


@dataclass
class Harness:
    """One provider with its own metrics registry (request counts are per harness)."""

    provider: OctaviaProvider
    registry: CollectorRegistry
    cluster: str

    def requests(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for metric in self.registry.collect():
            for sample in metric.samples:
                if sample.name == "openstack_api_requests_total" and sample.value:
                    found[sample.labels["request"]] = int(sample.value)
        return found

    def writes(self) -> dict[str, int]:
        return {k: v for k, v in self.requests().items() if k.endswith(WRITE_PREFIXES)}

    def reads(self) -> dict[str, int]:
        return {k: v for k, v in self.requests().items() if not k.endswith(WRITE_PREFIXES)}


def node(name: str, address: str, **labels: str) -> LoadBalancerNode:
    return LoadBalancerNode(
        name=name, labels=labels, addresses=(NodeAddress("InternalIP", address),)
    )


def service(
    name: str,
    *ports: tuple[str, int, int],
    annotations: Mapping[str, str] | None = None,
    uid: str | None = None,
    **spec: Any,
) -> LoadBalancerService:
    """A Service of type LoadBalancer; ports as (protocol, port, nodePort)."""
    return LoadBalancerService(
        namespace="default",
        name=name,
        uid=uid or str(uuid.uuid4()),
        annotations=dict(annotations or {}),
        ports=tuple(
            ServicePort(name=f"p{i}", protocol=proto, port=port, node_port=node_port)
            for i, (proto, port, node_port) in enumerate(ports)
        ),
        **spec,
    )


def annotated(svc: LoadBalancerService, extra: Mapping[str, str]) -> LoadBalancerService:
    return dataclasses.replace(svc, annotations={**svc.annotations, **extra})


@dataclass
class Octavia:
    """Builds harnesses over one connection; ``sweep`` removes what a cluster name marks."""

    conn: Connection
    config: CloudConfig
    cluster: str

    @property
    def options(self) -> LoadBalancerOptions:
        return self.config.load_balancer

    def harness(
        self,
        *,
        conn: Connection | None = None,
        crash_points: CrashPoints = NO_CRASH_POINTS,
        classes: Mapping[str, LoadBalancerClass] | None = None,
        octavia_policy: RetryPolicy = OCTAVIA_POLICY,
        **options: Any,
    ) -> Harness:
        registry = CollectorRegistry()
        metrics = ApiMetrics(registry)
        log = get_logger("test.ccm.octavia")
        connection = conn or self.conn

        def client(policy: RetryPolicy) -> OpenStackClient[Connection]:
            return OpenStackClient(
                connection,
                metrics=metrics,
                retry_policy=policy,
                logger=log,
                crash_points=crash_points,
                sleep=lambda s: __import__("time").sleep(min(s, 0.3)),
            )

        settings = OctaviaSettings(
            options=dataclasses.replace(self.options, **options),
            classes=dict(classes or {}),
            region=self.config.global_.region or "",
        )
        provider = OctaviaProvider(
            octavia=client(octavia_policy),
            network=client(POLICY),
            settings=settings,
            waiter=Waiter(policy=FAST_WAIT),
        )
        return Harness(provider=provider, registry=registry, cluster=self.cluster)

    # What exists, scoped to this run's cluster name

    def lbs(self) -> list[Any]:
        return [
            lb
            for lb in self.conn.load_balancer.load_balancers()
            if self.cluster in str(lb.name) and lb.provisioning_status != "DELETED"
        ]

    def fips(self) -> list[Any]:
        return [f for f in self.conn.network.ips() if self.cluster in str(f.description or "")]

    def groups(self) -> list[Any]:
        return [
            g
            for g in self.conn.network.security_groups()
            if self.cluster in str(g.description or "")
        ]

    def listeners(self, lb_id: str) -> list[Any]:
        return list(self.conn.load_balancer.listeners(load_balancer_id=lb_id))

    def pools(self, lb_id: str) -> list[Any]:
        return list(self.conn.load_balancer.pools(loadbalancer_id=lb_id))

    def inventory(self) -> dict[str, list[str]]:
        """Every object this run's cluster marks (listeners and pools through their LBs)."""
        lbs = self.lbs()
        return {
            "lbs": [lb.id for lb in lbs],
            "listeners": [li.id for lb in lbs for li in self.listeners(lb.id)],
            "pools": [p.id for lb in lbs for p in self.pools(lb.id)],
            "fips": [f.id for f in self.fips()],
            "security_groups": [g.id for g in self.groups()],
        }

    def sweep(self) -> None:
        lb_api: Any = self.conn.load_balancer
        for lb in self.lbs():
            with contextlib.suppress(Exception):
                lb_api.wait_for_load_balancer(lb.id, status="ACTIVE", failures=["ERROR"], wait=60)
            with contextlib.suppress(Exception):
                lb_api.delete_load_balancer(lb.id, cascade=True, ignore_missing=True)
        for lb in self.lbs():
            with contextlib.suppress(Exception):
                lb_api.wait_for_delete(lb, wait=90)
        for fip in self.fips():
            with contextlib.suppress(Exception):
                self.conn.network.delete_ip(fip.id, ignore_missing=True)
        self.sweep_groups()

    def sweep_groups(self) -> None:
        """Detach this run's groups from every port, then delete them."""
        for group in self.groups():
            with contextlib.suppress(Exception):
                for port in self.conn.network.ports(security_groups=[group.id]):
                    rest = [g for g in port.security_group_ids if g != group.id]
                    self.conn.network.update_port(port.id, security_groups=rest)
                self.conn.network.delete_security_group(group.id, ignore_missing=True)


def nodes_at(*hosts: int) -> Sequence[LoadBalancerNode]:
    """Nodes with addresses in the demo subnet (Octavia only needs the address)."""
    return [node(f"node-{h}", f"{SUBNET_CIDR_PREFIX}{h}") for h in hosts]


@pytest.fixture(scope="session")
def testcloud_network() -> dict[str, str]:
    """The demo network and subnet ids the test cloud made (its state file)."""
    layout = Layout(resolve_dir(None, os.environ))
    network: dict[str, str] = json.loads(layout.state_file.read_text())["network"]
    return network


@pytest.fixture(scope="module")
def octavia(ccm_conn: Connection, cloud_config: CloudConfig) -> Iterator[Octavia]:
    """A unique cluster name per module (no ``_``: CPO's rename parsing forbids it)."""
    world = Octavia(conn=ccm_conn, config=cloud_config, cluster=f"t{uuid.uuid4().hex[:8]}")
    try:
        yield world
    finally:
        world.sweep()


_FORCE_ERROR = """
import configparser, sys
import sqlalchemy
config = configparser.RawConfigParser()
config.read(sys.argv[1])
engine = sqlalchemy.create_engine(config["database"]["connection"])
with engine.begin() as db:
    done = db.execute(
        sqlalchemy.text(
            "UPDATE load_balancer SET provisioning_status='ERROR' WHERE id=:id"
        ),
        {"id": sys.argv[2]},
    )
    assert done.rowcount == 1, done.rowcount
"""


def force_error(lb_id: str) -> None:
    """Put one load balancer this test made into ERROR, as a failed Octavia worker leaves it
    (Octavia has no API for that): one UPDATE of its row through the test cloud's own
    database settings, run with the test cloud's interpreter (it has the DB driver)."""
    layout = Layout(resolve_dir(None, os.environ))
    python = layout.root / "venv" / "bin" / "python"
    conf = layout.root / "etc" / "octavia" / "octavia.conf"
    subprocess.run([str(python), "-c", _FORCE_ERROR, str(conf), lb_id], check=True, timeout=60)
