"""Fixtures of the cinder CSI tests: the driver over gRPC on the fake cloud or the test cloud.

``driver`` is parametrised: ``fake`` (in-memory cloud, always runs) and ``testcloud`` (the
real Cinder of ``osk8s-testcloud``, marked contract, skipped with the reason when it is down).
Either way one server process serves Identity, Controller and Node on one endpoint (a CO's
clean-up calls node RPCs there too). On ``testcloud`` as root the node side is the real host
path (``SystemMounter``, loop devices standing in for the attached disks, ``LoopHost``);
otherwise, and always on ``fake``, it is the recording ``FakeMounter``.
Attach needs Nova: when the test cloud runs it (``osk8s-testcloud up all``) a session-wide server
is booted and used as the node; otherwise the attach tests skip on the test cloud.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog
from prometheus_client import CollectorRegistry

from osk8s_cinder_csi.mounter import SystemMounter
from osk8s_cinder_csi.openstack_cloud import CloudWaits, OpenStackCinderCloud
from osk8s_core import __version__
from osk8s_core.credentials import ClientSettings, ConnectionFactory
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import WaitPolicy
from osk8s_testing.cloudgate import cloud_unavailable
from osk8s_testing.testcloud.boot import boot_flavor_id, boot_image_id
from osk8s_testing.testcloud.layout import Layout, resolve_dir

from .cinder_harness import NODE_ID, Driver, FakeMetadata, start
from .fake_cinder_cloud import FakeCinderCloud
from .loop_devices import LoopHost


@dataclass
class Target:
    """What a conformance test runs against."""

    driver: Driver
    kind: str
    """``fake`` or ``testcloud``."""
    fake: FakeCinderCloud | None
    can_attach: bool
    host: LoopHost | None = None
    """Set when the node side runs on the real host (root): loop devices, real mounts."""


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def cloud_conf_or_skip() -> Path:
    """The running test cloud's cloud.conf, or pytest.skip with the reason."""
    layout = Layout(resolve_dir(None, os.environ))
    if not layout.cloud_conf.exists():
        cloud_unavailable(f"OpenStack test cloud not set up: no {layout.cloud_conf}")
    if not (_port_open(5000) and _port_open(8776)):
        cloud_unavailable("OpenStack test cloud: Keystone (5000) or Cinder (8776) does not answer")
    return layout.cloud_conf


def connection_factory_for(conf: Path | None = None, *, timeout: float = 60.0) -> ConnectionFactory:
    """A connection factory on ``conf`` (default: the test cloud's cloud.conf)."""
    settings = ClientSettings(component="cinder-csi-plugin", version=__version__, timeout=timeout)
    return ConnectionFactory([conf or cloud_conf_or_skip()], settings=settings)


def fast_waits() -> CloudWaits:
    """Poll the test cloud every 0.2 s (its fake backends act within a second or two)."""
    waiter = Waiter(policy=WaitPolicy(timeout=60, interval=0.2, factor=1.2, max_interval=1.0))
    return CloudWaits(
        volume=waiter, attach=waiter, detach=waiter, snapshot=waiter, delete=waiter, backup_poll=1
    )


def real_cloud(
    factory: ConnectionFactory, registry: CollectorRegistry, log_name: str = "test.openstack"
) -> OpenStackCinderCloud:
    return OpenStackCinderCloud(
        connect=factory.get,
        metrics=ApiMetrics(registry),
        logger=structlog.get_logger(log_name),
        waits=fast_waits(),
    )


@pytest.fixture(params=["fake", pytest.param("testcloud", marks=pytest.mark.contract)])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "fake":
        fake = FakeCinderCloud(servers={NODE_ID})
        with start({"": fake}) as driver:

            def plug(server: str, volume: str) -> None:
                driver.plug(volume)

            fake.on_attach = plug
            yield Target(driver=driver, kind="fake", fake=fake, can_attach=True)
        return
    factory = connection_factory_for()
    registry = CollectorRegistry()
    server_id = request.getfixturevalue("nova_server_id")
    metadata = FakeMetadata(uuid=server_id) if server_id else None
    host = LoopHost() if os.geteuid() == 0 else None
    try:
        with start(
            {"": real_cloud(factory, registry)},
            metadata=metadata,
            mounter=SystemMounter() if host is not None else None,
            base=host.base if host is not None else None,
        ) as driver:
            yield Target(
                driver=driver,
                kind="testcloud",
                fake=None,
                can_attach=bool(server_id),
                host=host,
            )
    finally:
        factory.close()
        if host is not None:
            problems = host.close()
            assert problems == [], problems


@pytest.fixture(scope="session")
def nova_server_id() -> Iterator[str | None]:
    """A server booted on the test cloud's demo network, the "node" that volumes attach to;
    None when the test cloud runs no Nova (the fast set)."""
    from osk8s_core.config import load_cloud_config
    from osk8s_core.logging import get_logger
    from osk8s_core.openstack.client import OpenStackClient
    from osk8s_core.openstack.servers import Servers

    conf = cloud_conf_or_skip()
    factory = connection_factory_for(conf)
    conn = factory.get()
    try:
        if "compute" not in {entry["type"] for entry in conn.service_catalog}:
            yield None
            return
        network_id = load_cloud_config([conf]).config.load_balancer.network_id
        flavor_id, image_id = boot_flavor_id(conn), boot_image_id(conn)
        server = conn.compute.create_server(
            name=f"csi-node-{os.getpid()}",
            flavor_id=flavor_id,
            image_id=image_id,
            networks=[{"uuid": network_id}],
        )
        client = OpenStackClient(
            conn, metrics=ApiMetrics(CollectorRegistry()), logger=get_logger("test.nova")
        )
        try:
            Servers(client).wait_active(server.id)
            yield str(server.id)
        finally:
            conn.compute.delete_server(server.id, ignore_missing=True)
    finally:
        factory.close()
