"""The test cloud's Cinder makes volumes from Glance images, and Nova boots from them.

Its fake backend stores no data, so the image "copy" is a no-op in the driver
(``plugins/cinder_fake.py``); everything around it is Cinder's and Nova's real flow: the
Glance lookup, ``bootable``, ``volume_image_metadata``, Nova creating the root volume from an
image (``source_type=image, destination_type=volume``), attaching it through Cinder's
connection info, and deleting it with the server (``delete_on_termination``). If a change to
the test cloud breaks this, these fail with the volume's or server's state, before the
boot-from-volume tests of the services do.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openstack import exceptions
from openstack.connection import Connection

from osk8s_testing.testcloud.boot import BOOT_IMAGE, create_copy_failing_image

from .conftest import TestCloud
from .polling import wait_for

pytestmark = pytest.mark.contract


@pytest.fixture
def boot_image(testcloud: TestCloud) -> dict[str, str]:
    if "nova" not in testcloud.state:
        pytest.fail("test cloud runs no Glance/Nova (`osk8s-testcloud up all`)")
    nova: dict[str, str] = testcloud.state["nova"]
    return nova


@pytest.fixture
def failing_image(demo_conn: Connection, name: str) -> Iterator[Any]:
    image = create_copy_failing_image(demo_conn, f"{name}-fails")
    yield image
    images: Any = demo_conn.image
    images.delete_image(image, ignore_missing=True)


def test_volume_from_image_is_available_and_bootable(
    demo_conn: Connection, boot_image: dict[str, str], name: str
) -> None:
    bs: Any = demo_conn.block_storage
    volume = bs.create_volume(name=name, size=1, image_id=boot_image["image_id"])
    try:
        volume = bs.wait_for_status(
            volume, status="available", failures=["error"], interval=0.5, wait=60
        )
        assert volume.is_bootable is True
        meta = volume.volume_image_metadata
        assert meta["image_id"] == boot_image["image_id"]
        assert meta["image_name"] == BOOT_IMAGE
        assert meta["disk_format"] == "raw" and meta["container_format"] == "bare"
        assert volume.size == 1
    finally:
        bs.delete_volume(volume, ignore_missing=True)
    bs.wait_for_delete(volume, interval=0.5, wait=60)


def test_image_marked_to_fail_gives_a_volume_in_error(
    demo_conn: Connection, failing_image: Any, name: str
) -> None:
    """The failure path stays reachable: the copy fails, the volume ends in ``error``."""
    bs: Any = demo_conn.block_storage
    volume = bs.create_volume(name=name, size=1, image_id=failing_image.id)
    try:
        volume = wait_for(
            lambda: bs.get_volume(volume.id),
            lambda v: v.status in ("error", "available"),
            wait=60,
        )
        assert volume.status == "error"
        assert volume.is_bootable is False
    finally:
        bs.delete_volume(volume, ignore_missing=True)
    bs.wait_for_delete(volume, interval=0.5, wait=60)


def test_nova_boots_from_a_volume_it_makes_from_the_image(
    demo_conn: Connection,
    admin_conn: Connection,
    testcloud: TestCloud,
    boot_image: dict[str, str],
    name: str,
) -> None:
    """``source_type=image, destination_type=volume``: Nova asks Cinder for the volume,
    attaches it as the root disk (Cinder's connection info from the fake driver), the server
    goes ACTIVE, and deleting the server deletes the volume (``delete_on_termination``)."""
    compute: Any = demo_conn.compute
    bs: Any = demo_conn.block_storage
    server = compute.create_server(
        name=name,
        flavor_id=boot_image["flavor_id"],
        networks=[{"uuid": testcloud.network["network_id"]}],
        block_device_mapping_v2=[
            {
                "uuid": boot_image["image_id"],
                "source_type": "image",
                "destination_type": "volume",
                "volume_size": 1,
                "boot_index": 0,
                "delete_on_termination": True,
            }
        ],
    )
    root_volume_id = ""
    try:
        server = compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], wait=180)
        assert not server.image or not server.image.get("id")  # booted from the volume
        (attached,) = server.attached_volumes
        assert attached["delete_on_termination"] is True
        root_volume_id = attached["id"]
        volume = bs.get_volume(attached["id"])
        assert volume.status == "in-use" and volume.is_bootable is True
        assert volume.volume_image_metadata["image_id"] == boot_image["image_id"]
        (attachment,) = volume.attachments
        assert attachment["server_id"] == server.id
        # Cinder's attachment record carries the fake driver's connection info (what Nova used)
        record = bs.get_attachment(attachment["attachment_id"])
        assert record.instance == server.id and record.status == "attached"
        assert record.connection_info["driver_volume_type"] == "iscsi"
        root_device = admin_conn.compute.get_server(server.id).root_device_name
        assert root_device and attachment["device"] == root_device
    finally:
        compute.delete_server(server, ignore_missing=True)
        compute.wait_for_delete(server, wait=120)
    gone = wait_for(lambda: _volume_or_none(bs, root_volume_id), lambda v: v is None, wait=60)
    assert gone is None, f"Nova left the root volume: {gone.status if gone else ''}"


def _volume_or_none(bs: Any, volume_id: str) -> Any:
    try:
        return bs.get_volume(volume_id)
    except exceptions.NotFoundException:
        return None
