"""OpenStackServer against the real test cloud (Nova fake driver, Neutron, Cinder, Glance):
resolve → persist → ports → boot → state, deletion leaving nothing of the server's and
nothing user-supplied removed, extra volume and local devices, dependency errors as
conditions. (Boot from a root volume and its failure: test_capo_server_bfv_contract; the
kill-point loop over this path runs from the machine: test_capo_machine_contract.)
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator

import pytest
from openstack.connection import Connection

from osk8s_capo import conditions as cond
from osk8s_capo.server import FINALIZER

from .capo_harness import World
from .capo_server_harness import ServerWorld, TestNetwork, private_network, ready

pytestmark = pytest.mark.contract

WRITES = ("port_create", "port_update", "port_delete", "port_tag_add", "server_create",
          "server_delete", "volume_create", "volume_delete")  # fmt: skip


@pytest.fixture(scope="module")
def net(demo: Connection) -> Iterator[TestNetwork]:
    yield from private_network(demo, "capo-srv")


@pytest.fixture
def servers(world: World) -> ServerWorld:
    return ServerWorld(world)


def writes(world: World) -> dict[str, float]:
    return {k: v for k, v in world.api_requests().items() if k in WRITES}


def assert_port_and_trunk_events(
    servers: ServerWorld, name: str, trunk_id: str, port_ids: list[str]
) -> None:
    """CAPO's trunk and port events, on the OpenStackServer (capo.md §2.10)."""
    events = servers.event_reasons(name)
    assert events["SuccessfulCreateTrunk"] == f"Created trunk {name}-0 with id {trunk_id}"
    assert events["SuccessfulDeleteTrunk"] == f"Deleted trunk {name}-0 with id {trunk_id}"
    deleted = {m for _, r, m in servers.world_events(name) if r == "SuccessfulDeletePort"}
    assert deleted == {f"Deleted port with id {p}" for p in port_ids}


def test_server_lifecycle_ports_user_data_and_idle(
    servers: ServerWorld, net: TestNetwork, demo: Connection, admin: Connection
) -> None:
    """Two ports (default with the SG by filter and a trunk, custom with a fixed IP and an
    address pair), user data from the bootstrap Secret, tags, metadata, config drive; an idle
    pass writes nothing; deletion removes the server, the trunk and both ports and keeps the
    network and SG."""
    servers.world.core.create_namespaced_secret(
        servers.namespace,
        {"metadata": {"name": "boot"}, "stringData": {"value": "#cloud-config\nruncmd: []\n"}},
    )
    fixed_ip = net.cidr.replace("0/24", "77")
    obj = servers.create(
        "srv-a",
        {
            "ports": [
                {"network": {"id": net.network_id},
                 "securityGroups": [{"filter": {"name": "default"}}], "trunk": True},
                {"network": {"filter": {"name": net.name}}, "nameSuffix": "data",
                 "fixedIPs": [{"subnet": {"id": net.subnet_id}, "ipAddress": fixed_ip}],
                 "allowedAddressPairs": [{"ipAddress": "192.168.77.0/24"}]},
            ],
            "userDataRef": {"name": "boot"},
            "tags": ["capo-test", "srv-a"],
            "serverMetadata": [{"key": "role", "value": "worker"}],
            "configDrive": True,
        },
    )  # fmt: skip
    assert obj["metadata"]["name"] == "srv-a"
    got = servers.converge("srv-a", ready)
    assert got is not None
    status = got["status"]
    assert FINALIZER in got["metadata"]["finalizers"]
    assert status["instanceState"] == "ACTIVE" and cond.is_true(status, cond.INSTANCE_READY)
    resolved = status["resolved"]
    assert [p["name"] for p in resolved["ports"]] == ["srv-a-0", "srv-a-data"]
    assert resolved["ports"][0]["securityGroups"] == [net.security_group_id]
    assert resolved["ports"][1]["networkID"] == net.network_id
    server = demo.compute.get_server(status["instanceID"])
    assert server.name == "srv-a" and server.status == "ACTIVE"
    assert sorted(server.tags) == ["capo-test", "srv-a"]
    assert server.metadata == {"role": "worker"}
    # Nova keeps what CAPO sends: the Secret's value, base64 (only admins may read it back)
    admin_server = admin.compute.get_server(server.id)
    assert base64.b64decode(admin_server.user_data) == b"#cloud-config\nruncmd: []\n"
    assert admin_server.has_config_drive in (True, "True", "true")
    port_ids = [p["id"] for p in status["resources"]["ports"]]
    ports = {p.id: p for p in demo.network.ports(device_id=server.id)}
    assert sorted(ports) == sorted(port_ids)
    data_port = ports[port_ids[1]]
    assert data_port.name == "srv-a-data"
    assert data_port.fixed_ips[0]["ip_address"] == fixed_ip
    assert data_port.allowed_address_pairs[0]["ip_address"] == "192.168.77.0/24"
    assert set(data_port.tags) >= {"capo-test", "srv-a"}
    trunks = list(demo.network.trunks(port_id=port_ids[0]))
    assert [t.name for t in trunks] == ["srv-a-0"]
    assert list(demo.network.trunks(port_id=port_ids[1])) == []
    addresses = {(a["type"], a["address"]) for a in status["addresses"]}
    assert ("InternalIP", fixed_ip) in addresses and ("InternalDNS", "srv-a") in addresses

    # idle: no OpenStack write and no Kubernetes write
    before, version = writes(servers.world), got["metadata"]["resourceVersion"]
    assert servers.reconciler().reconcile(servers.namespace, "srv-a") is None
    assert writes(servers.world) == before
    again = servers.get("srv-a")
    assert again is not None and again["metadata"]["resourceVersion"] == version

    servers.delete("srv-a")
    assert servers.cloud_objects("srv-a") == {"servers": [], "ports": [], "volumes": []}
    events = servers.event_reasons("srv-a")  # CAPO's recorder reasons, on the OpenStackServer
    assert f"with id {server.id}" in events["SuccessfulCreateServer"]
    assert f"with id {server.id}" in events["SuccessfulDeleteServer"]
    assert events["SuccessfulCreatePort"].startswith("Created port srv-a-")
    assert_port_and_trunk_events(servers, "srv-a", trunks[0].id, port_ids)
    assert list(demo.network.trunks(name="srv-a-0")) == []
    assert demo.network.get_network(net.network_id) is not None
    assert demo.network.get_security_group(net.security_group_id) is not None


