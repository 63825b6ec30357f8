"""The service controller's writes on the in-memory API server: strategic merge patches a
kube-apiserver accepts for Services (finalizer set semantics, annotations, ``services/status``
with ``ingress`` replaced and conditions merged by type), and no write when nothing changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes.client import CoreV1Api

from osk8s_ccm.lb_provider import IngressPoint
from osk8s_ccm.service_status import (
    CONDITION_TYPE,
    FINALIZER,
    Readiness,
    add_finalizer,
    patch_annotations,
    patch_status,
    remove_finalizer,
    status_patch,
)

NS = "default"
T0 = datetime(2026, 1, 1, 10, 0, 0, tzinfo=UTC)
T1 = datetime(2026, 1, 1, 11, 0, 0, tzinfo=UTC)
OTHER = {
    "type": "example.com/Other",
    "status": "True",
    "reason": "Set",
    "message": "someone else's",
    "lastTransitionTime": "2025-01-01T00:00:00Z",
}


@pytest.fixture
def core(kube_api: Any) -> Iterator[Any]:
    client = kube_api.api_client()
    yield CoreV1Api(client)
    client.close()


def make_service(core: Any, finalizers: list[str] | None = None) -> dict[str, Any]:
    core.create_namespaced_service(
        NS,
        {
            "metadata": {"name": "web", "finalizers": finalizers or [], "annotations": {"a": "1"}},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]},
        },
    )
    return read(core)


def read(core: Any) -> dict[str, Any]:
    raw: dict[str, Any] = core.api_client.sanitize_for_serialization(
        core.read_namespaced_service("web", NS)
    )
    return raw


def when(condition: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(condition["lastTransitionTime"])


def apply_status(core: Any, obj: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    body = status_patch(obj, **kwargs)
    assert body is not None
    patch_status(core, obj, body)
    return read(core)


def test_finalizer_added_once_and_removed_keeping_others(core: Any) -> None:
    svc = make_service(core, finalizers=["example.com/keep"])
    assert add_finalizer(core, svc) is True
    svc = read(core)
    assert sorted(svc["metadata"]["finalizers"]) == sorted(["example.com/keep", FINALIZER])
    rv = svc["metadata"]["resourceVersion"]
    assert add_finalizer(core, svc) is False
    assert read(core)["metadata"]["resourceVersion"] == rv
    assert remove_finalizer(core, svc) is True
    assert read(core)["metadata"]["finalizers"] == ["example.com/keep"]


def test_annotations_patch_only_changes(core: Any) -> None:
    svc = make_service(core)
    assert patch_annotations(core, svc, {"a": "1"}) is False
    assert patch_annotations(core, svc, {"a": "1", "b": "2"}) is True
    assert read(core)["metadata"]["annotations"] == {"a": "1", "b": "2"}


def test_status_ingress_replaced_and_conditions_merged_by_type(core: Any) -> None:
    svc = make_service(core)
    core.patch_namespaced_service_status(
        "web",
        NS,
        {"status": {"conditions": [OTHER]}},
        _content_type="application/merge-patch+json",
    )
    svc = read(core)
    two = (IngressPoint(ip="192.0.2.1", ip_mode="VIP"), IngressPoint(hostname="h.example"))
    ready = Readiness(True, "LoadBalancerEnsured", "ok")
    svc = apply_status(core, svc, ingress=two, readiness=ready, now=T0)
    assert svc["status"]["loadBalancer"]["ingress"] == [
        {"ip": "192.0.2.1", "ipMode": "VIP"},
        {"hostname": "h.example"},
    ]
    types = [c["type"] for c in svc["status"]["conditions"]]
    assert sorted(types) == sorted([OTHER["type"], CONDITION_TYPE])
    assert svc["spec"]["ports"][0]["port"] == 80
    # the same again: nothing to send
    assert status_patch(svc, ingress=two, readiness=ready, now=T1) is None
    # one entry replaces the list whole (no merge key on ingress)
    one = (IngressPoint(ip="192.0.2.9", ip_mode="Proxy"),)
    svc = apply_status(core, svc, ingress=one, readiness=ready, now=T1)
    assert svc["status"]["loadBalancer"]["ingress"] == [{"ip": "192.0.2.9", "ipMode": "Proxy"}]


def test_condition_transition_time_moves_only_on_status_change(core: Any) -> None:
    svc = make_service(core)
    svc = apply_status(
        core, svc, ingress=None, readiness=Readiness(False, "WaitingForOctavia", "w"), now=T0
    )
    [cond] = svc["status"]["conditions"]
    assert when(cond) == T0
    svc = apply_status(
        core, svc, ingress=None, readiness=Readiness(False, "QuotaExceeded", "q"), now=T1
    )
    [cond] = svc["status"]["conditions"]
    assert (cond["reason"], when(cond)) == ("QuotaExceeded", T0)
    svc = apply_status(
        core, svc, ingress=None, readiness=Readiness(True, "LoadBalancerEnsured", ""), now=T1
    )
    [cond] = svc["status"]["conditions"]
    assert (cond["status"], when(cond)) == ("True", T1)


def test_malformed_reason_is_replaced(core: Any) -> None:
    svc = make_service(core)
    svc = apply_status(
        core, svc, ingress=None, readiness=Readiness(False, "not a reason!", "m"), now=T0
    )
    [cond] = svc["status"]["conditions"]
    assert cond["reason"] == "SyncFailed" and cond["message"] == "m"


def test_clearing_status_keeps_other_conditions(core: Any) -> None:
    svc = make_service(core)
    core.patch_namespaced_service_status(
        "web",
        NS,
        {"status": {"conditions": [OTHER]}},
        _content_type="application/merge-patch+json",
    )
    svc = read(core)
    svc = apply_status(
        core,
        svc,
        ingress=(IngressPoint(ip="192.0.2.1", ip_mode="VIP"),),
        readiness=Readiness(True, "LoadBalancerEnsured", "ok"),
        now=T0,
    )
    svc = apply_status(core, svc, ingress=(), readiness=None, now=T1)
    assert not (svc["status"].get("loadBalancer") or {}).get("ingress")
    assert [c["type"] for c in svc["status"]["conditions"]] == [OTHER["type"]]
    assert status_patch(svc, ingress=(), readiness=None, now=T1) is None


def test_writes_to_a_gone_service_are_ignored(core: Any) -> None:
    svc = make_service(core)
    core.delete_namespaced_service("web", NS, _preload_content=False)
    stale = {**svc, "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}
    body = status_patch(stale, ingress=(), readiness=None, now=T0)
    assert body == {"status": {"loadBalancer": {"ingress": None}}}
    patch_status(core, stale, body)  # 404: the Service went with its finalizer; not an error
    with_finalizer = {**svc, "metadata": {**svc["metadata"], "finalizers": [FINALIZER]}}
    assert remove_finalizer(core, with_finalizer) is False
