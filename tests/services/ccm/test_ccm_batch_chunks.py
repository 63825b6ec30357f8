"""A sync's lookups by id go ``IDS_PER_QUERY`` ids per list call: 250 trunk servers (each
with a subport on its own network) cost one server list, one port list by device owner, then
ceil(250/100) = 3 port lists and 3 network lists by id, counted by the core client's metric.

The fake is the narrowest thing the core's client calls: a connection whose ``compute`` and
``network`` proxies answer list queries from memory (real openstacksdk resources) and record
every query.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from openstack.compute.v2.server import Server
from openstack.network.v2.network import Network
from openstack.network.v2.port import Port
from prometheus_client import CollectorRegistry

from osk8s_ccm.batch import SyncSnapshot
from osk8s_ccm.instances import InstanceSettings, InstancesV2, NodeRef
from osk8s_ccm.nova_neutron import IDS_PER_QUERY, NovaNeutron
from osk8s_core.logging import get_logger
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.retry import NO_RETRY

N = 250


def _matches(resource: Any, query: dict[str, Any]) -> bool:
    for key, wanted in query.items():
        values = wanted if isinstance(wanted, list) else [wanted]
        if getattr(resource, key) not in values:
            return False
    return True


class Proxy:
    """Answers ``<kind>(**query)`` from a list, recording (kind, query)."""

    def __init__(self, queries: list[tuple[str, dict[str, Any]]], **kinds: list[Any]) -> None:
        self._queries = queries
        self._kinds = kinds

    def __getattr__(self, kind: str) -> Any:
        items = self._kinds[kind]

        def query(**filters: Any) -> Iterator[Any]:
            self._queries.append((kind, filters))
            return iter([r for r in items if _matches(r, filters)])

        return query


class Cloud:
    def __init__(self, n: int) -> None:
        self.queries: list[tuple[str, dict[str, Any]]] = []
        servers, ports, networks = [], [], []
        for i in range(n):
            sid, parent, sub, net = (f"{kind}-{i:04d}" for kind in ("srv", "par", "sub", "net"))
            servers.append(
                Server(
                    id=sid,
                    name=f"node-{i}",
                    status="ACTIVE",
                    availability_zone="az-1",
                    addresses={"demo": [{"addr": f"10.0.{i // 200}.{i % 200}", "version": 4}]},
                    flavor={"original_name": "m1.small"},
                )
            )
            ports.append(
                Port(
                    id=parent,
                    device_id=sid,
                    device_owner="compute:az-1",
                    status="ACTIVE",
                    network_id="demo-net",
                    fixed_ips=[{"ip_address": f"10.0.{i // 200}.{i % 200}"}],
                    trunk_details={"sub_ports": [{"port_id": sub}]},
                )
            )
            ports.append(
                Port(
                    id=sub,
                    device_id=sid,
                    device_owner="trunk:subport",
                    status="ACTIVE",
                    network_id=net,
                    fixed_ips=[{"ip_address": f"10.1.{i // 200}.{i % 200}"}],
                )
            )
            networks.append(Network(id=net, name=f"vlan-{i}"))
        self.compute = Proxy(self.queries, servers=servers)
        self.network = Proxy(self.queries, ports=ports, networks=networks)

    def id_queries(self, kind: str) -> list[list[str]]:
        return [list(q["id"]) for k, q in self.queries if k == kind and "id" in q]


def requests(registry: CollectorRegistry, label: str) -> int:
    value = registry.get_sample_value("openstack_api_requests_total", {"request": label})
    return int(value or 0)


def test_a_sync_of_250_nodes_lists_ids_in_chunks_of_100() -> None:
    cloud = Cloud(N)
    registry = CollectorRegistry()
    client: OpenStackClient[Any] = OpenStackClient(
        cloud, metrics=ApiMetrics(registry), retry_policy=NO_RETRY, logger=get_logger("t")
    )
    snapshot = SyncSnapshot.take(NovaNeutron(client))
    chunks = math.ceil(N / IDS_PER_QUERY)
    assert chunks == 3
    assert requests(registry, "server_list") == 1
    assert requests(registry, "port_list") == 1 + chunks  # by device owner, then by id
    assert requests(registry, "network_list") == chunks
    for kind in ("ports", "networks"):
        queried = cloud.id_queries(kind)
        assert [len(ids) for ids in queried] == [100, 100, 50]
        assert len({i for ids in queried for i in ids}) == N
    # Every node's metadata, the subport networks included, comes from those lists alone.
    v2 = InstancesV2(InstanceSettings(region="R"))
    before = len(cloud.queries)
    metadata = [
        v2.instance_metadata(snapshot, NodeRef(f"node-{i}", f"openstack:///srv-{i:04d}"))
        for i in range(N)
    ]
    assert len(cloud.queries) == before
    assert all(m.provider_id.startswith("openstack:///srv-") for m in metadata)
    assert {a.address for a in metadata[249].node_addresses} >= {"10.0.1.49", "10.1.1.49"}