@pytest.fixture(scope="module")
def ephemeral_flavor(admin: Connection) -> Iterator[str]:
    """A flavor with an ephemeral disk (Nova refuses local block devices beyond it)."""
    flavor = admin.compute.create_flavor(
        name=f"capo-eph-{uuid.uuid4().hex[:6]}", vcpus=1, ram=256, disk=1, ephemeral=1
    )
    yield str(flavor.name)
    admin.compute.delete_flavor(flavor.id, ignore_missing=True)


def test_server_boots_with_extra_volume_and_local_devices(
    servers: ServerWorld, net: TestNetwork, demo: Connection, ephemeral_flavor: str
) -> None:
    """A Cinder volume ``<server>-data`` made first and attached at boot, a blank local disk;
    both go in Nova's block device mapping; deletion removes the volume too."""
    servers.create(
        "srv-bdm",
        {
            "flavor": ephemeral_flavor,
            "ports": [{"network": {"id": net.network_id}}],
            "additionalBlockDevices": [
                {"name": "data", "sizeGiB": 1, "storage": {"type": "Volume"}},
                {"name": "scratch", "sizeGiB": 1, "storage": {"type": "Local"}},
            ],
        },
    )
    got = servers.converge("srv-bdm", ready)
    assert got is not None
    volumes = [v for v in demo.block_storage.volumes() if (v.name or "").startswith("srv-bdm-")]
    assert [v.name for v in volumes] == ["srv-bdm-data"]
    attached = {a["server_id"] for a in volumes[0].attachments or []}
    assert attached == {got["status"]["instanceID"]}
    servers.delete("srv-bdm")
    assert servers.cloud_objects("srv-bdm") == {"servers": [], "ports": [], "volumes": []}


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"flavor": "no-such-flavor"}, "no-such-flavor"),
        ({"image": {"filter": {"name": "no-such-image"}}}, "no-such-image"),
        ({"image": {"filter": {"name": "capo-twin-image"}}}, "capo-twin-image"),
    ],
    ids=["flavor", "image-none", "image-several"],
)
def test_dependency_errors_are_conditions_and_nothing_is_created(
    servers: ServerWorld,
    net: TestNetwork,
    spec: dict[str, object],
    words: str,
    twin_images: str,
) -> None:
    name = f"srv-bad-{uuid.uuid4().hex[:4]}"
    servers.create(name, {**spec, "ports": [{"network": {"id": net.network_id}}]})
    got = servers.converge(
        name,
        lambda o: bool(o and cond.find(o.get("status"), cond.INSTANCE_READY)),
        rounds=3,
    )
    assert got is not None
    ready_cond = cond.find(got["status"], cond.INSTANCE_READY)
    assert ready_cond is not None
    assert ready_cond["reason"] == "DependencyFailed"
    assert words in ready_cond["message"]
    assert "resolved" not in got["status"]
    assert servers.cloud_objects(name) == {"servers": [], "ports": [], "volumes": []}
    servers.delete(name, rounds=3)


@pytest.fixture(scope="module")
def twin_images(demo: Connection) -> Iterator[str]:
    """Two Glance images of one name: an image filter matching both must not pick one."""
    made = [
        demo.image.create_image(name="capo-twin-image", disk_format="raw",
                                container_format="bare", data=b"x")
        for _ in range(2)
    ]  # fmt: skip
    yield "capo-twin-image"
    for image in made:
        demo.image.delete_image(image.id, ignore_missing=True)


def test_duplicate_server_names_are_a_condition_and_no_third_boot(
    servers: ServerWorld, net: TestNetwork, demo: Connection
) -> None:
    """CAPO's ``DuplicateServerNames``: two Nova servers already carry the exact name; neither
    is adopted, none is booted, the condition and a Warning event say why."""
    name = f"srv-dup-{uuid.uuid4().hex[:4]}"
    flavor = demo.compute.find_flavor("osk8s.small", ignore_missing=False)
    image = demo.image.find_image("osk8s-fake-image", ignore_missing=False)
    twins = [
        demo.compute.create_server(name=name, flavor_id=flavor.id, image_id=image.id,
                                   networks=[{"uuid": net.network_id}])
        for _ in range(2)
    ]  # fmt: skip
    try:
        servers.create(name, {"ports": [{"network": {"id": net.network_id}}]})
        got = servers.converge(
            name,
            lambda o: "DuplicateServerNames" in servers.event_reasons(name),
            rounds=3,
        )
        assert got is not None
        ready_cond = cond.find(got["status"], cond.INSTANCE_READY)
        assert ready_cond is not None and ready_cond["reason"] == "InstanceCreateFailed"
        assert "delete the extra server" in ready_cond["message"]
        assert "instanceID" not in got["status"]
        assert sorted(servers.cloud_objects(name)["servers"]) == sorted(t.id for t in twins)
        assert name in servers.event_reasons(name)["DuplicateServerNames"]
    finally:
        for twin in twins:
            demo.compute.delete_server(twin.id, ignore_missing=True)
    servers.delete(name)
    assert servers.cloud_objects(name)["ports"] == []
