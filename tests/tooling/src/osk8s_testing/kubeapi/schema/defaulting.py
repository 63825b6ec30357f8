"""Defaulting from ``default`` in a structural schema, as apiextensions-apiserver applies it.

A property's default is set when the key is missing (or null while the property is not
``nullable``); defaults apply only inside objects that exist, recurse into the defaulted
value, into array items (defaults inside arrays of objects) and map values. Nulls of
non-nullable fields without a default are dropped first, as upstream prunes them before
defaulting. Runs on decode of a request and on read from storage.
"""

from __future__ import annotations

import copy
from typing import Any

from osk8s_testing.kubeapi.schema import structural
from osk8s_testing.kubeapi.schema.structural import Schema


def apply_defaults(value: Any, schema: Schema, *, root: bool = False) -> None:
    """Default ``value`` in place (a whole object with ``root``, or any node)."""
    if isinstance(value, dict):
        props = structural.properties(schema)
        if root:  # ObjectMeta is never defaulted from the schema
            props = {k: v for k, v in props.items() if k != "metadata"}
        for key, prop in props.items():
            present = key in value
            if present and value[key] is None and not prop.get("nullable"):
                if "default" in prop:
                    value[key] = copy.deepcopy(prop["default"])
                else:
                    del value[key]
            elif not present and "default" in prop:
                value[key] = copy.deepcopy(prop["default"])
        extra = structural.additional(schema)
        for key, sub in value.items():
            target = props.get(key, extra)
            if target is not None and sub is not None:
                apply_defaults(sub, target)
    elif isinstance(value, list):
        item = structural.items(schema)
        if item is not None:
            for element in value:
                if element is not None:
                    apply_defaults(element, item)
