"""JSON patch, merge patch and strategic merge patch with the real patch merge keys."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from osk8s_testing.kubeapi import strategic
from osk8s_testing.kubeapi.patch import merge_patch

from .conftest import status_body

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"


def _node(core: client.CoreV1Api) -> Any:
    return core.create_node(
        {
            "metadata": {"name": "n1"},
            "spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]},
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": "10.0.0.1"},
                    {"type": "Hostname", "address": "n1"},
                ],
                "conditions": [
                    {"type": "Ready", "status": "False"},
                    {"type": "MemoryPressure", "status": "False"},
                ],
            },
        }
    )


def test_node_keeps_status_on_create(core: client.CoreV1Api) -> None:
    node = _node(core)
    assert [a.type for a in node.status.addresses] == ["InternalIP", "Hostname"]


def test_strategic_merge_on_node_status_merges_by_type(core: client.CoreV1Api) -> None:
    _node(core)
    patched = core.patch_node_status(
        "n1",
        {
            "status": {
                "addresses": [{"type": "ExternalIP", "address": "192.0.2.1"}],
                "conditions": [{"type": "Ready", "status": "True"}],
            }
        },
    )
    # apimachinery's normalizeElementOrder: an item the live list lacks goes before the
    # server-only ones (strategicpatch/patch.go mergeSortedSlice(serverOnly, patch, ...))
    assert [(a.type, a.address) for a in patched.status.addresses] == [
        ("ExternalIP", "192.0.2.1"),
        ("InternalIP", "10.0.0.1"),
        ("Hostname", "n1"),
    ]
    assert {c.type: c.status for c in patched.status.conditions} == {
        "Ready": "True",
        "MemoryPressure": "False",
    }


def test_strategic_merge_replaces_lists_without_strategy(core: client.CoreV1Api) -> None:
    _node(core)
    patched = core.patch_node("n1", {"spec": {"taints": [{"key": "b", "effect": "NoExecute"}]}})
    assert [t.key for t in patched.spec.taints] == ["b"]


def test_strategic_delete_directive(core: client.CoreV1Api) -> None:
    _node(core)
    patched = core.patch_node_status(
        "n1", {"status": {"addresses": [{"type": "Hostname", "$patch": "delete"}]}}
    )
    assert [a.type for a in patched.status.addresses] == ["InternalIP"]


def test_strategic_merge_service_ports_by_port(core: client.CoreV1Api) -> None:
    core.create_namespaced_service(
        "default",
        {
            "metadata": {"name": "s"},
            "spec": {"ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]},
        },
    )
    patched = core.patch_namespaced_service(
        "s", "default", {"spec": {"ports": [{"port": 443, "name": "tls"}, {"port": 8080}]}}
    )
    assert [(p.port, p.name) for p in patched.spec.ports] == [
        (80, "http"),
        (443, "tls"),
        (8080, None),
    ]


def test_strategic_merge_finalizers_are_a_set(core: client.CoreV1Api) -> None:
    core.create_namespaced_secret(
        "default", {"metadata": {"name": "s", "finalizers": ["a.example/x"]}, "data": {"k": "dg=="}}
    )
    patched = core.patch_namespaced_secret(
        "s",
        "default",
        {"metadata": {"finalizers": ["a.example/x", "b.example/y"]}, "data": {"l": "dw=="}},
    )
    assert patched.metadata.finalizers == ["a.example/x", "b.example/y"]
    assert patched.data == {"k": "dg==", "l": "dw=="}
    removed = core.patch_namespaced_secret(
        "s", "default", {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example/x"]}}
    )
    assert removed.metadata.finalizers == ["b.example/y"]


def test_strategic_patch_on_ingress_lease_event_configmap(
    core: client.CoreV1Api,
    networking: client.NetworkingV1Api,
    coordination: client.CoordinationV1Api,
) -> None:
    networking.create_namespaced_ingress(
        "default",
        {
            "metadata": {"name": "i"},
            "spec": {"rules": [{"host": "a.example"}, {"host": "b.example"}]},
        },
    )
    ing = networking.patch_namespaced_ingress_status(
        "i", "default", {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.7"}]}}}
    )
    assert ing.status.load_balancer.ingress[0].ip == "192.0.2.7"
    ing = networking.patch_namespaced_ingress(
        "i", "default", {"spec": {"rules": [{"host": "c.example"}]}}
    )
    assert [r.host for r in ing.spec.rules] == ["c.example"]  # rules are atomic upstream
    coordination.create_namespaced_lease("default", {"metadata": {"name": "l"}, "spec": {}})
    lease = coordination.patch_namespaced_lease("l", "default", {"spec": {"holderIdentity": "me"}})
    assert lease.spec.holder_identity == "me"
    core.create_namespaced_event(
        "default",
        {"metadata": {"name": "e"}, "involvedObject": {"kind": "Node", "name": "n"}, "count": 1},
    )
    event = core.patch_namespaced_event("e", "default", {"count": 2})
    assert event.count == 2
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    cm = core.patch_namespaced_config_map("c", "default", {"data": {"a": None, "b": "2"}})
    assert cm.data == {"b": "2"}


def test_json_patch(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    cm = core.patch_namespaced_config_map(
        "c",
        "default",
        [
            {"op": "test", "path": "/data/a", "value": "1"},
            {"op": "add", "path": "/data/b", "value": "2"},
            {"op": "remove", "path": "/data/a"},
        ],
    )
    assert cm.data == {"b": "2"}


def test_json_patch_failed_test_is_422(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    with pytest.raises(client.ApiException) as exc:
        core.patch_namespaced_config_map(
            "c", "default", [{"op": "test", "path": "/data/a", "value": "other"}]
        )
    assert exc.value.status == 422


def test_merge_patch_replaces_lists(core: client.CoreV1Api) -> None:
    _node(core)
    patched = core.patch_node_status(
        "n1",
        {"status": {"addresses": [{"type": "ExternalIP", "address": "192.0.2.1"}]}},
        _content_type=MERGE_PATCH,
    )
    assert [a.type for a in patched.status.addresses] == ["ExternalIP"]


def test_unknown_patch_type_is_415(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    with pytest.raises(client.ApiException) as exc:
        core.patch_namespaced_config_map(
            "c", "default", {"data": {}}, _content_type="application/yaml"
        )
    assert exc.value.status == 415
    assert status_body(exc.value)["reason"] == "UnsupportedMediaType"


def test_merge_patch_rfc7386_examples() -> None:
    assert merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": "b"}, {"b": "c"}) == {"a": "b", "b": "c"}
    assert merge_patch({"a": "b"}, {"a": None}) == {}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}) == {"a": {"b": "d"}}


def test_strategic_replace_directive_and_retain_keys() -> None:
    original = {
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}},
        "status": {"conditions": [{"type": "A"}, {"type": "B"}]},
    }
    patched = strategic.apply(
        original, {"status": {"conditions": [{"type": "C"}, {"$patch": "replace"}]}}, "Deployment"
    )
    assert patched["status"]["conditions"] == [{"type": "C"}]
    merged = strategic.apply(
        original,
        {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "y"}]}}}},
        "Deployment",
    )
    assert merged["spec"]["template"]["spec"]["containers"] == [{"name": "a", "image": "y"}]
    retained = strategic.apply({"spec": {"a": 1, "b": 2}}, {"spec": {"$retainKeys": ["b"]}}, "X")
    assert retained == {"spec": {"b": 2}}


def test_strategic_missing_merge_key_is_400(core: client.CoreV1Api) -> None:
    _node(core)
    with pytest.raises(client.ApiException) as exc:
        core.patch_node_status("n1", {"status": {"conditions": [{"status": "True"}]}})
    assert exc.value.status == 400
