"""List semantics: resourceVersion / resourceVersionMatch, selectors, limit and continue.

``resourceVersion`` unset or "0" (or not newer than the head) serves the current state;
``resourceVersionMatch=Exact`` serves the state at that version rebuilt from the watch history
(410 Gone once compacted); a version newer than the head is a 504 ResourceVersionTooLarge.
Continue tokens pin the list's version, so pages are one consistent snapshot. Read-only.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from osk8s_testing.kubeapi import errors
from osk8s_testing.kubeapi.resources import ResourceType
from osk8s_testing.kubeapi.selectors import Selector
from osk8s_testing.kubeapi.store import Key, Store

ToWire = Callable[[ResourceType, dict[str, Any]], dict[str, Any]]

_CONTINUE_TOO_OLD = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter."
)


@dataclass(frozen=True)
class ListOptions:
    selector: Selector = field(default_factory=Selector)
    resource_version: str | None = None
    resource_version_match: str | None = None
    limit: int | None = None
    continue_token: str | None = None


def validate(opts: ListOptions) -> None:
    """apimachinery ValidateListOptions (list part): 422 Invalid on ListOptions."""
    causes: list[tuple[str, str]] = []
    match, rv = opts.resource_version_match, opts.resource_version
    if match:
        if not rv:
            causes.append(("FieldValueForbidden", "Forbidden: resourceVersionMatch is "
                           "forbidden unless resourceVersion is provided"))  # fmt: skip
        if opts.continue_token:
            causes.append(("FieldValueForbidden", "Forbidden: resourceVersionMatch is "
                           "forbidden when continue is provided"))  # fmt: skip
        if match not in ("Exact", "NotOlderThan"):
            causes.append(("FieldValueNotSupported", f'Unsupported value: "{match}": '
                           'supported values: "Exact", "NotOlderThan", ""'))  # fmt: skip
        if match == "Exact" and rv == "0":
            causes.append(("FieldValueForbidden", 'Forbidden: resourceVersionMatch "exact" '
                           'is forbidden for resourceVersion "0"'))  # fmt: skip
    if not causes:
        return
    texts = [f"resourceVersionMatch: {why}" for _, why in causes]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    raise errors.ApiError(
        422,
        "Invalid",
        f'ListOptions.meta.k8s.io "" is invalid: {joined}',
        details={
            "group": "meta.k8s.io",
            "kind": "ListOptions",
            "causes": [
                {"reason": reason, "message": why, "field": "resourceVersionMatch"}
                for reason, why in causes
            ],
        },
    )


def list_objects(
    store: Store, rt: ResourceType, namespace: str | None, opts: ListOptions, to_wire: ToWire
) -> dict[str, Any]:
    validate(opts)
    group, plural = rt.storage_key
    ns = namespace if rt.namespaced else None
    start_after: tuple[str, str] | None = None
    with store.lock:
        current = store.resource_version
        if opts.continue_token:
            list_rv, start_after = _decode_continue(opts.continue_token)
            items = _items_at(store, list_rv, group, plural, ns, message=_CONTINUE_TOO_OLD)
        elif opts.resource_version_match == "Exact":
            list_rv = parse_rv(opts.resource_version)
            items = _items_at(store, list_rv, group, plural, ns, message=None)
        else:
            requested = parse_rv(opts.resource_version) if opts.resource_version else 0
            if requested > current:
                raise errors.too_large_resource_version(requested, current)
            items, list_rv = store.items(group, plural, ns), current
    wire = [
        (k, to_wire(rt, o))
        for k, o in items
        if start_after is None or (k.namespace, k.name) > start_after
    ]
    wire = [(k, o) for k, o in wire if opts.selector.matches(o)]
    meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
    if opts.limit and len(wire) > opts.limit:
        last = wire[opts.limit - 1][0]
        meta["continue"] = _encode_continue(list_rv, (last.namespace, last.name))
        if opts.selector.empty:
            # upstream counts the remaining keys in storage, so it only sets the count when no
            # selector filters them (etcd3 store GetList and the cacher: "only set
            # remainingItemCount if the predicate is empty")
            meta["remainingItemCount"] = len(wire) - opts.limit
        wire = wire[: opts.limit]
    # built-in list items carry no kind/apiVersion upstream; custom resources do
    out = [o if rt.custom else _strip_type(o) for _, o in wire]
    return {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": out}


def _items_at(
    store: Store, rv: int, group: str, plural: str, ns: str | None, *, message: str | None
) -> list[tuple[Key, dict[str, Any]]]:
    try:
        return store.items_at(rv, group, plural, ns)
    except errors.ApiError as exc:
        text = message or f"The resourceVersion for the provided list is too old: {exc.message}"
        raise errors.gone(text) from exc


def _strip_type(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


def parse_rv(text: str | None) -> int:
    try:
        return int(text or "0")
    except ValueError as exc:
        raise errors.bad_request(f"invalid resource version: {text!r}") from exc


def _encode_continue(rv: int, after: tuple[str, str]) -> str:
    raw = json.dumps({"rv": rv, "start": list(after)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), (str(data["start"][0]), str(data["start"][1]))
    except (ValueError, KeyError, IndexError, TypeError, binascii.Error) as exc:
        raise errors.bad_request("continue key is not valid") from exc
