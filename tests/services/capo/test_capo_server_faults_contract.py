"""Faults on the server create path (Keystone, Neutron and Nova behind fault proxies, catalog
rewritten): a 500 on the first port create, the answer of a port create lost after Neutron
made the port, a 503 on the server create and the answer of the server create lost after Nova
accepted it. The server converges to ACTIVE with exactly one Nova server and one port per
spec entry (the lost answers adopted by name, never sent twice), and deletion leaves nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from openstack.connection import Connection

from osk8s_testing.faultproxy.rules import LoseAnswer, error

from .capo_harness import World
from .capo_server_harness import ServerWorld, TestNetwork, private_network, ready

pytestmark = pytest.mark.contract


@pytest.fixture(scope="module")
def net(demo: Connection) -> Iterator[TestNetwork]:
    yield from private_network(demo, "capo-srvf")


def test_server_create_converges_through_faults(
    world: World, net: TestNetwork, fault_proxy: Any, capo_clouds_yaml: str
) -> None:
    fleet = fault_proxy.fleet(
        {
            "keystone": "http://127.0.0.1:5000",
            "neutron": "http://127.0.0.1:9696",
            "nova": "http://127.0.0.1:8774",
        }
    )
    data = yaml.safe_load(capo_clouds_yaml)
    data["clouds"]["openstack"]["auth"]["auth_url"] = f"{fleet['keystone'].url}/v3"
    world.put_secret(yaml.safe_dump(data))
    neutron, nova = fleet["neutron"], fleet["nova"]
    # each rule counts every matching call: the 1st gets an error, the 2nd lands unanswered
    neutron.inject(error(500), method="POST", path=r"/v2.0/ports$", nth=1)
    neutron.inject(LoseAnswer("reset"), method="POST", path=r"/v2.0/ports$", nth=2)
    nova.inject(error(503), method="POST", path=r"/v2.1/servers$", nth=1)
    nova.inject(LoseAnswer("close"), method="POST", path=r"/v2.1/servers$", nth=2)

    servers = ServerWorld(world)
    spec = {
        "ports": [
            {"network": {"id": net.network_id}},
            {"network": {"id": net.network_id}, "nameSuffix": "b"},
        ]
    }
    servers.create("srv-f", spec)
    got = servers.converge("srv-f", ready)
    assert got is not None
    found = servers.cloud_objects("srv-f")
    assert len(found["servers"]) == 1 and len(found["ports"]) == 2, found
    assert got["status"]["instanceID"] == found["servers"][0]
    # every fault was hit; the lost answers were adopted by name, never re-sent
    assert neutron.calls.count("POST", r"/v2.0/ports$") == 3  # 500, lost (landed), second port
    assert nova.calls.count("POST", r"/v2.1/servers$") == 2  # 503, lost (landed)
    servers.delete("srv-f")
    assert servers.cloud_objects("srv-f") == {"servers": [], "ports": [], "volumes": []}
