"""Server-side apply and managedFields (field ownership), a subset of structured-merge-diff.

Every write records who set which fields in ``metadata.managedFields`` (FieldsV1: ``f:``
fields, ``k:`` associative-list items by merge key, ``v:`` set members, ``.`` for an owned
list item): non-apply writes as operation ``Update`` of the ``fieldManager`` (default: the
user agent's product), applies as operation ``Apply``. An apply (``application/apply-patch+yaml``)
merges the applied configuration into the live object, removes the fields the same manager
applied before and no longer applies (unless someone else owns them), and answers 409
``Conflict`` with ``FieldManagerConflict`` causes when it would change a field another manager
owns, unless ``force=true``, which takes the fields over. A missing ``fieldManager`` is a 422
on ``PatchOptions``; applying to a missing object creates it.

List semantics (:func:`list_keys`): built-in types use their strategic merge keys
(:mod:`strategic`: associative by that key, ``k:``, or sets, ``v:``); custom resources use
``x-kubernetes-list-type: map`` (with ``x-kubernetes-list-map-keys``) and ``set`` of their
schema; every other list is atomic. Status is tracked under ``subresource: status``.
Pure functions over JSON dicts; the caller locks and stores.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

from osk8s_testing.kubeapi import errors, strategic
from osk8s_testing.kubeapi.meta import metadata
from osk8s_testing.kubeapi.resources import ResourceType

Path = tuple[str, ...]
"""Elements: 'f:name', 'k:{"port":80}', 'v:"x"' (FieldsV1 spelling)."""

_STRIPPED_META = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "generateName",
)
APPLY, UPDATE = "Apply", "Update"


ListKeys = dict[str, tuple[str, ...]]
"""Dotted list path (``spec.ports``, ``spec.template.spec.containers[].env``) -> its keys;
``()`` for a set of scalars."""


def list_keys(rt: ResourceType, schema: dict[str, Any] | None) -> ListKeys:
    if not rt.custom:
        return {
            path: () if key == strategic.MERGE_PRIMITIVE else (key,)
            for path, key in strategic.merge_keys_for(rt.kind).items()
        }
    out: ListKeys = {"metadata.finalizers": (), "metadata.ownerReferences": ("uid",)}
    if schema:
        _schema_keys(schema, "", out)
    return out


def _schema_keys(schema: dict[str, Any], dotted: str, out: ListKeys) -> None:
    for name, child in (schema.get("properties") or {}).items():
        if isinstance(child, dict):
            _schema_keys(child, f"{dotted}.{name}" if dotted else name, out)
    items = schema.get("items")
    if schema.get("type") == "array" and isinstance(items, dict):
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "map" and schema.get("x-kubernetes-list-map-keys"):
            out[dotted] = tuple(schema["x-kubernetes-list-map-keys"])
        elif list_type == "set":
            out[dotted] = ()
        _schema_keys(items, f"{dotted}[]", out)


def _item_key(item: Any, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """The item's key fields (a key field the item lacks is left out, as for defaulted ones)."""
    if not isinstance(item, dict) or keys[0] not in item:
        return None
    return {k: item[k] for k in keys if k in item}


def _key_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


# -- field sets --------------------------------------------------------------------------------


def field_set(obj: dict[str, Any], rt: ResourceType, subresource: str, keys: ListKeys) -> set[Path]:
    """The paths a write of ``obj`` sets, minus what managedFields never tracks."""
    out: set[Path] = set()
    for name, value in obj.items():
        if name in ("apiVersion", "kind"):
            continue
        if rt.status_subresource and (name == "status") != (subresource == "status"):
            continue
        tracked = value
        if name == "metadata" and isinstance(value, dict):
            tracked = {k: v for k, v in value.items() if k not in _STRIPPED_META}
            if not tracked:
                continue
        _collect(tracked, (f"f:{name}",), name, keys, out)
    return out


def _collect(value: Any, path: Path, dotted: str, keys: ListKeys, out: set[Path]) -> None:
    if isinstance(value, dict) and value:
        for name, child in value.items():
            _collect(child, (*path, f"f:{name}"), f"{dotted}.{name}", keys, out)
        return
    if isinstance(value, list) and dotted in keys and value:
        item_keys = keys[dotted]
        for item in value:
            key = _item_key(item, item_keys) if item_keys else None
            if not item_keys:
                out.add((*path, f"v:{_key_json(item)}"))
            elif key is not None:
                element = (*path, f"k:{_key_json(key)}")
                out.add(element)
                for name, child in item.items():
                    _collect(child, (*element, f"f:{name}"), f"{dotted}[].{name}", keys, out)
        return
    out.add(path)


def value_at(obj: Any, path: Path) -> Any:
    node = obj
    for element in path:
        kind, _, rest = element.partition(":")
        if kind == "f":
            node = node.get(rest) if isinstance(node, dict) else None
        elif kind == "k":
            wanted = json.loads(rest)
            node = next(
                (
                    item
                    for item in node or []
                    if isinstance(item, dict) and all(item.get(k) == v for k, v in wanted.items())
                ),
                None,
            )
        else:  # v: a set member is its own value
            member = json.loads(rest)
            node = member if isinstance(node, list) and member in node else None
        if node is None:
            return None
    return node


