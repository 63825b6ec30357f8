"""Which Nodes back load balancers: k8s.io/cloud-provider's stable node set predicates
(KEP-3458, GA in 1.30): not being deleted, not labelled
``node.kubernetes.io/exclude-from-external-load-balancers`` (any value), not tainted
``ToBeDeletedByClusterAutoscaler``. Readiness does not count."""

from __future__ import annotations

from typing import Any

import pytest

from osk8s_ccm.service_nodes import (
    EXCLUDE_LABEL,
    TO_BE_DELETED_TAINT,
    eligible,
    eligible_nodes,
    node_change_matters,
)


def node(
    name: str = "n",
    *,
    labels: dict[str, str] | None = None,
    ready: str = "True",
    taints: list[dict[str, str]] | None = None,
    deleting: bool = False,
    address: str = "10.0.0.1",
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels or {}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "metadata": meta,
        "spec": {"providerID": f"openstack:///{name}", "taints": taints or []},
        "status": {
            "addresses": [{"type": "InternalIP", "address": address}],
            "conditions": [{"type": "Ready", "status": ready}],
        },
    }


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (node(), True),
        (node(ready="False"), True),  # readiness is not a predicate any more
        (node(ready="Unknown"), True),
        (node(labels={EXCLUDE_LABEL: ""}), False),
        (node(labels={EXCLUDE_LABEL: "false"}), False),  # presence counts, not the value
        (node(taints=[{"key": TO_BE_DELETED_TAINT, "effect": "NoSchedule"}]), False),
        (node(taints=[{"key": "example.com/other", "effect": "NoSchedule"}]), True),
        (node(deleting=True), False),
    ],
)
def test_eligible(obj: dict[str, Any], expected: bool) -> None:
    assert eligible(obj) is expected


def test_eligible_nodes_sorted_facts() -> None:
    found = eligible_nodes([node("b", address="10.0.0.2"), node("x", deleting=True), node("a")])
    assert [n.name for n in found] == ["a", "b"]
    assert found[1].addresses[0].address == "10.0.0.2"
    assert found[0].provider_id == "openstack:///a"


@pytest.mark.parametrize(
    ("old", "new", "matters"),
    [
        (node(), node(ready="False"), False),  # heartbeat/condition only
        (node(), node(labels={"role": "lb"}), True),  # node-selector input
        (node(), node(address="10.0.0.9"), True),  # member address
        (node(), node(labels={EXCLUDE_LABEL: ""}), True),
        (node(), node(deleting=True), True),
    ],
)
def test_node_change_matters(old: dict[str, Any], new: dict[str, Any], matters: bool) -> None:
    assert node_change_matters(old, new) is matters
