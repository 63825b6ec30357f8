"""Finalizers, deletionTimestamp, ownerReference garbage collection, namespace termination."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client, watch

from osk8s_testing.kubeapi import KubeApiServer


def _owned(name: str, owner: Any, *, block: bool = False) -> dict[str, Any]:
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": owner.metadata.name,
        "uid": owner.metadata.uid,
        "blockOwnerDeletion": block,
    }
    return {"metadata": {"name": name, "ownerReferences": [ref]}}


def _names(core: client.CoreV1Api) -> list[str]:
    return [c.metadata.name for c in core.list_namespaced_config_map("default").items]


def test_finalizer_blocks_delete_until_removed(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "a", "finalizers": ["example.com/hold"]}}
    )
    response = core.delete_namespaced_config_map("a", "default")
    assert response["kind"] == "ConfigMap"  # 200 with the object while finalizers block
    assert response["metadata"]["deletionTimestamp"]
    held = core.read_namespaced_config_map("a", "default")
    assert held.metadata.deletion_timestamp is not None
    # no new finalizers once deleting
    with pytest.raises(client.ApiException) as exc:
        core.patch_namespaced_config_map(
            "a", "default", {"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}}
        )
    assert exc.value.status == 422
    # a second delete is accepted and changes nothing
    again = core.delete_namespaced_config_map("a", "default")
    assert again["metadata"]["resourceVersion"] == held.metadata.resource_version
    core.patch_namespaced_config_map(
        "a", "default", {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/hold"]}}
    )
    assert _names(core) == []


def test_finalizer_removal_emits_modified_then_deleted(core: client.CoreV1Api) -> None:
    made = core.create_namespaced_config_map(
        "default", {"metadata": {"name": "a", "finalizers": ["example.com/hold"]}}
    )
    core.delete_namespaced_config_map("a", "default")
    core.patch_namespaced_config_map(
        "a", "default", [{"op": "remove", "path": "/metadata/finalizers"}]
    )
    w = watch.Watch()
    types = []
    for event in w.stream(
        core.list_namespaced_config_map,
        "default",
        resource_version=made.metadata.resource_version,
        timeout_seconds=30,
    ):
        types.append(event["type"])
        if len(types) == 3:
            w.stop()
    assert types == ["MODIFIED", "MODIFIED", "DELETED"]


def test_background_gc_deletes_dependents(core: client.CoreV1Api) -> None:
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    child = core.create_namespaced_config_map("default", _owned("child", owner))
    core.create_namespaced_config_map("default", _owned("grandchild", child))
    core.create_namespaced_config_map("default", {"metadata": {"name": "unrelated"}})
    core.delete_namespaced_config_map("owner", "default")
    assert _names(core) == ["unrelated"]


def test_dependent_with_another_live_owner_survives(core: client.CoreV1Api) -> None:
    a = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    b = core.create_namespaced_config_map("default", {"metadata": {"name": "b"}})
    both = _owned("both", a)
    both["metadata"]["ownerReferences"].append(_owned("x", b)["metadata"]["ownerReferences"][0])
    core.create_namespaced_config_map("default", both)
    core.delete_namespaced_config_map("a", "default")
    survivor = core.read_namespaced_config_map("both", "default")
    assert [r.uid for r in survivor.metadata.owner_references] == [b.metadata.uid]


def test_orphan_propagation_keeps_dependents(core: client.CoreV1Api) -> None:
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    core.create_namespaced_config_map("default", _owned("child", owner))
    core.delete_namespaced_config_map("owner", "default", propagation_policy="Orphan")
    child = core.read_namespaced_config_map("child", "default")
    assert child.metadata.owner_references is None


def test_foreground_waits_for_blocking_dependents(core: client.CoreV1Api) -> None:
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    blocking = _owned("blocking", owner, block=True)
    blocking["metadata"]["finalizers"] = ["example.com/hold"]
    core.create_namespaced_config_map("default", blocking)
    core.create_namespaced_config_map("default", _owned("plain", owner))
    response = core.delete_namespaced_config_map(
        "owner", "default", propagation_policy="Foreground"
    )
    assert "foregroundDeletion" in response["metadata"]["finalizers"]
    held = core.read_namespaced_config_map("owner", "default")
    assert held.metadata.deletion_timestamp is not None
    child = core.read_namespaced_config_map("blocking", "default")
    assert child.metadata.deletion_timestamp is not None  # being deleted, held by its finalizer
    assert "plain" not in _names(core)
    core.patch_namespaced_config_map(
        "blocking",
        "default",
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/hold"]}},
    )
    assert _names(core) == []


def test_foreground_without_dependents_deletes_at_once(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "alone"}})
    core.delete_namespaced_config_map("alone", "default", propagation_policy="Foreground")
    assert _names(core) == []


def test_cross_kind_gc_custom_owner_of_secret(core: client.CoreV1Api) -> None:
    node = core.create_node({"metadata": {"name": "n1"}})
    ref = {"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": node.metadata.uid}
    core.create_namespaced_secret(
        "kube-system", {"metadata": {"name": "s", "ownerReferences": [ref]}}
    )
    core.delete_node("n1")
    assert core.list_namespaced_secret("kube-system").items == []


def test_namespace_deletion_removes_content(
    kube_api: KubeApiServer, core: client.CoreV1Api
) -> None:
    core.create_namespace({"metadata": {"name": "team"}})
    core.create_namespaced_config_map("team", {"metadata": {"name": "a"}})
    core.create_namespaced_config_map(
        "team", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    )
    deleting = core.delete_namespace("team")
    assert deleting["status"]["phase"] == "Terminating"
    assert [c.metadata.name for c in core.list_namespaced_config_map("team").items] == ["held"]
    with pytest.raises(client.ApiException) as exc:
        core.create_namespaced_config_map("team", {"metadata": {"name": "new"}})
    assert exc.value.status == 403
    core.patch_namespaced_config_map("held", "team", {"metadata": {"finalizers": None}})
    with pytest.raises(client.ApiException) as gone:
        core.read_namespace("team")
    assert gone.value.status == 404