def _remove(obj: Any, path: Path) -> None:
    parent = value_at(obj, path[:-1]) if len(path) > 1 else obj
    kind, _, rest = path[-1].partition(":")
    if kind == "f" and isinstance(parent, dict):
        parent.pop(rest, None)
    elif kind == "k" and isinstance(parent, list):
        wanted = json.loads(rest)
        parent[:] = [
            i
            for i in parent
            if not (isinstance(i, dict) and all(i.get(k) == v for k, v in wanted.items()))
        ]
    elif kind == "v" and isinstance(parent, list):
        member = json.loads(rest)
        parent[:] = [i for i in parent if i != member]


def _path_string(path: Path) -> str:
    """fieldpath.Path.String(): .spec.ports[port=80], .metadata.finalizers[="x"]."""
    out = []
    for element in path:
        kind, _, rest = element.partition(":")
        if kind == "f":
            out.append(f".{rest}")
        elif kind == "k":
            out.append(
                "[" + ",".join(f"{k}={_key_json(v)}" for k, v in json.loads(rest).items()) + "]"
            )
        else:
            out.append(f"[={rest}]")
    return "".join(out)


# -- FieldsV1 <-> path sets --------------------------------------------------------------------


def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for element in path:
            node = node.setdefault(element, {})
        if path and path[-1].startswith("k:"):
            node["."] = {}
    return tree


