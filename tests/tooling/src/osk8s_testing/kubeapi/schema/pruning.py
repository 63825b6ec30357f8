"""Pruning of unknown fields, as kube-apiserver does for custom resources on every write.

Fields not named by ``properties`` are dropped unless the node has ``additionalProperties`` or
``x-kubernetes-preserve-unknown-fields: true`` (then unknown fields stay, known ones are still
pruned inside). Returns the dropped paths: upstream reports them as warnings
(``unknown field "spec.x"``), or rejects them with ``fieldValidation=Strict``.
"""

from __future__ import annotations

from typing import Any

from osk8s_testing.kubeapi.schema import structural
from osk8s_testing.kubeapi.schema.structural import Schema


def prune_object(obj: dict[str, Any], schema: Schema) -> list[str]:
    """Prune a whole custom resource in place (root keeps apiVersion/kind/metadata)."""
    dropped: list[str] = []
    _prune(obj, schema, "", dropped, root=True)
    return dropped


def _prune(value: Any, schema: Schema, path: str, dropped: list[str], *, root: bool) -> None:
    if isinstance(value, dict):
        props = structural.properties(schema)
        extra = structural.additional(schema)
        keep_unknown = structural.preserves_unknown(schema)
        keep_meta = root or structural.embedded(schema)
        for key in list(value):
            sub = f"{path}.{key}" if path else key
            if keep_meta and (
                key == "metadata" or (key in structural.TYPE_META and key not in props)
            ):
                continue  # ObjectMeta is pruned by its Go type upstream, not by the schema
            if key in props:
                _prune(value[key], props[key], sub, dropped, root=False)
            elif extra is not None:
                _prune(value[key], extra, sub, dropped, root=False)
            elif not keep_unknown:
                del value[key]
                dropped.append(sub)
    elif isinstance(value, list):
        item = structural.items(schema)
        if item is not None:
            for i, element in enumerate(value):
                _prune(element, item, f"{path}[{i}]", dropped, root=False)
