"""Navigation of a CRD's structural schema (``openAPIV3Schema`` as plain JSON).

A structural schema names every field's type in ``properties`` / ``items`` /
``additionalProperties``; ``allOf``/``anyOf``/``oneOf``/``not`` may only add value
validations, so pruning and defaulting follow the three child keys alone. The root object
always keeps ``apiVersion``, ``kind`` and ``metadata``, as do nodes marked
``x-kubernetes-embedded-resource``. Pure functions over dicts.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
TYPE_META = ("apiVersion", "kind", "metadata")


def properties(schema: Schema) -> dict[str, Schema]:
    props = schema.get("properties")
    return props if isinstance(props, dict) else {}


def items(schema: Schema) -> Schema | None:
    found = schema.get("items")
    return found if isinstance(found, dict) else None


def additional(schema: Schema) -> Schema | None:
    """The schema of map values (``additionalProperties: {...}``); ``true`` counts as ``{}``."""
    found = schema.get("additionalProperties")
    if found is True:
        return {"x-kubernetes-preserve-unknown-fields": True}
    return found if isinstance(found, dict) else None


def preserves_unknown(schema: Schema) -> bool:
    return bool(schema.get("x-kubernetes-preserve-unknown-fields"))


def embedded(schema: Schema) -> bool:
    return bool(schema.get("x-kubernetes-embedded-resource"))


def child(schema: Schema, key: str) -> Schema | None:
    """The schema of ``key`` in an object described by ``schema``, if the schema knows it."""
    props = properties(schema)
    if key in props:
        return props[key]
    return additional(schema)


def json_type(value: Any) -> str:
    """The OpenAPI type name of a decoded JSON value, as kube-openapi reports it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def json_equal(a: Any, b: Any) -> bool:
    """Deep equality that keeps booleans apart from numbers (Python's True == 1 is not JSON's)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return bool(a == b)
