"""OpenStackServer booting from a root volume against the real test cloud (capo.md §1.5
``rootVolume``, §2.7): CAPO makes ``<server>-root`` from the image in Cinder (size, type, AZ
from the spec), boots Nova from it (``source_type=volume``, boot index 0,
``delete_on_termination``), and on delete nothing of the server's is left: Nova deletes the
root volume with the server, CAPO deletes what remains by name. A volume whose image copy fails
is ``InstanceCreateFailed`` with Cinder's outcome and is still removed on delete.

The test cloud's fake Cinder backend "clones" images without data (testcloud
``plugins/cinder_fake.py``; tests/contract/test_testcloud_cinder_images.py pins that).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from openstack.connection import Connection

from osk8s_capo import conditions as cond
from osk8s_capo.server import DESCRIPTION
from osk8s_testing.testcloud.boot import create_copy_failing_image

from .capo_harness import World
from .capo_server_harness import IMAGE, ServerWorld, TestNetwork, private_network, ready

pytestmark = pytest.mark.contract

CINDER_ZONE = "nova"  # the test cloud's one Cinder availability zone (Nova's are az-1, az-2)
NOVA_ZONE = "az-1"


@pytest.fixture(scope="module")
def net(demo: Connection) -> Iterator[TestNetwork]:
    yield from private_network(demo, "capo-bfv")


@pytest.fixture(scope="module")
def volume_type(admin: Connection) -> Iterator[str]:
    """A volume type of this module (no extra specs: the fake backend takes it)."""
    bs: Any = admin.block_storage
    made = bs.create_type(name=f"capo-bfv-{uuid.uuid4().hex[:6]}")
    yield str(made.name)
    bs.delete_type(made.id, ignore_missing=True)


@pytest.fixture
def servers(world: World) -> ServerWorld:
    return ServerWorld(world)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_root_volume_boot_is_active_bootable_and_leaves_nothing(
    servers: ServerWorld, net: TestNetwork, demo: Connection, admin: Connection, volume_type: str
) -> None:
    name = _name("bfv")
    servers.create(
        name,
        {
            "ports": [{"network": {"id": net.network_id}}],
            "availabilityZone": NOVA_ZONE,
            "rootVolume": {
                "sizeGiB": 2,
                "type": volume_type,
                "availabilityZone": {"from": "Name", "name": CINDER_ZONE},
            },
        },
    )
    got = servers.converge(name, ready)
    assert got is not None
    status = got["status"]
    assert status["instanceState"] == "ACTIVE" and cond.is_true(status, cond.INSTANCE_READY)
    image_id = status["resolved"]["imageID"]
    server = admin.compute.get_server(status["instanceID"])
    assert server.status == "ACTIVE" and server.availability_zone == NOVA_ZONE
    assert not server.image or not server.image.get("id")  # booted from the volume, not the image

    # the root volume: made by CAPO from the image, with the spec's size, type and AZ
    (volume,) = [v for v in demo.block_storage.volumes() if v.name == f"{name}-root"]
    assert volume.size == 2 and volume.volume_type == volume_type
    assert volume.availability_zone == CINDER_ZONE
    assert volume.description == DESCRIPTION
    assert volume.is_bootable is True and volume.status == "in-use"
    assert volume.volume_image_metadata["image_id"] == image_id
    assert volume.volume_image_metadata["image_name"] == IMAGE
    # attached as the server's root disk; Nova deletes it with the server
    (attachment,) = volume.attachments
    assert attachment["server_id"] == server.id
    assert server.root_device_name and attachment["device"] == server.root_device_name
    # the first disk: vda under libvirt/virtio; Nova's fake driver names disks sd*
    assert attachment["device"] in ("/dev/vda", "/dev/sda")
    (attached,) = server.attached_volumes
    assert attached["id"] == volume.id and attached["delete_on_termination"] is True
    # no other volume of this server's names (Nova made none from the image itself)
    assert servers.cloud_objects(name)["volumes"] == [volume.id]

    servers.delete(name)
    assert servers.cloud_objects(name) == {"servers": [], "ports": [], "volumes": []}
    assert [v.id for v in demo.block_storage.volumes() if v.id == volume.id] == []


@pytest.fixture
def failing_image(demo: Connection) -> Iterator[str]:
    """An image of the session's project whose copy into a volume fails in the test cloud."""
    image = create_copy_failing_image(demo, _name("capo-bfv-fails"))
    yield str(image.name)
    images: Any = demo.image
    images.delete_image(image, ignore_missing=True)


def test_root_volume_failure_is_a_condition_and_leaves_nothing(
    servers: ServerWorld, net: TestNetwork, failing_image: str
) -> None:
    """``<server>-root`` goes to ``error`` (the image's copy fails): that is
    InstanceCreateFailed with Cinder's outcome, no server is booted, and deletion still
    removes the volume and the port."""
    name = _name("bfv-err")
    servers.create(
        name,
        {
            "ports": [{"network": {"id": net.network_id}}],
            "image": {"filter": {"name": failing_image}},
            "rootVolume": {"sizeGiB": 1},
        },
    )
    got = servers.converge(
        name,
        lambda o: bool(o and (o.get("status") or {}).get("instanceState") == "ERROR"),
        rounds=5,
    )
    assert got is not None
    failed = cond.find(got["status"], cond.INSTANCE_READY)
    assert failed is not None and failed["reason"] == "InstanceCreateFailed"
    assert "status error" in failed["message"]
    found = servers.cloud_objects(name)
    assert found["servers"] == [] and len(found["volumes"]) == 1
    servers.delete(name)
    assert servers.cloud_objects(name) == {"servers": [], "ports": [], "volumes": []}
