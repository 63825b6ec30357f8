"""Fixtures of the ccm contract tests: a small world of real Nova servers on the test cloud.

Booted once per session (Nova's fake driver is quick, the machine is loaded): node A has two
networks, a trunk parent port with a VLAN subport on a third network, a floating IP, access
IPs and a ``hostname`` metadata key, in az-2; node B has one network in az-1 (it is the one
the shutdown test stops). Everything is deleted at teardown, newest first.
The OpenStack side is built the production way: the test cloud's cloud.conf through the
core's loader and credentials, every call through ``OpenStackClient``.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from openstack.connection import Connection
from prometheus_client import CollectorRegistry

from osk8s_ccm.nova_neutron import NovaNeutron
from osk8s_core.config import CloudConfig
from osk8s_core.config.loader import load_cloud_config
from osk8s_core.credentials.connection import ClientSettings, build_connection
from osk8s_core.credentials.tls import CaFileStore
from osk8s_core.logging import get_logger
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.retry import RetryPolicy
from osk8s_testing.cloudgate import cloud_unavailable
from osk8s_testing.testcloud.boot import boot_flavor_id, boot_image_id
from osk8s_testing.testcloud.layout import Layout, resolve_dir

SETTINGS = ClientSettings(component="openstack-cloud-controller-manager", version="0", timeout=60)
POLICY = RetryPolicy(max_attempts=3, backoff_base=0.2)
ACCESS_V4 = "203.0.113.61"
ACCESS_V6 = "2001:db8::61"
HOSTNAME = "a.nodes.example"
SECOND_CIDR = "10.77.0.0/24"
VLAN_CIDR = "10.78.0.0/24"


@dataclass(frozen=True)
class World:
    """What the fixture made, with the values read back from Neutron for the expected table."""

    config: CloudConfig
    a_id: str
    a_name: str
    b_id: str
    b_name: str
    second_network: str
    """Name of A's second network; sorts before the demo network ``osk8s-net``."""
    vlan_network: str
    """Name of the subport's network; sorts after ``osk8s-net``."""
    a_demo_ip: str
    b_demo_ip: str
    a_second_ip: str
    subport_ip: str
    floating_ip: str
    flavor_name: str


def _wait(fetch: Callable[[], Any], done: Callable[[Any], bool], what: str, wait: float) -> Any:
    deadline = time.monotonic() + wait
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not reached in {wait} s")
        time.sleep(0.5)


@pytest.fixture(scope="session")
def cloud_config() -> CloudConfig:
    layout = Layout(resolve_dir(None, os.environ))
    if not layout.cloud_conf.exists():
        cloud_unavailable(f"OpenStack test cloud not set up: no {layout.cloud_conf}")
    return load_cloud_config([layout.cloud_conf], environ={}).config


@pytest.fixture(scope="session")
def ccm_conn(cloud_config: CloudConfig) -> Iterator[Connection]:
    store = CaFileStore()
    try:
        conn = build_connection(cloud_config.global_, settings=SETTINGS, ca_store=store)
    except Exception as exc:
        store.close()
        cloud_unavailable(f"OpenStack test cloud does not answer: {type(exc).__name__}")
    try:
        if "compute" not in {entry["type"] for entry in conn.service_catalog}:
            cloud_unavailable("test cloud runs no Nova (`osk8s-testcloud up all`)")
        yield conn
    finally:
        conn.close()
        store.close()


