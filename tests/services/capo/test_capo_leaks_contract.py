"""The ``leaks`` report (osk8s, beyond CAPO) against the real test cloud and the in-memory API
server serving CAPO's CRDs.

Cheap by design: no reconciler runs. The cloud objects a cluster and one machine would own are
made by hand with CAPO's names (capo.md §2.11), one server booted from the test cloud's own
flavor and image; the live OpenStackCluster / OpenStackServer / OpenStackMachine objects carry
the status IDs a controller would have written. Then the objects go away one by one and the
report must follow. Every check is scoped to this module's unique cluster (tests of other files
run in parallel on the same cloud); user objects next to them are never reported.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from osk8s_capo import leaks, naming
from osk8s_capo.kube import OPENSTACK_CLUSTER, OPENSTACK_MACHINE, OPENSTACK_SERVER
from osk8s_testing.kubeapi.server import KubeApiServer
from osk8s_testing.testcloud.boot import boot_flavor_id, boot_image_id

from .capo_harness import World

pytestmark = pytest.mark.contract

CLUSTER = "lk"
MACHINE = "lk-md-0-a"
IDENTITY = {"name": "cloud-config", "cloudName": "openstack"}
DEVICES = [{"name": "data", "sizeGiB": 1, "storage": {"type": "Volume"}}]


@dataclass
class Scene:
    world: World
    clouds: Path
    kubeconfig: Path
    crn: str
    ids: dict[str, str] = field(default_factory=dict)
    """What carries the cluster's naming, by role (network, port, server ...)."""
    user_ids: set[str] = field(default_factory=set)
    """Objects without the cluster's naming, next to the cluster's (never reported)."""
    seen: list[leaks.Leak] = field(default_factory=list)
    """The last report's leaks of this cluster (for failure messages)."""

    def report(self) -> list[leaks.Leak]:
        kube = self.world.kube
        client = _client(self.world)
        return leaks.find_leaks(leaks.take_inventory(client), leaks.live_objects(kube))

    def ours(self, found: list[leaks.Leak]) -> dict[str, str]:
        """kind → id of the leaks of this module's cluster; user objects never appear."""
        assert not self.user_ids & {leak.id for leak in found}, "a user object was reported"
        mine = [leak for leak in found if leak.cluster == self.crn]
        assert len({leak.id for leak in mine}) == len(mine), mine
        self.seen = mine
        return {leak.kind: leak.id for leak in mine}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The real entry point, ``capo-controller-manager leaks``."""
        binary = Path(sys.executable).with_name("capo-controller-manager")
        return subprocess.run(
            [str(binary), "leaks", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "KUBECONFIG": ""},
        )


def _client(world: World) -> Any:
    from prometheus_client import CollectorRegistry

    from osk8s_core.logging import get_logger
    from osk8s_core.metrics import ApiMetrics
    from osk8s_core.openstack.client import OpenStackClient

    return OpenStackClient(
        world.demo, metrics=ApiMetrics(CollectorRegistry()), logger=get_logger("leaks-test")
    )


def _external_network(demo: Connection) -> str:
    nets = sorted(demo.network.networks(is_router_external=True), key=lambda n: n.name)
    assert nets, "the test cloud has an external network"
    return str(nets[0].id)


def _make_cloud(scene: Scene, demo: Connection, undo: list[Callable[[], Any]]) -> None:
    ns, ids = scene.world.namespace, scene.ids
    net = demo.network.create_network(name=naming.network_name(ns, CLUSTER))
    undo.append(lambda: demo.network.delete_network(net.id))
    subnet = demo.network.create_subnet(
        network_id=net.id, name=naming.subnet_name(ns, CLUSTER), cidr="10.77.0.0/24", ip_version=4
    )
    lb = demo.load_balancer.create_load_balancer(
        name=naming.load_balancer_name(ns, CLUSTER), vip_subnet_id=subnet.id
    )

    def delete_lb() -> None:
        demo.load_balancer.wait_for_load_balancer(lb.id, status="ACTIVE", wait=120)
        demo.load_balancer.delete_load_balancer(lb.id, cascade=True)
        demo.load_balancer.wait_for_delete(lb, wait=120)

    undo.append(delete_lb)
    router = demo.network.create_router(name=naming.router_name(ns, CLUSTER))
    undo.append(lambda: demo.network.delete_router(router.id))
    group = demo.network.create_security_group(
        name=naming.security_group_name(ns, CLUSTER, "worker")
    )
    undo.append(lambda: demo.network.delete_security_group(group.id))
    fip = demo.network.create_ip(
        floating_network_id=_external_network(demo),
        description=f"{naming.description(ns, CLUSTER)} kubeapi",
    )
    undo.append(lambda: demo.network.delete_ip(fip.id))
    sgroup = demo.compute.create_server_group(
        name=f"{scene.crn}-control-plane", policies=["anti-affinity"]
    )
    undo.append(lambda: demo.compute.delete_server_group(sgroup.id))
    port = demo.network.create_port(
        network_id=net.id, name=naming.port_name(MACHINE, 0), description=leaks.CAPO_DESCRIPTION
    )
    undo.append(lambda: demo.network.delete_port(port.id))
    trunk = demo.network.create_trunk(port_id=port.id, name=port.name)
    undo.append(lambda: demo.network.delete_trunk(trunk.id))
    volume = demo.block_storage.create_volume(
        name=naming.block_device_volume_name(MACHINE, "data"),
        size=1,
        description=leaks.CAPO_DESCRIPTION,
    )
    undo.append(lambda: demo.block_storage.delete_volume(volume.id))
    server = demo.compute.create_server(
        name=MACHINE,
        flavor_id=boot_flavor_id(demo),
        image_id=boot_image_id(demo),
        networks=[{"port": port.id}],
    )

    def delete_server() -> None:
        demo.compute.delete_server(server.id)
        demo.compute.wait_for_delete(server, wait=120)

    undo.append(delete_server)
    ids.update(
        network=net.id, subnet=subnet.id, load_balancer=lb.id, router=router.id,
        security_group=group.id,
        floating_ip=fip.id, server_group=sgroup.id, port=port.id, trunk=trunk.id,
        volume=volume.id, server=server.id,
    )  # fmt: skip
    # user objects: no CAPO naming, though on the cluster's network or named like a machine
    user_net = demo.network.create_network(name=f"user-{ns}")
    undo.append(lambda: demo.network.delete_network(user_net.id))
    user_port = demo.network.create_port(network_id=user_net.id, name=f"{MACHINE}-1")
    vip = demo.network.create_port(network_id=net.id, name=f"vip-{ns}")
    undo.extend([lambda: demo.network.delete_port(user_port.id),
                 lambda: demo.network.delete_port(vip.id)])  # fmt: skip
    user_volume = demo.block_storage.create_volume(name=f"{MACHINE}-scratch", size=1)
    undo.append(lambda: demo.block_storage.delete_volume(user_volume.id))
    user_group = demo.compute.create_server_group(
        name=f"user-{ns}-control-plane", policies=["anti-affinity"]
    )
    undo.append(lambda: demo.compute.delete_server_group(user_group.id))
    scene.user_ids.update({user_net.id, user_port.id, vip.id, user_volume.id, user_group.id})
    demo.compute.wait_for_server(server, wait=120)


def _make_live(scene: Scene) -> None:
    world, ids = scene.world, scene.ids
    osc = world.create_cluster(CLUSTER, {"managedSubnets": [{"cidr": "10.77.0.0/24"}]})
    world.kube.patch_status(
        OPENSTACK_CLUSTER,
        osc,
        {
            "network": {
                "id": ids["network"],
                "name": "n",
                "subnets": [{"id": ids["subnet"], "name": "s", "cidr": "10.77.0.0/24"}],
            },
            "router": {"id": ids["router"], "name": "r"},
            "workerSecurityGroup": {"id": ids["security_group"], "name": "w"},
        },
    )
    server = world.kube.create(
        OPENSTACK_SERVER,
        world.namespace,
        {
            "apiVersion": OPENSTACK_SERVER.api_version,
            "kind": "OpenStackServer",
            "metadata": {"name": MACHINE},
            "spec": {
                "identityRef": IDENTITY,
                "image": {"id": boot_image_id(world.demo)},
                "flavor": "osk8s.small",
                "ports": [{"network": {"id": ids["network"]}}],
                "sshKeyName": "",
                "additionalBlockDevices": DEVICES,
            },
        },
    )
    world.kube.patch_status(
        OPENSTACK_SERVER,
        server,
        {"instanceID": ids["server"], "resources": {"ports": [{"id": ids["port"]}]}},
    )


@pytest.fixture(scope="module")
def scene(
    capo_api: KubeApiServer,
    capo_clouds_yaml: str,
    demo: Connection,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Scene]:
    world = World(capo_api, capo_clouds_yaml, demo)
    tmp = tmp_path_factory.mktemp("leaks")
    clouds = tmp / "clouds.yaml"
    clouds.write_text(capo_clouds_yaml)
    scene = Scene(
        world=world,
        clouds=clouds,
        kubeconfig=capo_api.write_kubeconfig(tmp / "kubeconfig"),
        crn=naming.cluster_resource_name(world.namespace, CLUSTER),
    )
    undo: list[Callable[[], Any]] = []
    try:
        _make_cloud(scene, demo, undo)
        _make_live(scene)
        yield scene
    finally:
        for step in reversed(undo):
            with contextlib.suppress(Exception):
                step()


def test_live_cluster_and_server_account_for_everything(scene: Scene) -> None:
    assert scene.ours(scene.report()) == {}, scene.seen


def test_a_machine_accounts_for_its_server_port_and_volume(scene: Scene) -> None:
    """The OpenStackServer gone, a live OpenStackMachine of the same name (its status ID and
    the deterministic port/volume names) still accounts for the machine's objects."""
    world = scene.world
    world.kube.delete(OPENSTACK_SERVER, world.namespace, MACHINE)
    osm = world.kube.create(
        OPENSTACK_MACHINE,
        world.namespace,
        {
            "apiVersion": OPENSTACK_MACHINE.api_version,
            "kind": "OpenStackMachine",
            "metadata": {"name": MACHINE},
            "spec": {
                "flavor": {"filter": {"name": "osk8s.small"}},
                "image": {"filter": {"name": "osk8s-fake-image"}},
                "additionalBlockDevices": DEVICES,
            },
        },
    )
    world.kube.patch_status(OPENSTACK_MACHINE, osm, {"instanceID": scene.ids["server"]})
    assert scene.ours(scene.report()) == {}


