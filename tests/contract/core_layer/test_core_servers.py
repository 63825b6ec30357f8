"""Nova through the core layer: server lookups, its ports, and volume attach/detach via
``os-volume_attachments``. Skipped unless the test cloud runs Nova (``up all``)."""

from __future__ import annotations

import time

import pytest

from osk8s_core.openstack.servers import Servers
from osk8s_core.openstack.volumes import Volumes, VolumeSpec
from osk8s_testing.testcloud.boot import boot_flavor_id, boot_image_id

from ..conftest import TestCloud
from .conftest import Cleanup, Core, require_service

pytestmark = pytest.mark.contract


def test_server_lookup_ports_and_volume_attachment(
    core: Core, testcloud: TestCloud, cleanup: Cleanup, name: str
) -> None:
    require_service(core.conn, "compute")
    compute = core.conn.compute
    server = compute.create_server(
        name=name,
        flavor_id=boot_flavor_id(core.conn),
        image_id=boot_image_id(core.conn),
        networks=[{"uuid": testcloud.network["network_id"]}],
    )
    servers = Servers(core.client, waiter=core.waiter)
    cleanup.add(lambda: compute.delete_server(server.id, ignore_missing=True))
    assert servers.wait_active(server.id).status == "ACTIVE"
    found = servers.find_by_name(name)
    assert found is not None and found.id == server.id
    assert servers.find_by_name(name[:-1]) is None  # Nova's regex filter is anchored
    ports = servers.ports(server.id)
    assert [p.network_id for p in ports] == [testcloud.network["network_id"]]

    volumes = Volumes(core.client, waiter=core.waiter)
    volume = volumes.create(VolumeSpec(name=name, size_gb=1))
    cleanup.add(lambda: volumes.delete(volume.id, wait=True))
    attachment = servers.attach_volume(server.id, volume.id)
    assert servers.attach_volume(server.id, volume.id).id == attachment.id
    assert core.requests("volume_attach") == 1
    # Nova attaches asynchronously and the volume may still read "available" right after the
    # request: wait for "in-use" itself (wait_available would accept "available" at once).
    attached = core.waiter.until(
        lambda: volumes.get(volume.id), target="in-use", describe=f"attach of {volume.id}"
    )
    assert attached.status == "in-use"

    servers.detach_volume(server.id, volume.id)
    core.waiter.until(
        lambda: volumes.get(volume.id), target="available", describe=f"detach of {volume.id}"
    )
    servers.detach_volume(server.id, volume.id)  # not attached any more: success
    # Nova drops its own attachment record a moment after Cinder reports the detach.
    deadline = time.monotonic() + 60
    while servers.attachment_of(server.id, volume.id) is not None:
        assert time.monotonic() < deadline, "Nova still lists the attachment after 60 s"
        time.sleep(0.5)
