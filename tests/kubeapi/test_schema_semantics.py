"""CRD structural schemas as kube-apiserver applies them: prune, default, validate, errors.

Pinned wording, from upstream source: k8s.io/apimachinery field.Error.ErrorBody ("<Type>: <bad
value>: <detail>", strings quoted, numbers bare) and utilerrors' aggregate ("[e1, e2]" for
several); apiextensions-apiserver kubeOpenAPIResultToFieldErrors (required -> field.Required,
enum -> field.NotSupported 'supported values: "a", "b"', maxLength -> field.TooLongMaxLength
"may not be longer than N", maxItems/maxProperties -> field.TooMany "must have at most N
items", type/format -> field.TypeInvalid, others -> field.Invalid); kube-openapi's messages
("<path> in body should be at least N chars long", "should match '<re>'", "should be greater
than or equal to N", "must be of type T: \"<actual>\""); apierrors.NewInvalid for the body
(422, reason Invalid, one cause per field error).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from kubernetes import client

from osk8s_testing.kubeapi import KubeApiServer

from . import schema_crds
from .conftest import status_body
from .schema_crds import GROUP, PLURAL, change_schema, gadget

gadgets = schema_crds.gadgets  # the shared fixture


def _create(custom: client.CustomObjectsApi, body: dict[str, Any]) -> dict[str, Any]:
    made: dict[str, Any] = custom.create_namespaced_custom_object(
        GROUP, "v1", "default", PLURAL, body
    )
    return made


def _rejected(custom: client.CustomObjectsApi, body: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(client.ApiException) as caught:
        _create(custom, body)
    assert caught.value.status == 422
    return status_body(caught.value)


def _causes(status: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["reason"], c["field"], c["message"]) for c in status["details"]["causes"]]


def test_defaults_nested_and_inside_arrays_of_objects(gadgets: client.CustomObjectsApi) -> None:
    made = _create(gadgets, gadget(disks=[{"name": "a"}, {"name": "b", "type": "Volume"}]))
    spec = made["spec"]
    assert spec["mode"] == "Slow"
    # an object default, then the defaults inside it, then one level deeper
    assert spec["options"] == {"retries": 3, "nested": {"depth": 2}}
    assert spec["disks"] == [{"name": "a", "type": "Local"}, {"name": "b", "type": "Volume"}]
    stored = gadgets.get_namespaced_custom_object(GROUP, "v1", "default", PLURAL, "g")
    assert stored["spec"] == spec


def test_null_for_a_non_nullable_field_takes_the_default(gadgets: client.CustomObjectsApi) -> None:
    made = _create(gadgets, gadget(mode=None, name=None))
    assert made["spec"]["mode"] == "Slow"
    assert "name" not in made["spec"]


def test_unknown_fields_are_pruned_except_where_preserved(
    gadgets: client.CustomObjectsApi,
) -> None:
    made = _create(
        gadgets,
        {
            **gadget(extra={"anything": {"goes": [1]}}, surprise=True),
            "topLevel": "x",
        },
    )
    assert "surprise" not in made["spec"]
    assert "topLevel" not in made
    assert made["spec"]["extra"] == {"anything": {"goes": [1]}}
    assert made["metadata"]["name"] == "g"  # ObjectMeta is never pruned by the schema


def test_rejection_body_is_kube_apiservers(gadgets: client.CustomObjectsApi) -> None:
    status = _rejected(gadgets, gadget(size=0))
    assert status["kind"] == "Status"
    assert status["status"] == "Failure"
    assert status["reason"] == "Invalid"
    assert status["code"] == 422
    assert status["details"]["name"] == "g"
    assert status["details"]["group"] == GROUP
    assert status["details"]["kind"] == "Gadget"
    # one error: printed bare (utilerrors aggregate of one), with the kube-openapi detail
    assert status["message"] == (
        'Gadget.schema.osk8s.io "g" is invalid: spec.size: Invalid value: 0: '
        "spec.size in body should be greater than or equal to 1"
    )


@pytest.mark.parametrize(
    ("spec", "cause"),
    [
        ({"size": 11}, ("FieldValueInvalid", "spec.size", "Invalid value: 11: spec.size in body should be less than or equal to 10")),  # noqa: E501
        ({"size": "3"}, ("FieldValueTypeInvalid", "spec.size", 'Invalid value: "string": spec.size in body must be of type integer: "string"')),  # noqa: E501
        ({"size": 1.5}, ("FieldValueTypeInvalid", "spec.size", 'Invalid value: "number": spec.size in body must be of type integer: "number"')),  # noqa: E501
        ({"name": "abcdef"}, ("FieldValueTooLong", "spec.name", "Too long: may not be longer than 5")),  # noqa: E501
        ({"name": "AB"}, ("FieldValueInvalid", "spec.name", "Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'")),  # noqa: E501
        ({"mode": "Turbo"}, ("FieldValueNotSupported", "spec.mode", 'Unsupported value: "Turbo": supported values: "Fast", "Slow"')),  # noqa: E501
        ({"id": "not-a-uuid"}, ("FieldValueTypeInvalid", "spec.id", 'Invalid value: "not-a-uuid": spec.id in body must be of type uuid: "not-a-uuid"')),  # noqa: E501
        ({"address": "300.1.1.1"}, ("FieldValueTypeInvalid", "spec.address", 'Invalid value: "300.1.1.1": spec.address in body must be of type ipv4: "300.1.1.1"')),  # noqa: E501
        ({"zones": []}, ("FieldValueInvalid", "spec.zones", "Invalid value: 0: spec.zones in body should have at least 1 items")),  # noqa: E501
        ({"tags": ["a", "b", "a"]}, ("FieldValueDuplicate", "spec.tags[2]", 'Duplicate value: "a"')),  # noqa: E501
        ({"disks": [{"name": "x"}, {"name": "x"}]}, ("FieldValueDuplicate", "spec.disks[1]", 'Duplicate value: {"name":"x"}')),  # noqa: E501
        ({"disks": [{"name": str(i)} for i in range(4)]}, ("FieldValueTooMany", "spec.disks", "Too many: 4: must have at most 3 items")),  # noqa: E501
        ({"disks": [{"type": "Local"}]}, ("FieldValueRequired", "spec.disks[0].name", "Required value")),  # noqa: E501
        ({"labels": {}}, ("FieldValueInvalid", "spec.labels", "Invalid value: 0: spec.labels in body should have at least 1 properties")),  # noqa: E501
        ({"labels": {"a": "1", "b": "2", "c": "3"}}, ("FieldValueTooMany", "spec.labels", "Too many: 3: must have at most 2 items")),  # noqa: E501
        ({"labels": {"a": 1}}, ("FieldValueTypeInvalid", "spec.labels.a", 'Invalid value: "integer": spec.labels.a in body must be of type string: "integer"')),  # noqa: E501
        ({"port": True}, ("FieldValueTypeInvalid", "spec.port", 'Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"')),  # noqa: E501
    ],
)  # fmt: skip
def test_value_validations(
    gadgets: client.CustomObjectsApi, spec: dict[str, Any], cause: tuple[str, str, str]
) -> None:
    status = _rejected(gadgets, gadget(**{"size": 1, **spec}))
    assert _causes(status) == [cause]
    assert status["message"] == f'Gadget.schema.osk8s.io "g" is invalid: {cause[1]}: {cause[2]}'


def test_several_errors_are_listed_in_brackets(gadgets: client.CustomObjectsApi) -> None:
    body = gadget(name="")
    del body["spec"]["size"]
    status = _rejected(gadgets, body)
    # upstream's order follows Go map iteration; ours is required first, then field by field
    assert [c[:2] for c in _causes(status)] == [
        ("FieldValueRequired", "spec.size"),
        ("FieldValueInvalid", "spec.name"),
        ("FieldValueInvalid", "spec.name"),
    ]
    assert status["message"] == (
        'Gadget.schema.osk8s.io "g" is invalid: [spec.size: Required value, spec.name: Invalid '
        'value: "": spec.name in body should be at least 1 chars long, spec.name: Invalid value: '
        "\"\": spec.name in body should match '^[a-z]+$']"
    )


def test_valid_values_are_accepted(gadgets: client.CustomObjectsApi) -> None:
    made = _create(
        gadgets,
        gadget(
            size=10,
            name="abc",
            mode="Fast",
            id="0B6E5C3A-9a2f-4c9e-8a43-6f6e1a7e9d11",
            address="10.0.0.1",
            ratio=1,
            port="http",
            tags=["a", "b"],
            labels={"a": "x"},
        ),
    )
    assert made["spec"]["ratio"] == 1
    assert made["spec"]["port"] == "http"


def test_update_and_patch_are_validated_and_defaulted(gadgets: client.CustomObjectsApi) -> None:
    made = _create(gadgets, gadget())
    made["spec"]["size"] = 20
    with pytest.raises(client.ApiException) as caught:
        gadgets.replace_namespaced_custom_object(GROUP, "v1", "default", PLURAL, "g", made)
    assert caught.value.status == 422
    assert _causes(status_body(caught.value))[0][1] == "spec.size"
    with pytest.raises(client.ApiException) as caught:
        gadgets.patch_namespaced_custom_object(
            GROUP, "v1", "default", PLURAL, "g", {"spec": {"mode": "Turbo"}}
        )
    assert _causes(status_body(caught.value))[0][0] == "FieldValueNotSupported"
    # a merge patch removing a defaulted field gets the default back
    patched = gadgets.patch_namespaced_custom_object(
        GROUP, "v1", "default", PLURAL, "g", {"spec": {"mode": None, "size": 2}}
    )
    assert patched["spec"]["mode"] == "Slow"
    assert patched["spec"]["size"] == 2


def test_status_subresource_validates_status_and_ignores_spec(
    gadgets: client.CustomObjectsApi,
) -> None:
    made = _create(gadgets, {**gadget(), "status": {"phase": "Ready"}})
    assert "status" not in made  # dropped on create with the status subresource
    made["status"] = {"phase": "Bogus"}
    with pytest.raises(client.ApiException) as caught:
        gadgets.replace_namespaced_custom_object_status(GROUP, "v1", "default", PLURAL, "g", made)
    assert _causes(status_body(caught.value)) == [
        (
            "FieldValueNotSupported",
            "status.phase",
            'Unsupported value: "Bogus": supported values: "Ready", "Failed"',
        )
    ]
    made["status"] = {"phase": "Ready"}
    made["spec"]["size"] = 99  # invalid, but a status write keeps the stored spec
    written = gadgets.replace_namespaced_custom_object_status(
        GROUP, "v1", "default", PLURAL, "g", made
    )
    assert written["status"] == {"phase": "Ready", "count": 0}
    assert written["spec"]["size"] == 1
    # the main resource ignores status: an invalid status there is neither stored nor checked
    current = gadgets.get_namespaced_custom_object(GROUP, "v1", "default", PLURAL, "g")
    current["status"] = {"phase": "Bogus"}
    current["spec"]["size"] = 2
    updated = gadgets.replace_namespaced_custom_object(GROUP, "v1", "default", PLURAL, "g", current)
    assert updated["status"]["phase"] == "Ready"


def test_unchanged_invalid_fields_are_ratcheted(
    gadgets: client.CustomObjectsApi, extensions: client.ApiextensionsV1Api
) -> None:
    _create(gadgets, gadget(name="abcde"))
    change_schema(extensions, lambda spec: spec["properties"]["name"].update(maxLength=3))
    # name is now too long, but unchanged: other changes still go through (ratcheting)
    patched = gadgets.patch_namespaced_custom_object(
        GROUP, "v1", "default", PLURAL, "g", {"spec": {"size": 3}}
    )
    assert patched["spec"]["size"] == 3
    with pytest.raises(client.ApiException) as caught:
        gadgets.patch_namespaced_custom_object(
            GROUP, "v1", "default", PLURAL, "g", {"spec": {"name": "abcdf"}}
        )
    assert _causes(status_body(caught.value)) == [
        ("FieldValueTooLong", "spec.name", "Too long: may not be longer than 3")
    ]


def test_defaults_are_applied_on_read_from_storage(
    gadgets: client.CustomObjectsApi, extensions: client.ApiextensionsV1Api
) -> None:
    _create(gadgets, gadget())
    change_schema(
        extensions,
        lambda spec: spec["properties"].update(color={"type": "string", "default": "blue"}),
    )
    read = gadgets.get_namespaced_custom_object(GROUP, "v1", "default", PLURAL, "g")
    assert read["spec"]["color"] == "blue"
    listed = gadgets.list_namespaced_custom_object(GROUP, "v1", "default", PLURAL)
    assert listed["items"][0]["spec"]["color"] == "blue"


def test_unknown_fields_warn_by_default_and_fail_with_strict(
    kube_api: KubeApiServer, gadgets: client.CustomObjectsApi
) -> None:
    url = f"{kube_api.url}/apis/{GROUP}/v1/namespaces/default/{PLURAL}"
    warned = requests.post(url, json=gadget("w", surprise=1), timeout=30)
    assert warned.status_code == 201
    assert warned.headers["Warning"] == '299 - "unknown field \\"spec.surprise\\""'
    assert "surprise" not in warned.json()["spec"]
    strict = requests.post(
        f"{url}?fieldValidation=Strict", json=gadget("s", surprise=1, other=2), timeout=5
    )
    assert strict.status_code == 400
    assert strict.json()["reason"] == "BadRequest"
    assert strict.json()["message"] == (
        'strict decoding error: unknown field "spec.surprise", unknown field "spec.other"'
    )
    ignored = requests.post(f"{url}?fieldValidation=Ignore", json=gadget("i", x=1), timeout=30)
    assert ignored.status_code == 201
    assert "Warning" not in ignored.headers
    clean = requests.get(f"{url}/w", timeout=30)
    assert "Warning" not in clean.headers


def test_a_status_write_persists_the_read_defaults_of_the_spec(
    gadgets: client.CustomObjectsApi, extensions: client.ApiextensionsV1Api
) -> None:
    made = _create(gadgets, gadget())
    change_schema(
        extensions,
        lambda spec: spec["properties"].update(color={"type": "string", "default": "blue"}),
    )
    made["status"] = {"phase": "Ready"}
    written = gadgets.replace_namespaced_custom_object_status(
        GROUP, "v1", "default", PLURAL, "g", made
    )
    # upstream copies the spec from the stored object as read (defaulted), then persists it
    assert written["spec"]["color"] == "blue"
    assert written["metadata"]["generation"] == 1