def from_fields_v1(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for element, child in tree.items():
        if element == ".":
            out.add(prefix)
            continue
        path = (*prefix, element)
        if child:
            out |= from_fields_v1(child, path)
        else:
            out.add(path)
    return out


# -- managedFields entries ---------------------------------------------------------------------


Entry = dict[str, Any]


def _entries(obj: dict[str, Any]) -> list[Entry]:
    return [e for e in metadata(obj).get("managedFields") or [] if isinstance(e, dict)]


def _owned(entry: Entry) -> set[Path]:
    return from_fields_v1(entry.get("fieldsV1") or {})


def _same_owner(entry: Entry, manager: str, operation: str, subresource: str) -> bool:
    return (
        entry.get("manager") == manager
        and entry.get("operation") == operation
        and (entry.get("subresource") or "") == subresource
    )


def _write_entries(
    obj: dict[str, Any],
    entries: list[tuple[Entry, set[Path]]],
) -> None:
    out = []
    for entry, paths in entries:
        if not paths:
            continue
        fresh = {k: v for k, v in entry.items() if k != "fieldsV1"}
        fresh["fieldsType"] = "FieldsV1"
        fresh["fieldsV1"] = to_fields_v1(paths)
        out.append(fresh)
    if out:
        metadata(obj)["managedFields"] = out
    else:
        metadata(obj).pop("managedFields", None)


def _new_entry(rt: ResourceType, manager: str, operation: str, subresource: str, now: str) -> Entry:
    entry: Entry = {
        "manager": manager,
        "operation": operation,
        "apiVersion": rt.api_version,
        "time": now,
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def track_update(
    rt: ResourceType,
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    subresource: str,
    now: str,
    keys: ListKeys,
) -> None:
    """Record a non-apply write (create, update, patch) of ``manager`` in ``new``."""
    before = field_set(old, rt, subresource, keys) if old is not None else set()
    after = field_set(new, rt, subresource, keys)
    changed = {p for p in after if old is None or value_at(old, p) != value_at(new, p)}
    removed = before - after
    if old is not None and not changed and not removed:
        metadata(new)["managedFields"] = metadata(old).get("managedFields")
        if not metadata(new)["managedFields"]:
            metadata(new).pop("managedFields")
        return
    entries: list[tuple[Entry, set[Path]]] = []
    mine: tuple[Entry, set[Path]] | None = None
    for entry in _entries(old) if old is not None else []:
        paths = _owned(entry) - removed
        if _same_owner(entry, manager, UPDATE, subresource):
            mine = (entry, paths)
            continue
        entries.append((entry, {p for p in paths if p not in changed}))
    base = mine[1] if mine else set()
    entry = _new_entry(rt, manager, UPDATE, subresource, now)
    entries.append((entry, base | changed))
    _write_entries(new, entries)


def apply(
    rt: ResourceType,
    live: dict[str, Any] | None,
    config: dict[str, Any],
    *,
    manager: str,
    force: bool,
    subresource: str,
    now: str,
    keys: ListKeys,
) -> dict[str, Any]:
    """The object after ``manager`` applies ``config`` (409 on conflicts unless forced)."""
    applied = field_set(config, rt, subresource, keys)
    base = copy.deepcopy(live) if live is not None else {}
    merged = _merge(base, config, "", keys)
    entries: list[tuple[Entry, set[Path]]] = []
    previous: set[Path] = set()
    conflicts: list[tuple[Entry, Path]] = []
    for entry in _entries(live) if live is not None else []:
        owned = _owned(entry)
        if _same_owner(entry, manager, APPLY, subresource):
            previous = owned
            continue
        # leaves only: changing a field inside a list item is not a conflict on the item
        clash = {
            p
            for p in owned & applied
            if live is not None
            and not p[-1].startswith("k:")
            and value_at(live, p) != value_at(merged, p)
        }
        conflicts.extend((entry, p) for p in sorted(clash))
        entries.append((entry, owned - clash if force else owned))
    if conflicts and not force:
        raise _conflict(conflicts)
    others = set().union(*(paths for _, paths in entries)) if entries else set()
    removed: list[Path] = []
    for path in sorted(previous - applied, key=len):  # parents (list items) before leaves
        if any(path[: len(r)] == r for r in removed) or path in others:
            continue
        if path[-1].startswith("k:") and any(o[: len(path)] == path for o in others):
            continue  # others own fields of the item: it stays, only our leaves go
        _remove(merged, path)
        removed.append(path)
    if (
        live is not None
        and previous == applied
        and _without_fields(merged) == _without_fields(live)
    ):
        # a no-op apply changes nothing, not even the entry's time (so no new resourceVersion)
        unchanged = copy.deepcopy(live)
        metadata(unchanged).pop("resourceVersion", None)
        return unchanged
    entries.append((_new_entry(rt, manager, APPLY, subresource, now), applied))
    result: dict[str, Any] = merged
    _write_entries(result, entries)
    return result


def _without_fields(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    metadata(out).pop("managedFields", None)
    metadata(out).pop("resourceVersion", None)
    return out


def _merge(live: Any, config: Any, dotted: str, keys: ListKeys) -> Any:
    if isinstance(config, dict) and isinstance(live, dict):
        out = dict(live)
        for name, value in config.items():
            child = f"{dotted}.{name}" if dotted else name
            if value is None:
                out.pop(name, None)
            else:
                out[name] = _merge(live.get(name), value, child, keys)
        return out
    if isinstance(config, list) and isinstance(live, list) and dotted in keys:
        item_keys = keys[dotted]
        out_list = list(live)
        for item in config:
            if not item_keys:
                if item not in out_list:
                    out_list.append(item)
                continue
            wanted = _item_key(item, item_keys)
            index = next(
                (
                    i
                    for i, o in enumerate(out_list)
                    if wanted is not None
                    and isinstance(o, dict)
                    and all(o.get(k) == v for k, v in wanted.items())
                ),
                None,
            )
            if index is None:
                out_list.append(copy.deepcopy(item))
            else:
                out_list[index] = _merge(out_list[index], item, f"{dotted}[]", keys)
        return out_list
    return copy.deepcopy(config)


def _manager_text(entry: Entry) -> str:
    text = json.dumps(entry.get("manager", ""))
    if entry.get("subresource"):
        text += f" with subresource {json.dumps(entry['subresource'])}"
    if entry.get("operation") == UPDATE:
        text += f" using {entry.get('apiVersion')}"
        if entry.get("time"):
            text += f" at {entry['time']}"
    return text


def _conflict(conflicts: list[tuple[Entry, Path]]) -> errors.ApiError:
    """internal/conflict.go NewConflictError: 409 Conflict, one cause per field."""
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {_manager_text(entry)}",
            "field": _path_string(path),
        }
        for entry, path in conflicts
    ]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {_manager_text(entry)}: "
            f"{_path_string(path)}"
        )
    else:
        lines: list[str] = []
        by_manager: dict[str, list[str]] = {}
        for entry, path in conflicts:
            by_manager.setdefault(_manager_text(entry), []).append(_path_string(path))
        for name in sorted(by_manager):
            lines.append(f"conflicts with {name}:")
            lines.extend(f"- {p}" for p in by_manager[name])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return errors.ApiError(409, "Conflict", message, details={"causes": causes})


def _invalid_options(field: str, reason: str, why: str) -> errors.ApiError:
    return errors.ApiError(
        422,
        "Invalid",
        f'PatchOptions.meta.k8s.io "" is invalid: {field}: {why}',
        details={
            "group": "meta.k8s.io",
            "kind": "PatchOptions",
            "causes": [{"reason": reason, "message": why, "field": field}],
        },
    )


def forbid_force() -> None:
    """ValidatePatchOptions: ``force`` only goes with an apply patch."""
    raise _invalid_options(
        "force", "FieldValueForbidden", "Forbidden: may not be specified for non-apply patch"
    )


def require_manager(field_manager: str) -> None:
    """ValidatePatchOptions: an apply patch needs fieldManager (422 on PatchOptions)."""
    if not field_manager:
        raise errors.ApiError(
            422,
            "Invalid",
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
            "is required for apply patch",
            details={
                "group": "meta.k8s.io",
                "kind": "PatchOptions",
                "causes": [
                    {
                        "reason": "FieldValueRequired",
                        "message": "Required value: is required for apply patch",
                        "field": "fieldManager",
                    }
                ],
            },
        )
