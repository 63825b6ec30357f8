"""Faults while a cluster is created (Keystone, Neutron, Octavia and Nova behind fault
proxies, catalog rewritten): 5xx, 429 with Retry-After, a read timeout and answers lost
after the cloud acted, on network, subnet, router and load balancer creation. The cluster
converges to Ready with exactly one of every object, and deletion leaves nothing, in
CAPO's order (§2.8)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from osk8s_testing.faultproxy.rules import Hang, LoseAnswer, error, rate_limited

from .capo_harness import World
from .test_capo_cluster_contract import external_network_id, is_ready

pytestmark = pytest.mark.contract


def test_cluster_create_converges_through_faults(
    world: World, demo: Any, fault_proxy: Any, capo_clouds_yaml: str
) -> None:
    fleet = fault_proxy.fleet(
        {
            "keystone": "http://127.0.0.1:5000",
            "neutron": "http://127.0.0.1:9696",
            "octavia": "http://127.0.0.1:9876",
            "nova": "http://127.0.0.1:8774",
        }
    )
    data = yaml.safe_load(capo_clouds_yaml)
    data["clouds"]["openstack"]["auth"]["auth_url"] = f"{fleet['keystone'].url}/v3"
    world.put_secret(yaml.safe_dump(data))
    neutron, octavia = fleet["neutron"], fleet["octavia"]
    neutron.inject(error(500), method="POST", path=r"/v2.0/networks$", first=1)
    neutron.inject(LoseAnswer("reset"), method="POST", path=r"/v2.0/subnets$", first=1)
    neutron.inject(rate_limited(1), method="POST", path=r"/v2.0/routers$", first=1)
    neutron.inject(
        Hang(world.client_timeout + 1),
        method="PUT",
        path=r"/v2.0/routers/[^/]+/add_router_interface",
        first=1,
    )
    neutron.inject(error(503), method="POST", path=r"/v2.0/security-groups$", first=2)
    octavia.inject(
        LoseAnswer("close"), method="POST", path=r"/v2(\.0)?/lbaas/loadbalancers$", first=1
    )
    octavia.inject(error(502), method="POST", path=r"/v2(\.0)?/lbaas/listeners$", first=1)
    name = "faults"
    world.create_cluster(
        name,
        {
            "managedSubnets": [{"cidr": "10.13.0.0/24"}],
            "externalNetwork": {"id": external_network_id(demo)},
            "apiServer": {"managedLoadBalancer": {}},
            "managedSecurityGroups": {},
        },
    )
    osc = world.converge(name, until=is_ready)
    assert osc is not None
    found = {k: len(v) for k, v in world.cloud_objects(name).items()}
    assert found == {
        "networks": 1,
        "subnets": 1,
        "routers": 1,
        "security_groups": 2,
        "floating_ips": 1,
        "load_balancers": 1,
    }
    # Each fault was hit (so each path above was exercised), and recovered from.
    assert neutron.calls.count("POST", r"/v2.0/networks$") >= 2
    assert neutron.calls.count("POST", r"/v2.0/subnets$") == 1  # lost answer: adopted, not re-sent
    assert neutron.calls.count("POST", r"/v2.0/routers$") >= 2
    assert octavia.calls.count("POST", r"/v2(\.0)?/lbaas/loadbalancers$") == 1
    assert octavia.calls.count("POST", r"/v2(\.0)?/lbaas/listeners$") >= 2
    router = osc["status"]["router"]["id"]
    interfaces = list(
        demo.network.ports(device_id=router, network_id=osc["status"]["network"]["id"])
    )
    assert len(interfaces) == 1
    seen = len(world.metrics.requests)
    world.delete(name)
    assert all(not ids for ids in world.cloud_objects(name).values())
    assert_delete_order(world.metrics.requests[seen:])


DELETE_ORDER = (
    "floating_ip_delete",  # (c) the VIP's floating IP, then the LB (cascade)
    "loadbalancer_delete",
    "router_update",  # (d) router interfaces, router, subnet, network
    "router_delete",
    "subnet_delete",
    "network_delete",
    "security_group_delete",  # (e) the security groups
)


def assert_delete_order(requests: list[str]) -> None:
    """capo.md §2.8 (c)-(e): each step's writes all come before the next step's."""
    writes = [r for r in requests if r in DELETE_ORDER]
    assert set(writes) == set(DELETE_ORDER), writes
    ranks = [DELETE_ORDER.index(r) for r in writes]
    assert ranks == sorted(ranks), writes
    # Nothing of the network goes before the load balancer is gone from Octavia.
    last_lb_look = max(i for i, r in enumerate(requests) if r.startswith("loadbalancer_"))
    assert last_lb_look < requests.index("router_update"), requests