@dataclass
class Cloud:
    """One test's client: fresh metrics, so request counts are per test."""

    nova_neutron: NovaNeutron
    registry: CollectorRegistry

    def requests(self, label: str) -> int:
        value = self.registry.get_sample_value("openstack_api_requests_total", {"request": label})
        return int(value or 0)

    def all_requests(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for metric in self.registry.collect():
            for sample in metric.samples:
                if sample.name == "openstack_api_requests_total":
                    found[sample.labels["request"]] = int(sample.value)
        return found


@pytest.fixture
def cloud(ccm_conn: Connection) -> Cloud:
    registry = CollectorRegistry()
    client = OpenStackClient(
        ccm_conn, metrics=ApiMetrics(registry), retry_policy=POLICY, logger=get_logger("test.ccm")
    )
    return Cloud(NovaNeutron(client), registry)


@pytest.fixture(scope="session")
def world(ccm_conn: Connection, cloud_config: CloudConfig) -> Iterator[World]:
    conn = ccm_conn
    net: Any = conn.network
    compute: Any = conn.compute
    demo_net = cloud_config.load_balancer.network_id
    floating_net = cloud_config.load_balancer.floating_network_id
    tag = uuid.uuid4().hex[:8]
    deletes: list[Callable[[], object]] = []
    try:
        second = net.create_network(name=f"ccm-{tag}-second")
        deletes.append(lambda: net.delete_network(second, ignore_missing=True))
        net.create_subnet(network_id=second.id, cidr=SECOND_CIDR, ip_version=4)
        vlan = net.create_network(name=f"zz-ccm-{tag}-vlan")
        deletes.append(lambda: net.delete_network(vlan, ignore_missing=True))
        net.create_subnet(network_id=vlan.id, cidr=VLAN_CIDR, ip_version=4)
        parent = net.create_port(name=f"ccm-{tag}-parent", network_id=demo_net)
        deletes.append(lambda: net.delete_port(parent, ignore_missing=True))
        sub = net.create_port(name=f"ccm-{tag}-sub", network_id=vlan.id)
        deletes.append(lambda: net.delete_port(sub, ignore_missing=True))
        trunk = net.create_trunk(
            name=f"ccm-{tag}",
            port_id=parent.id,
            sub_ports=[{"port_id": sub.id, "segmentation_type": "vlan", "segmentation_id": 101}],
        )
        deletes.append(lambda: net.delete_trunk(trunk, ignore_missing=True))
        flavor_id, image_id = boot_flavor_id(conn), boot_image_id(conn)
        made: list[str] = []
        # Runs after both deletes below (newest first): their ports are freed only when gone.
        deletes.append(lambda: _wait_gone(compute, made))
        a = compute.create_server(
            name=f"ccm-{tag}-a",
            flavor_id=flavor_id,
            image_id=image_id,
            networks=[{"port": parent.id}, {"uuid": second.id}],
            availability_zone="az-2",
            access_ipv4=ACCESS_V4,
            access_ipv6=ACCESS_V6,
            metadata={"hostname": HOSTNAME},
        )
        made.append(a.id)
        deletes.append(lambda: compute.delete_server(a.id, ignore_missing=True))
        b = compute.create_server(
            name=f"ccm-{tag}-b",
            flavor_id=flavor_id,
            image_id=image_id,
            networks=[{"uuid": demo_net}],
            availability_zone="az-1",
        )
        made.append(b.id)
        deletes.append(lambda: compute.delete_server(b.id, ignore_missing=True))
        compute.wait_for_server(a, status="ACTIVE", failures=["ERROR"], wait=180)
        compute.wait_for_server(b, status="ACTIVE", failures=["ERROR"], wait=180)
        fip = net.create_ip(floating_network_id=floating_net, port_id=parent.id)
        deletes.append(lambda: net.delete_ip(fip, ignore_missing=True))
        # Neutron tells Nova of the association; Nova's cache shows it a moment later.
        _wait(
            lambda: compute.get_server(a.id).addresses,
            lambda addrs: any(
                e.get("OS-EXT-IPS:type") == "floating" for es in addrs.values() for e in es
            ),
            "floating IP in Nova's addresses",
            180,  # a session fixture: on a loaded machine Nova's cache may lag; all hangs on it
        )
        second_port = next(net.ports(device_id=a.id, network_id=second.id))
        yield World(
            config=cloud_config,
            a_id=a.id,
            a_name=a.name,
            b_id=b.id,
            b_name=b.name,
            second_network=second.name,
            vlan_network=vlan.name,
            a_demo_ip=net.get_port(parent.id).fixed_ips[0]["ip_address"],
            a_second_ip=second_port.fixed_ips[0]["ip_address"],
            b_demo_ip=next(net.ports(device_id=b.id)).fixed_ips[0]["ip_address"],
            subport_ip=net.get_port(sub.id).fixed_ips[0]["ip_address"],
            floating_ip=fip.floating_ip_address,
            flavor_name=compute.get_flavor(flavor_id).name,
        )
    finally:
        for delete in reversed(deletes):
            with contextlib.suppress(Exception):
                delete()


def _wait_gone(compute: Any, server_ids: list[str]) -> None:
    _wait(
        lambda: [i for i in server_ids if compute.find_server(i) is not None],
        lambda left: not left,
        "server deletion",
        120,
    )
