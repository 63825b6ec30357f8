"""Fault-proxy tests against the test cloud: 5xx, 429 and timeouts during create and delete
converge without duplicate volumes; during attach (publish) and detach (unpublish) through
Nova's ``os-volume_attachments`` they converge to exactly one attachment, or none left.

Keystone, Cinder and Nova are fronted by a fleet of fault proxies with catalog rewriting, so the
driver follows the catalog through the proxies; the driver runs over its real gRPC socket.
The attach tests use the session's Nova server as the node and skip when Nova is absent.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from prometheus_client import CollectorRegistry

from osk8s_cinder_csi.openstack_cloud import OpenStackCinderCloud
from osk8s_core import __version__
from osk8s_core.credentials import ClientSettings, ConnectionFactory
from osk8s_core.proto.csi import csi_pb2
from osk8s_testing.csi.fakes import converge
from osk8s_testing.csi.requests import cap, create_req
from osk8s_testing.faultproxy.rules import Fault, Hang, error, rate_limited
from osk8s_testing.faultproxy.server import FaultProxy

from .cinder_harness import Driver, start
from .conftest import cloud_conf_or_skip, connection_factory_for, real_cloud

pytestmark = pytest.mark.contract

# Every proxied call, Nova's attach (a synchronous RPC to nova-compute) and Keystone's password
# auth included, must answer within the client timeout on a loaded CI machine; only the held
# one may not (the timeout cases hold it longer than that).
CLIENT_TIMEOUT = 8.0
HANG = Hang(CLIENT_TIMEOUT + 4)


@dataclass
class Faulty:
    driver: Driver
    cinder: FaultProxy
    keystone: FaultProxy
    nova: FaultProxy
    admin_view: OpenStackCinderCloud
    """A direct (unproxied) view of the same project, to count what really exists."""
    direct: ConnectionFactory
    """Unproxied connections, to list Nova's own attachment records."""


@pytest.fixture
def faulty(fault_proxy: object, tmp_path: Path) -> Iterator[Faulty]:
    original = cloud_conf_or_skip()  # skips when the test cloud is down
    direct = connection_factory_for(original)
    fleet = fault_proxy.fleet(  # type: ignore[attr-defined]
        {
            "keystone": "http://127.0.0.1:5000",
            "cinder": "http://127.0.0.1:8776",
            "nova": "http://127.0.0.1:8774",  # unused (no traffic) when Nova is not running
        }
    )
    conf_text = Path(direct._paths[0]).read_text()
    conf = tmp_path / "cloud.conf"
    conf.write_text(conf_text.replace("http://127.0.0.1:5000", fleet["keystone"].url))
    settings = ClientSettings(
        component="cinder-csi-plugin", version=__version__, timeout=CLIENT_TIMEOUT
    )
    proxied = ConnectionFactory([conf], settings=settings)
    cloud = real_cloud(proxied, CollectorRegistry(), "test.faults")
    view = real_cloud(direct, CollectorRegistry(), "test.faults.direct")
    try:
        with start({"": cloud}, with_node=False) as driver:
            yield Faulty(driver, fleet["cinder"], fleet["keystone"], fleet["nova"], view, direct)
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
    faulty.cinder.inject(HANG, method="POST", path=r"/volumes$", first=1)
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


# attach / detach (Nova) ----------------------------------------------------------------------

_ATTACHMENTS = r"/servers/[0-9a-f-]{36}/os-volume_attachments"


@pytest.fixture
def node(nova_server_id: str | None) -> str:
    if nova_server_id is None:
        pytest.skip("attach faults need Nova and a server: the test cloud runs no Nova")
    return nova_server_id


def _nova_attachments(f: Faulty, server_id: str, volume_id: str) -> list[str]:
    """Nova's attachment records of the volume on the server (ids), read around the proxy."""
    compute = f.direct.get().compute
    return [str(a.id) for a in compute.volume_attachments(server_id) if a.volume_id == volume_id]


def _eventually_no_nova_attachment(f: Faulty, server_id: str, volume_id: str) -> list[str]:
    # Nova drops its record a moment after Cinder shows the volume detached (what the driver
    # waits on), so poll briefly rather than read once.
    deadline = time.monotonic() + 10
    while (left := _nova_attachments(f, server_id, volume_id)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def _attached_volume(f: Faulty, node: str) -> tuple[str, Callable[[], None]]:
    """A new volume and the cleanup that detaches (directly) and deletes it."""
    volume_id = f.driver.controller.CreateVolume(create_req(_name())).volume.volume_id

    def cleanup() -> None:
        if node in f.admin_view.get_volume(volume_id).attached_servers:
            f.admin_view.detach(node, volume_id)
        f.admin_view.delete_volume(volume_id)

    return volume_id, cleanup


def _publish(f: Faulty, volume_id: str, node: str) -> Callable[[], object]:
    request = csi_pb2.ControllerPublishVolumeRequest(
        volume_id=volume_id, node_id=node, volume_capability=cap()
    )
    return lambda: f.driver.controller.ControllerPublishVolume(request)


def _unpublish(f: Faulty, volume_id: str, node: str) -> Callable[[], object]:
    request = csi_pb2.ControllerUnpublishVolumeRequest(volume_id=volume_id, node_id=node)
    return lambda: f.driver.controller.ControllerUnpublishVolume(request)


def _assert_attached_once(f: Faulty, volume_id: str, node: str) -> None:
    assert f.admin_view.get_volume(volume_id).attached_servers == (node,)
    assert len(_nova_attachments(f, node, volume_id)) == 1


@pytest.mark.parametrize(
    ("fault", "failures"),
    [
        pytest.param(error(503), 1, id="503"),  # outcome unknown: attach is not repeated inline
        pytest.param(rate_limited(1), 0, id="429"),  # refused before acting: retried inline
        pytest.param(HANG, 1, id="timeout"),
    ],
)
def test_publish_converges_to_one_attachment(
    faulty: Faulty, node: str, fault: Fault, failures: int
) -> None:
    volume_id, cleanup = _attached_volume(faulty, node)
    faulty.nova.inject(fault, method="POST", path=_ATTACHMENTS + "$", first=1)
    try:
        assert converge(_publish(faulty, volume_id, node)) == failures
        _assert_attached_once(faulty, volume_id, node)
        assert faulty.nova.calls.count("POST", _ATTACHMENTS) == 2  # one fault, one real
        _publish(faulty, volume_id, node)()  # and once more: still one attachment
        _assert_attached_once(faulty, volume_id, node)
        assert faulty.nova.calls.count("POST", _ATTACHMENTS) == 2
    finally:
        cleanup()


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(error(503), id="503"),
        pytest.param(rate_limited(1), id="429"),
        pytest.param(HANG, id="timeout"),
    ],
)
def test_unpublish_leaves_no_attachment(faulty: Faulty, node: str, fault: Fault) -> None:
    volume_id, cleanup = _attached_volume(faulty, node)
    try:
        _publish(faulty, volume_id, node)()
        faulty.nova.inject(fault, method="DELETE", path=_ATTACHMENTS + "/", first=1)
        # A detach is idempotent, so the client repeats it inline: the RPC itself succeeds.
        assert converge(_unpublish(faulty, volume_id, node)) == 0
        assert faulty.nova.calls.count("DELETE", _ATTACHMENTS) == 2  # one fault, one real
        assert faulty.admin_view.get_volume(volume_id).attached_servers == ()
        assert _eventually_no_nova_attachment(faulty, node, volume_id) == []
        _unpublish(faulty, volume_id, node)()  # and once more: nothing to do, success
    finally:
        cleanup()
