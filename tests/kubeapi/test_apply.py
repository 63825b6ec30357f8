"""Server-side apply and managedFields, pinned to kube-apiserver.

Upstream reference: https://kubernetes.io/docs/reference/using-api/server-side-apply/
(field management, conflicts, forcing, "Using Server-Side Apply in a controller") and
staging/src/k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager (conflict errors:
internal/conflict.go), staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/validation
ValidatePatchOptions (fieldManager required for apply).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client

from .conftest import status_body

APPLY = "application/apply-patch+yaml"


def _apply(core: client.CoreV1Api, body: dict[str, Any], manager: str, **kw: Any) -> Any:
    return core.patch_namespaced_config_map(
        body["metadata"]["name"],
        "default",
        {"apiVersion": "v1", "kind": "ConfigMap", **body},
        field_manager=manager,
        _content_type=APPLY,
        **kw,
    )


def _managers(obj: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m.manager, m.operation): m.fields_v1 for m in obj.metadata.managed_fields or []}


def test_apply_creates_and_records_apply_manager(core: client.CoreV1Api) -> None:
    made = _apply(core, {"metadata": {"name": "a"}, "data": {"x": "1"}}, "ctrl")
    assert made.data == {"x": "1"}
    fields = _managers(made)[("ctrl", "Apply")]
    assert fields == {"f:data": {"f:x": {}}}
    entry = made.metadata.managed_fields[0]
    assert (entry.api_version, entry.fields_type) == ("v1", "FieldsV1")
    assert entry.time is not None


def test_apply_without_field_manager_is_422(core: client.CoreV1Api) -> None:
    with pytest.raises(client.ApiException) as exc:
        core.patch_namespaced_config_map(
            "a",
            "default",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
            _content_type=APPLY,
        )
    assert exc.value.status == 422
    body = status_body(exc.value)
    assert body["reason"] == "Invalid"
    assert body["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
        "is required for apply patch"
    )


def test_updates_record_update_manager(core: client.CoreV1Api) -> None:
    made = core.create_namespaced_config_map(
        "default", {"metadata": {"name": "a"}, "data": {"x": "1"}}, field_manager="creator"
    )
    assert _managers(made)[("creator", "Update")] == {"f:data": {"f:x": {}}}
    patched = core.patch_namespaced_config_map("a", "default", {"data": {"y": "2"}})
    # without fieldManager the user agent's product names the manager (OpenAPI-Generator)
    owners = _managers(patched)
    assert owners[("creator", "Update")] == {"f:data": {"f:x": {}}}
    ((agent, _),) = [k for k in owners if k[0] != "creator"]
    assert owners[(agent, "Update")] == {"f:data": {"f:y": {}}}


def test_apply_conflict_with_update_owner_is_409_with_causes(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "a"}, "data": {"x": "1"}}, field_manager="kubectl-edit"
    )
    with pytest.raises(client.ApiException) as exc:
        _apply(core, {"metadata": {"name": "a"}, "data": {"x": "2"}}, "ctrl")
    assert exc.value.status == 409
    body = status_body(exc.value)
    assert body["reason"] == "Conflict"
    assert body["message"].startswith(
        'Apply failed with 1 conflict: conflict with "kubectl-edit" using v1 at '
    )
    (cause,) = body["details"]["causes"]
    assert cause["reason"] == "FieldManagerConflict"
    assert cause["field"] == ".data.x"
    assert cause["message"].startswith('conflict with "kubectl-edit" using v1')
    # the same value is no conflict: both managers own the field
    shared = _apply(core, {"metadata": {"name": "a"}, "data": {"x": "1"}}, "ctrl")
    owners = _managers(shared)
    assert (
        owners[("ctrl", "Apply")] == owners[("kubectl-edit", "Update")] == {"f:data": {"f:x": {}}}
    )


def test_force_takes_ownership(core: client.CoreV1Api) -> None:
    _apply(core, {"metadata": {"name": "a"}, "data": {"x": "1", "y": "1"}}, "first")
    forced = _apply(core, {"metadata": {"name": "a"}, "data": {"x": "2"}}, "second", force=True)
    assert forced.data == {"x": "2", "y": "1"}
    owners = _managers(forced)
    assert owners[("first", "Apply")] == {"f:data": {"f:y": {}}}
    assert owners[("second", "Apply")] == {"f:data": {"f:x": {}}}


def test_apply_removes_fields_the_manager_stopped_applying(core: client.CoreV1Api) -> None:
    _apply(core, {"metadata": {"name": "a", "labels": {"a": "1", "b": "1"}}}, "ctrl")
    core.patch_namespaced_config_map("a", "default", {"data": {"other": "kept"}})
    again = _apply(core, {"metadata": {"name": "a", "labels": {"a": "1"}}}, "ctrl")
    assert again.metadata.labels == {"a": "1"}
    assert again.data == {"other": "kept"}  # owned by another manager: untouched


def test_apply_merges_associative_lists_by_key(core: client.CoreV1Api) -> None:
    core.create_namespaced_service(
        "default",
        {"metadata": {"name": "web"}, "spec": {"ports": [{"name": "http", "port": 80}]}},
        field_manager="creator",
    )
    applied = core.patch_namespaced_service(
        "web",
        "default",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"ports": [{"name": "https", "port": 443}]},
        },
        field_manager="ctrl",
        _content_type=APPLY,
    )
    assert sorted(p.port for p in applied.spec.ports) == [80, 443]
    fields = _managers(applied)[("ctrl", "Apply")]
    assert fields["f:spec"]["f:ports"]['k:{"port":443}']["."] == {}


def test_status_apply_is_tracked_per_subresource(core: client.CoreV1Api) -> None:
    core.create_namespaced_service(
        "default",
        {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}},
    )
    applied = core.patch_namespaced_service_status(
        "lb",
        "default",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "lb"},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.7"}]}},
        },
        field_manager="ccm",
        _content_type=APPLY,
    )
    assert applied.status.load_balancer.ingress[0].ip == "192.0.2.7"
    (entry,) = [m for m in applied.metadata.managed_fields if m.manager == "ccm"]
    assert entry.subresource == "status"
    assert list(entry.fields_v1) == ["f:status"]


def test_no_op_write_keeps_managed_fields_and_version(core: client.CoreV1Api) -> None:
    made = _apply(core, {"metadata": {"name": "a"}, "data": {"x": "1"}}, "ctrl")
    time.sleep(1.05)  # managedFields times have second precision: a new time would show
    again = _apply(core, {"metadata": {"name": "a"}, "data": {"x": "1"}}, "ctrl")
    assert again.metadata.resource_version == made.metadata.resource_version
    assert again.metadata.managed_fields[0].time == made.metadata.managed_fields[0].time


def test_force_on_non_apply_patch_is_422(core: client.CoreV1Api) -> None:
    # ValidatePatchOptions: "force: Forbidden: may not be specified for non-apply patch"
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    with pytest.raises(client.ApiException) as exc:
        core.patch_namespaced_config_map("a", "default", {"data": {"x": "1"}}, force=True)
    assert exc.value.status == 422
    assert status_body(exc.value)["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: '
        "may not be specified for non-apply patch"
    )


# -- custom resources: x-kubernetes-list-type from the CRD schema -------------------------------
# https://kubernetes.io/docs/reference/using-api/server-side-apply/#merge-strategy


GROUP = "apply.osk8s.io"


def _crd() -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "replicas": {"type": "integer", "default": 1},
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["port", "protocol"],
                        "items": {
                            "type": "object",
                            "required": ["port", "protocol"],
                            "properties": {
                                "port": {"type": "integer"},
                                "protocol": {"type": "string"},
                                "name": {"type": "string"},
                            },
                        },
                    },
                    "tags": {
                        "type": "array",
                        "x-kubernetes-list-type": "set",
                        "items": {"type": "string"},
                    },
                    "servers": {"type": "array", "items": {"type": "string"}},
                },
            }
        },
    }
    return {
        "metadata": {"name": f"gadgets.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def _apply_gadget(custom: client.CustomObjectsApi, spec: dict[str, Any], manager: str) -> Any:
    body = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gadget",
        "metadata": {"name": "g"},
        "spec": spec,
    }
    return custom.patch_namespaced_custom_object(
        GROUP,
        "v1",
        "default",
        "gadgets",
        "g",
        body,
        field_manager=manager,
        _content_type=APPLY,
    )


def test_custom_resource_apply_uses_list_types_and_not_defaults(
    extensions: client.ApiextensionsV1Api, custom: client.CustomObjectsApi
) -> None:
    extensions.create_custom_resource_definition(_crd())
    first = _apply_gadget(
        custom,
        {"ports": [{"port": 80, "protocol": "TCP"}], "tags": ["a"], "servers": ["x"]},
        "one",
    )
    assert first["spec"]["replicas"] == 1  # defaulted on the merged object...
    owned = next(m for m in first["metadata"]["managedFields"] if m["manager"] == "one")
    assert "f:replicas" not in owned["fieldsV1"]["f:spec"]  # ...but not owned by the applier
    assert 'k:{"port":80,"protocol":"TCP"}' in owned["fieldsV1"]["f:spec"]["f:ports"]
    assert 'v:"a"' in owned["fieldsV1"]["f:spec"]["f:tags"]
    second = _apply_gadget(
        custom,
        {"ports": [{"port": 80, "protocol": "UDP"}], "tags": ["b"], "replicas": 3},
        "two",
    )
    spec = second["spec"]
    # map and set lists merge across managers; the replicas default is not a conflict
    assert [(p["port"], p["protocol"]) for p in spec["ports"]] == [(80, "TCP"), (80, "UDP")]
    assert sorted(spec["tags"]) == ["a", "b"]
    assert spec["replicas"] == 3
    # an atomic list owned by another manager conflicts
    with pytest.raises(client.ApiException) as exc:
        _apply_gadget(custom, {"servers": ["y"]}, "two")
    assert exc.value.status == 409
    assert status_body(exc.value)["details"]["causes"][0]["field"] == ".spec.servers"


def test_update_takes_ownership_then_apply_conflicts(core: client.CoreV1Api) -> None:
    # "Conflicts ... an Update (non-apply) always succeeds and takes ownership" (SSA docs,
    # "Field management"): the applier must force to get the field back
    _apply(core, {"metadata": {"name": "a"}, "data": {"x": "1"}}, "ctrl")
    edited = core.patch_namespaced_config_map(
        "a", "default", {"data": {"x": "2"}}, field_manager="editor"
    )
    owners = _managers(edited)
    assert owners[("editor", "Update")] == {"f:data": {"f:x": {}}}
    assert ("ctrl", "Apply") not in owners  # its only field was taken over
    with pytest.raises(client.ApiException) as exc:
        _apply(core, {"metadata": {"name": "a"}, "data": {"x": "1"}}, "ctrl")
    assert status_body(exc.value)["details"]["causes"][0]["message"].startswith(
        'conflict with "editor" using v1 at '
    )


def test_apply_drops_list_items_it_no_longer_applies(core: client.CoreV1Api) -> None:
    def apply_ports(*ports: int) -> Any:
        return core.patch_namespaced_service(
            "web",
            "default",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"ports": [{"name": f"p{p}", "port": p} for p in ports]},
            },
            field_manager="ctrl",
            _content_type=APPLY,
        )

    assert [p.port for p in apply_ports(80, 443).spec.ports] == [80, 443]
    assert [p.port for p in apply_ports(80).spec.ports] == [80]


def test_apply_drops_a_field_inside_a_kept_list_item(core: client.CoreV1Api) -> None:
    first = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}
    for spec in (
        {"ports": [{"name": "http", "port": 80, "appProtocol": "http"}]},
        {"ports": [{"name": "http", "port": 80}]},
    ):
        applied = core.patch_namespaced_service(
            "web", "default", {**first, "spec": spec}, field_manager="ctrl", _content_type=APPLY
        )
    assert applied.spec.ports[0].app_protocol is None
    assert applied.spec.ports[0].port == 80
