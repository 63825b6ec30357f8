"""Node objects and reads for the cloud node controller tests (real kubernetes client on the
in-memory API server)."""

from __future__ import annotations

from typing import Any

from kubernetes.client import CoreV1Api, V1Node, V1NodeSpec, V1ObjectMeta, V1Taint

from osk8s_ccm.node_init import UNINITIALIZED_TAINT

OTHER_TAINT = V1Taint(key="example.com/dedicated", value="x", effect="NoSchedule")


def tainted_node(core: CoreV1Api, name: str, provider_id: str = "") -> V1Node:
    taints = [V1Taint(key=UNINITIALIZED_TAINT, value="true", effect="NoSchedule"), OTHER_TAINT]
    spec = V1NodeSpec(taints=taints, provider_id=provider_id or None)
    body = V1Node(metadata=V1ObjectMeta(name=name, labels={"keep": "me"}), spec=spec)
    return core.create_node(body)


def node_json(core: CoreV1Api, name: str) -> dict[str, Any]:
    raw: dict[str, Any] = core.api_client.sanitize_for_serialization(core.read_node(name))
    return raw


def taint_keys(node: dict[str, Any]) -> list[str]:
    return [t["key"] for t in node["spec"].get("taints") or []]


def events_for(core: CoreV1Api, name: str) -> list[tuple[str, str]]:
    found = core.list_namespaced_event("default").items
    return [(str(e.type), str(e.reason)) for e in found if e.involved_object.name == name]


def expected_labels(instance_type: str, zone: str, region: str) -> dict[str, str]:
    """What upstream's cloud node controller writes (GA and legacy keys)."""
    return {
        "node.kubernetes.io/instance-type": instance_type,
        "beta.kubernetes.io/instance-type": instance_type,
        "topology.kubernetes.io/zone": zone,
        "failure-domain.beta.kubernetes.io/zone": zone,
        "topology.kubernetes.io/region": region,
        "failure-domain.beta.kubernetes.io/region": region,
    }


def plain_node(core: CoreV1Api, name: str, provider_id: str = "", ready: str | None = None) -> None:
    """An initialised node; ``ready`` sets its Ready condition (None: no condition at all)."""
    spec = V1NodeSpec(provider_id=provider_id or None)
    core.create_node(V1Node(metadata=V1ObjectMeta(name=name), spec=spec))
    if ready is not None:
        set_ready(core, name, ready)


def set_ready(core: CoreV1Api, name: str, status: str) -> None:
    condition = {"type": "Ready", "status": status, "reason": "Test"}
    core.patch_node_status(
        name,
        {"status": {"conditions": [condition]}},
        _content_type="application/merge-patch+json",
    )


def node_names(core: CoreV1Api) -> set[str]:
    return {str(n.metadata.name) for n in core.list_node().items if n.metadata}