def test_machine_objects_are_reported_once_no_machine_accounts_for_them(scene: Scene) -> None:
    """The real command (console script against the API server and the cloud): JSON lines,
    exit 0; the server, its port and trunk and the CAPO volume carry the cluster's network or
    name, and nothing live accounts for them any more."""
    world = scene.world
    world.kube.delete(OPENSTACK_MACHINE, world.namespace, MACHINE)
    run = scene.cli("--clouds-yaml", str(scene.clouds), "--kubeconfig", str(scene.kubeconfig))
    assert run.returncode == 0, run.stderr
    found = [leaks.Leak(**json.loads(line)) for line in run.stdout.splitlines()]
    ids = scene.ids
    assert scene.ours(found) == {
        "server": ids["server"],
        "port": ids["port"],
        "trunk": ids["trunk"],
        "volume": ids["volume"],
    }
    by_kind = {leak.kind: leak for leak in found if leak.cluster == scene.crn}
    assert by_kind["server"].name == MACHINE
    assert "no live OpenStackMachine" in by_kind["server"].why
    assert scene.crn in by_kind["port"].why


def test_cluster_objects_are_reported_once_the_cluster_is_gone(scene: Scene) -> None:
    world = scene.world
    world.kube.delete(OPENSTACK_CLUSTER, world.namespace, CLUSTER)
    found = scene.report()
    ids = scene.ids
    assert scene.ours(found) == {
        kind: ids[kind]
        for kind in (
            "network", "subnet", "load_balancer", "router", "security_group", "floating_ip",
            "server_group",
            "server", "port", "trunk", "volume",
        )
    }  # fmt: skip
    fip = next(leak for leak in found if leak.id == ids["floating_ip"])
    assert fip.name and f"no live OpenStackCluster {scene.crn}" in fip.why


def test_bad_input_exits_nonzero_with_a_clear_error(scene: Scene, tmp_path: Path) -> None:
    missing = scene.cli("--clouds-yaml", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1
    assert missing.stdout == "" and "leaks:" in missing.stderr and "nope.yaml" in missing.stderr
    usage = scene.cli("--no-such-flag")
    assert usage.returncode == 2 and "usage:" in usage.stderr
