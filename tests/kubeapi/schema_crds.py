"""A small CRD for the schema tests: one served version per schema, status subresource."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client

GROUP, PLURAL, KIND = "schema.osk8s.io", "gadgets", "Gadget"

SPEC: dict[str, Any] = {
    "type": "object",
    "required": ["size"],
    "properties": {
        "size": {"type": "integer", "minimum": 1, "maximum": 10},
        "name": {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^[a-z]+$"},
        "mode": {"type": "string", "enum": ["Fast", "Slow"], "default": "Slow"},
        "id": {"type": "string", "format": "uuid"},
        "address": {"type": "string", "format": "ipv4"},
        "ratio": {"type": "number"},
        "port": {
            "x-kubernetes-int-or-string": True,
            "anyOf": [{"type": "integer"}, {"type": "string"}],
        },
        "options": {
            "type": "object",
            "default": {},
            "properties": {
                "retries": {"type": "integer", "default": 3},
                "nested": {
                    "type": "object",
                    "default": {},
                    "properties": {"depth": {"type": "integer", "default": 2}},
                },
            },
        },
        "disks": {
            "type": "array",
            "maxItems": 3,
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "type": {"type": "string", "default": "Local"},
                },
            },
        },
        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "zones": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "labels": {
            "type": "object",
            "maxProperties": 2,
            "minProperties": 1,
            "additionalProperties": {"type": "string"},
        },
        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "zone": {
            "type": "object",
            "properties": {"region": {"type": "string"}},
            "x-kubernetes-validations": [
                {
                    "rule": "(!has(self.region) && !has(oldSelf.region)) || self.region == oldSelf.region",  # noqa: E501
                    "message": "region is immutable",
                }
            ],
        },
        "limits": {
            "type": "object",
            "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
            "x-kubernetes-validations": [
                {
                    "rule": "self.min <= self.max",
                    "messageExpression": "'min ' + string(self.min) + ' exceeds max ' + string(self.max)",  # noqa: E501
                    "fieldPath": ".min",
                },
                {"rule": "self.max < 100", "reason": "FieldValueForbidden", "message": "too big"},
            ],
        },
        "exotic": {
            "type": "string",
            "x-kubernetes-validations": [{"rule": "quantity(self).isGreaterThan(quantity('1'))"}],
        },
        "lower": {
            "type": "string",
            "x-kubernetes-validations": [{"rule": "self.lowerAscii() == self"}],
        },
    },
}

STATUS: dict[str, Any] = {
    "type": "object",
    "x-kubernetes-validations": [
        {"rule": "!has(self.count) || self.count >= 0", "message": "count must not be negative"}
    ],
    "properties": {
        "phase": {"type": "string", "enum": ["Ready", "Failed"]},
        "count": {"type": "integer", "default": 0},
    },
}


def crd(*, versions: tuple[str, ...] = ("v1",), conversion: str | None = None) -> dict[str, Any]:
    """``versions[0]`` is the storage version; every version uses the same schema."""
    spec: dict[str, Any] = {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "gadget", "kind": KIND},
        "versions": [
            {
                "name": v,
                "served": True,
                "storage": i == 0,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "apiVersion": {"type": "string"},
                            "kind": {"type": "string"},
                            "metadata": {"type": "object"},
                            "spec": copy.deepcopy(SPEC),
                            "status": copy.deepcopy(STATUS),
                        },
                        "x-kubernetes-validations": [
                            {
                                "rule": "self.metadata.name != 'forbidden'",
                                "message": "name is reserved",
                            }
                        ],
                    }
                },
            }
            for i, v in enumerate(versions)
        ],
    }
    if conversion:
        spec["conversion"] = {"strategy": conversion}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": spec,
    }


def gadget(obj_name: str = "g", version: str = "v1", **spec: Any) -> dict[str, Any]:
    spec.setdefault("size", 1)
    return {
        "apiVersion": f"{GROUP}/{version}",
        "kind": KIND,
        "metadata": {"name": obj_name},
        "spec": spec,
    }


def install(extensions: client.ApiextensionsV1Api, body: dict[str, Any]) -> None:
    """Create a CRD without the typed client's (slow) model decoding; the body is read."""
    extensions.create_custom_resource_definition(body, _preload_content=False).read()


def change_schema(
    extensions: client.ApiextensionsV1Api, change: Callable[[dict[str, Any]], None]
) -> None:
    """Replace the Gadget CRD with ``change`` applied to a fresh copy of its spec schema."""
    name = f"{PLURAL}.{GROUP}"
    newer = crd()
    change(newer["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"])
    current = json.loads(
        extensions.read_custom_resource_definition(name, _preload_content=False).read()
    )
    newer["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    extensions.replace_custom_resource_definition(name, newer, _preload_content=False).read()


@pytest.fixture
def gadgets(
    extensions: client.ApiextensionsV1Api, custom: client.CustomObjectsApi
) -> client.CustomObjectsApi:
    """The Gadget CRD installed; the custom objects API to use it (import where needed)."""
    install(extensions, crd())
    return custom
