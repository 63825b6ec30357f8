"""Fault-proxy tests against the test cloud: 5xx, 429 and timeouts during create and delete
converge without duplicate volumes. (Attach/detach faults need Nova: not in this set yet.)

Keystone and Cinder are fronted by a fleet of fault proxies with catalog rewriting, so the
driver follows the catalog through the proxies; the driver runs over its real gRPC socket.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from prometheus_client import CollectorRegistry

from osk8s_cinder_csi.openstack_cloud import OpenStackCinderCloud
from osk8s_core import __version__
from osk8s_core.credentials import ClientSettings, ConnectionFactory
from osk8s_core.proto.csi import csi_pb2
from osk8s_testing.faultproxy.rules import Hang, error, rate_limited
from osk8s_testing.faultproxy.server import FaultProxy

from .cinder_harness import Driver, start
from .conftest import cloud_conf_or_skip, connection_factory_for, real_cloud
from .csi_helpers import create_req

pytestmark = pytest.mark.contract


@dataclass
class Faulty:
    driver: Driver
    cinder: FaultProxy
    keystone: FaultProxy
    admin_view: OpenStackCinderCloud
    """A direct (unproxied) view of the same project, to count what really exists."""


@pytest.fixture
def faulty(fault_proxy: object, tmp_path: Path) -> Iterator[Faulty]:
    original = cloud_conf_or_skip()  # skips when the test cloud is down
    direct = connection_factory_for(original)
    fleet = fault_proxy.fleet(  # type: ignore[attr-defined]
        {"keystone": "http://127.0.0.1:5000", "cinder": "http://127.0.0.1:8776"}
    )
    conf_text = Path(direct._paths[0]).read_text()
    conf = tmp_path / "cloud.conf"
    conf.write_text(conf_text.replace("http://127.0.0.1:5000", fleet["keystone"].url))
    settings = ClientSettings(component="cinder-csi-plugin", version=__version__, timeout=3.0)
    proxied = ConnectionFactory([conf], settings=settings)
    cloud = real_cloud(proxied, CollectorRegistry(), "test.faults")
    view = real_cloud(direct, CollectorRegistry(), "test.faults.direct")
    try:
        with start({"": cloud}, with_node=False) as driver:
            yield Faulty(driver, fleet["cinder"], fleet["keystone"], view)
    finally:
        proxied.close()
        direct.close()


def _name() -> str:
    return f"osk8s-fault-{uuid.uuid4().hex[:8]}"


def _delete_all(f: Faulty, name: str) -> None:
    for volume in f.admin_view.find_volumes(name):
        f.admin_view.delete_volume(volume.id)


def test_create_converges_after_5xx_on_post(faulty: Faulty) -> None:
    name = _name()
    faulty.cinder.inject(error(503), method="POST", path=r"/volumes$", first=1)
    try:
        with pytest.raises(grpc.RpcError):
            faulty.driver.controller.CreateVolume(create_req(name))  # outcome unknown: fails
        volume = faulty.driver.controller.CreateVolume(create_req(name)).volume  # sidecar retry
        found = faulty.admin_view.find_volumes(name)
        assert [v.id for v in found] == [volume.volume_id]
    finally:
        _delete_all(faulty, name)


def test_create_survives_5xx_and_429_on_reads(faulty: Faulty) -> None:
    name = _name()
    faulty.cinder.inject(error(500), method="GET", path=r"/volumes/detail", first=1)
    faulty.cinder.inject(rate_limited(1), method="GET", path=r"/volumes/[0-9a-f-]{36}$", first=1)
    try:
        volume = faulty.driver.controller.CreateVolume(create_req(name)).volume
        assert [v.id for v in faulty.admin_view.find_volumes(name)] == [volume.volume_id]
        assert faulty.cinder.calls.count("POST", r"/volumes$") == 1
    finally:
        _delete_all(faulty, name)


def test_create_converges_after_timeout(faulty: Faulty) -> None:
    name = _name()
    faulty.cinder.inject(Hang(4.0), method="POST", path=r"/volumes$", first=1)
    try:
        with pytest.raises(grpc.RpcError):
            faulty.driver.controller.CreateVolume(create_req(name))
        volume = faulty.driver.controller.CreateVolume(create_req(name)).volume
        assert [v.id for v in faulty.admin_view.find_volumes(name)] == [volume.volume_id]
    finally:
        _delete_all(faulty, name)


def test_delete_retries_5xx_and_is_idempotent(faulty: Faulty) -> None:
    name = _name()
    volume = faulty.driver.controller.CreateVolume(create_req(name)).volume
    faulty.cinder.inject(error(503), method="DELETE", path=r"/volumes/", first=1)
    request = csi_pb2.DeleteVolumeRequest(volume_id=volume.volume_id)
    faulty.driver.controller.DeleteVolume(request)
    faulty.driver.controller.DeleteVolume(request)
    assert faulty.cinder.calls.count("DELETE", r"/volumes/") == 2  # one fault, one real
    remaining = faulty.admin_view.find_volumes(name)
    assert all(v.status == "deleting" for v in remaining)
