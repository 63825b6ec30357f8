"""Strategic merge patch for the built-in types we patch, with their real patch merge keys.

The merge keys and strategies are those of the Kubernetes API types (``patchStrategy`` /
``patchMergeKey`` struct tags): e.g. Node ``status.conditions`` and ``status.addresses`` merge
by ``type``, Service ``spec.ports`` by ``port``, container ``ports`` by ``containerPort``, and
``metadata.finalizers`` is a merged set. Lists without a strategy are replaced, as upstream.
Directives handled: ``$patch`` (replace/delete/merge), ``$deleteFromPrimitiveList/<f>``,
``$retainKeys``; ``$setElementOrder/<f>`` is accepted and ignored (order only).
"""

from __future__ import annotations

import copy
from typing import Any

from osk8s_testing.kubeapi.errors import bad_request

MERGE_PRIMITIVE = ""
"""Merge key value meaning 'list of scalars merged as a set'."""

_META: dict[str, str] = {
    "metadata.finalizers": MERGE_PRIMITIVE,
    "metadata.ownerReferences": "uid",
}

_POD_SPEC: dict[str, str] = {
    "containers": "name",
    "containers[].ports": "containerPort",
    "containers[].env": "name",
    "containers[].volumeMounts": "mountPath",
    "containers[].volumeDevices": "devicePath",
    "initContainers": "name",
    "initContainers[].ports": "containerPort",
    "initContainers[].env": "name",
    "initContainers[].volumeMounts": "mountPath",
    "initContainers[].volumeDevices": "devicePath",
    "ephemeralContainers": "name",
    "volumes": "name",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
}


def _prefixed(prefix: str, table: dict[str, str]) -> dict[str, str]:
    return {f"{prefix}.{path}": key for path, key in table.items()}


MERGE_KEYS: dict[str, dict[str, str]] = {
    "Node": {
        "spec.podCIDRs": MERGE_PRIMITIVE,
        "status.conditions": "type",
        "status.addresses": "type",
    },
    "Service": {"spec.ports": "port", "status.conditions": "type"},
    "Pod": {
        **_prefixed("spec", _POD_SPEC),
        "status.conditions": "type",
        "status.podIPs": "ip",
    },
    "Deployment": {
        **_prefixed("spec.template.spec", _POD_SPEC),
        "status.conditions": "type",
    },
    "Namespace": {"status.conditions": "type"},
    "PersistentVolumeClaim": {"status.conditions": "type"},
    # Ingress, Secret, ConfigMap, Event, Lease, Endpoints: no merged lists beyond metadata
    # (Ingress rules/tls and loadBalancer.ingress are atomic lists upstream).
}


def merge_keys_for(kind: str) -> dict[str, str]:
    return {**_META, **MERGE_KEYS.get(kind, {})}


def apply(original: dict[str, Any], patch: Any, kind: str) -> dict[str, Any]:
    if not isinstance(patch, dict):
        raise bad_request("strategic merge patch body must be a JSON object")
    merged = _merge_map(copy.deepcopy(original), copy.deepcopy(patch), "", merge_keys_for(kind))
    if merged is None:
        raise bad_request("strategic merge patch cannot delete the whole object")
    return merged


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _merge_map(
    original: dict[str, Any], patch: dict[str, Any], path: str, keys: dict[str, str]
) -> dict[str, Any] | None:
    directive = patch.pop("$patch", None)
    if directive == "delete":
        return None
    if directive == "replace":
        replaced: dict[str, Any] = _strip(patch)
        return replaced
    retain = patch.pop("$retainKeys", None)
    for name in list(patch):
        if name.startswith("$setElementOrder/"):
            del patch[name]
        elif name.startswith("$deleteFromPrimitiveList/"):
            field = name.split("/", 1)[1]
            doomed = patch.pop(name) or []
            if isinstance(original.get(field), list):
                original[field] = [v for v in original[field] if v not in doomed]
    for name, value in patch.items():
        sub = _child(path, name)
        if value is None:
            original.pop(name, None)
        elif isinstance(value, dict) and isinstance(original.get(name), dict):
            merged = _merge_map(original[name], value, sub, keys)
            if merged is None:
                original.pop(name, None)
            else:
                original[name] = merged
        elif isinstance(value, list) and isinstance(original.get(name), list):
            original[name] = _merge_list(original[name], value, sub, keys)
        else:
            stripped = _strip(value)
            if stripped is None:
                original.pop(name, None)
            else:
                original[name] = stripped
    if isinstance(retain, list):
        for name in list(original):
            if name not in retain:
                del original[name]
    return original


def _merge_list(
    original: list[Any], patch: list[Any], path: str, keys: dict[str, str]
) -> list[Any]:
    if path not in keys:
        return [_strip(v) for v in patch if not _is_directive(v)]
    merge_key = keys[path]
    if any(isinstance(v, dict) and v.get("$patch") == "replace" for v in patch):
        return [_strip(v) for v in patch if not _is_directive(v)]
    if merge_key == MERGE_PRIMITIVE:
        out = list(original)
        out.extend(v for v in patch if v not in out)
        return out
    out = list(original)
    elem_path = f"{path}[]"
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            raise bad_request(f"map: {item!r} does not contain declared merge key: {merge_key}")
        index = next(
            (
                i
                for i, o in enumerate(out)
                if isinstance(o, dict) and o.get(merge_key) == item[merge_key]
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del out[index]
            continue
        if index is None:
            out.append(_strip(item))
        else:
            merged = _merge_map(out[index], item, elem_path, keys)
            if merged is None:
                del out[index]
            else:
                out[index] = merged
    return out


def _is_directive(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"$patch"}


def _strip(value: Any) -> Any:
    """Drop directive keys from newly added values (they are instructions, not data)."""
    if isinstance(value, dict):
        if value.get("$patch") == "delete":
            return None
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [_strip(v) for v in value if not _is_directive(v)]
    return value
