"""``NetworkUnavailable`` after a routes pass, on the in-memory API server behind the real
``kubernetes`` client: a strategic merge patch of the status subresource that keeps the
node's other conditions, and no write when the condition already says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from kubernetes.client import CoreV1Api, V1Node, V1NodeCondition, V1NodeStatus, V1ObjectMeta

from osk8s_ccm.route_condition import set_network_condition

from .node_helpers import node_json

NOW = datetime(2026, 12, 4, 6, 0, 0, tzinfo=UTC)


@pytest.fixture
def core(kube_api) -> Iterator[CoreV1Api]:  # type: ignore[no-untyped-def]
    client = kube_api.api_client()
    yield CoreV1Api(client)
    client.close()


def conditions(core: CoreV1Api, name: str) -> dict[str, tuple[str, str]]:
    found = node_json(core, name).get("status", {}).get("conditions") or []
    return {c["type"]: (c["status"], c.get("reason", "")) for c in found}


def make_node(core: CoreV1Api, name: str) -> None:
    core.create_node(V1Node(metadata=V1ObjectMeta(name=name)))
    status = V1NodeStatus(
        conditions=[
            V1NodeCondition(type="Ready", status="True", reason="KubeletReady"),
            V1NodeCondition(type="NetworkUnavailable", status="True", reason="NoRouteCreated"),
        ]
    )
    core.patch_node_status(name, {"status": core.api_client.sanitize_for_serialization(status)})


def test_route_created_clears_the_condition_and_keeps_the_others(core: CoreV1Api) -> None:
    make_node(core, "r1")
    assert set_network_condition(core, node_json(core, "r1"), routed=True, now=NOW)
    assert conditions(core, "r1") == {
        "Ready": ("True", "KubeletReady"),
        "NetworkUnavailable": ("False", "RouteCreated"),
    }
    version = node_json(core, "r1")["metadata"]["resourceVersion"]
    assert not set_network_condition(core, node_json(core, "r1"), routed=True, now=NOW)
    assert node_json(core, "r1")["metadata"]["resourceVersion"] == version


def test_missing_route_sets_the_condition(core: CoreV1Api) -> None:
    make_node(core, "r2")
    set_network_condition(core, node_json(core, "r2"), routed=True, now=NOW)
    assert set_network_condition(core, node_json(core, "r2"), routed=False, now=NOW)
    assert conditions(core, "r2")["NetworkUnavailable"] == ("True", "NoRouteCreated")
