"""Strategic merge patch for the built-in types we patch, with their real patch merge keys.

The merge keys and strategies are those of the Kubernetes API types (``patchStrategy`` /
``patchMergeKey`` struct tags): e.g. Node ``status.conditions`` and ``status.addresses`` merge
by ``type``, Service ``spec.ports`` by ``port``, container ``ports`` by ``containerPort``, and
``metadata.finalizers`` is a merged set. Lists without a strategy are replaced, as upstream.
Directives handled: ``$patch`` (replace/delete/merge), ``$deleteFromPrimitiveList/<f>``,
``$retainKeys`` and ``$setElementOrder/<f>``. The order of a merged list is apimachinery's
(``normalizeElementOrder``): the patch's items (in the patch's or ``$setElementOrder``'s order)
interleaved with the server-only items by their live order, so an item the live list does not
have comes *before* the server-only items that follow it -- e.g. a port added to a Service by a
plain SMP ends up first, as kube-apiserver puts it.
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
    orders: dict[str, list[Any]] = {}
    for name in list(patch):
        if name.startswith("$setElementOrder/"):
            order = patch.pop(name)
            if isinstance(order, list):
                orders[name.split("/", 1)[1]] = order
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
            original[name] = _merge_list(original[name], value, sub, keys, orders.get(name))
        else:
            stripped = _strip(value)
            if stripped is None:
                original.pop(name, None)
            else:
                original[name] = stripped
    for name, order in orders.items():
        # an order for a list the patch does not touch reorders the live list
        if (
            name not in patch
            and isinstance(original.get(name), list)
            and _child(path, name) in keys
        ):
            key = keys[_child(path, name)] or None  # MERGE_PRIMITIVE: items are their key
            original[name] = _ordered(original[name], [], original[name], order, key)
    if isinstance(retain, list):
        for name in list(original):
            if name not in retain:
                del original[name]
    return original


def _merge_list(
    original: list[Any],
    patch: list[Any],
    path: str,
    keys: dict[str, str],
    order: list[Any] | None = None,
) -> list[Any]:
    if path not in keys:
        return [_strip(v) for v in patch if not _is_directive(v)]
    merge_key = keys[path]
    if any(isinstance(v, dict) and v.get("$patch") == "replace" for v in patch):
        return [_strip(v) for v in patch if not _is_directive(v)]
    if merge_key == MERGE_PRIMITIVE:
        out = list(original)
        out.extend(v for v in patch if v not in out)
        return _ordered(out, patch, original, order if order is not None else patch, None)
    deleted = {
        item.get(merge_key)
        for item in patch
        if isinstance(item, dict) and item.get("$patch") == "delete"
    }
    live = [o for o in original if not (isinstance(o, dict) and o.get(merge_key) in deleted)]
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
    present = [p for p in patch if not (isinstance(p, dict) and p.get("$patch") == "delete")]
    return _ordered(out, present, live, order if order is not None else present, merge_key)


def _ordered(
    merged: list[Any], patch: list[Any], live: list[Any], order: list[Any], key: str | None
) -> list[Any]:
    """apimachinery's normalizeElementOrder + mergeSortedSlice on a merged list.

    Items named by ``order`` (the patch, or its ``$setElementOrder``) are sorted by it; the
    other (server-only) items keep their live order; then each next item is the server-only
    one when both lists know it and it comes first in the live list, else the patch one.
    """

    def ident(item: Any) -> Any:
        if key is None:
            return item
        return item.get(key) if isinstance(item, dict) else None

    def index(items: list[Any], item: Any) -> int:
        wanted = ident(item)
        return next((i for i, v in enumerate(items) if ident(v) == wanted), -1)

    named = {repr(ident(o)) for o in order} | {repr(ident(p)) for p in patch}
    from_patch = [m for m in merged if repr(ident(m)) in named]
    server_only = [m for m in merged if repr(ident(m)) not in named]
    from_patch = _stable_sort(from_patch, lambda m: index(order, m))
    server_only = _stable_sort(server_only, lambda m: index(live, m))
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(from_patch):
        if j >= len(from_patch):
            out.append(server_only[i])
            i += 1
        elif i >= len(server_only):
            out.append(from_patch[j])
            j += 1
        else:
            left, right = index(live, server_only[i]), index(live, from_patch[j])
            if left >= 0 and right >= 0 and left < right:
                out.append(server_only[i])
                i += 1
            else:
                out.append(from_patch[j])
                j += 1
    return out


def _stable_sort(items: list[Any], position: Any) -> list[Any]:
    """Go's sort.SliceStable with normalizeSliceOrder's less: unknown items sort first."""
    out = list(items)
    # insertion sort with the exact (non-transitive) comparator apimachinery uses
    for a in range(1, len(out)):
        b = a
        while b > 0 and _less(position, out[b], out[b - 1]):
            out[b - 1], out[b] = out[b], out[b - 1]
            b -= 1
    return out


def _less(position: Any, x: Any, y: Any) -> bool:
    ix = position(x)
    if ix >= 0:
        iy = position(y)
        if iy >= 0:
            return bool(ix < iy)
    return True


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
