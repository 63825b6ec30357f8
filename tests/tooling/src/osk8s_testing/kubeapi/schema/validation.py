"""Validation of a custom resource against its structural schema, with CEL rules.

Follows apiextensions-apiserver: the OpenAPI value validations (type, format, enum, required,
bounds, lengths, pattern, item and property counts, allOf/anyOf/oneOf/not) mapped to field
errors as ``kubeOpenAPIResultToFieldErrors`` maps them, then ``x-kubernetes-list-type``
set/map uniqueness, then ``x-kubernetes-validations`` rules. On update the old object is
correlated node by node (object fields, map values, map-list items by their keys) to give
``oldSelf``, and validation ratcheting applies (CRDValidationRatcheting, on by default since
Kubernetes 1.30): errors under a node whose value did not change are dropped, except those
upstream does not ratchet — required, list-type uniqueness, allOf/anyOf/oneOf/not, and CEL
rules that use ``oldSelf``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

import re2

from osk8s_testing.kubeapi.schema import cel, fielderrors, formats, structural
from osk8s_testing.kubeapi.schema.fielderrors import FieldError
from osk8s_testing.kubeapi.schema.structural import Schema

_MISSING = object()


@functools.lru_cache(maxsize=4096)
def _pattern(expression: str) -> Any:
    """RE2, as Go's regexp (patterns are unanchored searches upstream too)."""
    return re2.compile(expression)


@functools.lru_cache(maxsize=8192)
def _rules(raw: str) -> tuple[cel.Rule, ...]:
    return tuple(cel.Rule.parse(r) for r in json.loads(raw))


def _node_rules(schema: Schema) -> tuple[cel.Rule, ...]:
    raw = schema.get("x-kubernetes-validations")
    if not raw:
        return ()
    return _rules(json.dumps(raw, sort_keys=True))


@dataclass
class _Errors:
    schema: list[FieldError] = field(default_factory=list)
    lists: list[FieldError] = field(default_factory=list)
    rules: list[FieldError] = field(default_factory=list)

    def all(self) -> list[FieldError]:
        return [*self.schema, *self.lists, *self.rules]


def validate(
    value: Any,
    schema: Schema,
    *,
    old: Any = _MISSING,
    path: str = "",
    cel_rules: bool = True,
    scope: str | None = None,
) -> list[FieldError]:
    """Field errors of ``value`` (a whole object, or the node at ``path``) against ``schema``.

    ``scope`` keeps only schema and list errors under that top-level field (status writes
    validate the status schema, while CEL rules still see the whole object).
    """
    errs = _Errors()
    _Walker(errs, cel_rules).node(value, schema, path, old, unchanged=False)
    if scope is not None:
        errs.schema = [e for e in errs.schema if _under(e.field, scope)]
        errs.lists = [e for e in errs.lists if _under(e.field, scope)]
    return errs.all()


def _under(path: str, scope: str) -> bool:
    return path == scope or path.startswith((scope + ".", scope + "["))


def _cel_view(value: Any, path: str) -> Any:
    """At the root CEL sees metadata.name and metadata.generateName only, as upstream."""
    if path or not isinstance(value, dict) or "metadata" not in value:
        return value
    meta = value.get("metadata") or {}
    view = dict(value)
    view["metadata"] = {k: meta[k] for k in ("name", "generateName") if k in meta}
    return view


def missing() -> Any:
    """The marker for "no old value" (create, or an uncorrelatable node)."""
    return _MISSING


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Walker:
    def __init__(self, errs: _Errors, cel_rules: bool) -> None:
        self.errs = errs
        self.cel_rules = cel_rules

    def add(
        self, bucket: list[FieldError], err: FieldError, unchanged: bool, *, ratchet: bool = True
    ) -> None:
        # ratcheting drops errors of unchanged nodes, except those upstream does not ratchet:
        # required, list-type uniqueness, allOf/anyOf/oneOf/not (and transition rules)
        if unchanged and ratchet and err.type != fielderrors.REQUIRED:
            return
        bucket.append(err)

    def node(self, value: Any, schema: Schema, path: str, old: Any, *, unchanged: bool) -> None:
        has_old = old is not _MISSING
        if not unchanged and has_old:
            unchanged = structural.json_equal(value, old)
        if value is None:
            if not schema.get("nullable") and (schema.get("type") or "") != "":
                self._type_error(value, schema, path, unchanged)
            return
        if not self._type_ok(value, schema):
            self._type_error(value, schema, path, unchanged)
            return
        self._values(value, schema, path, unchanged)
        for key in ("allOf", "anyOf", "oneOf", "not"):
            if key == "anyOf" and schema.get("x-kubernetes-int-or-string"):
                continue  # upstream turns int-or-string into type [integer, string] instead
            if schema.get(key):
                self._composition(key, value, schema[key], path, unchanged)
        if isinstance(value, dict):
            self._object(value, schema, path, old if isinstance(old, dict) else _MISSING, unchanged)
        elif isinstance(value, list):
            self._array(value, schema, path, old if isinstance(old, list) else _MISSING, unchanged)
        if self.cel_rules:
            for rule in _node_rules(schema):
                if unchanged and not rule.transition:
                    continue  # ratcheted: only rules using oldSelf run on unchanged values
                failed = cel.check(
                    rule,
                    path,
                    schema,
                    _cel_view(value, path),
                    None if old is _MISSING else _cel_view(old, path),
                    has_old=has_old,
                )
                if failed is not None:
                    self.errs.rules.append(failed)

    # -- types and scalar constraints ------------------------------------------------------

    def _type_ok(self, value: Any, schema: Schema) -> bool:
        kind = schema.get("type")
        actual = structural.json_type(value)
        if schema.get("x-kubernetes-int-or-string"):
            return actual in ("integer", "string")
        if not kind:
            return True
        if kind == "number":
            return actual in ("integer", "number")
        return bool(kind == actual)

    def _type_error(self, value: Any, schema: Schema, path: str, unchanged: bool) -> None:
        kind = schema.get("type") or "integer,string"
        actual = structural.json_type(value)
        detail = f'{path} in body must be of type {kind}: "{actual}"'
        self.add(
            self.errs.schema,
            FieldError(fielderrors.TYPE_INVALID, path, actual, detail),
            unchanged,
        )

    def _invalid(self, path: str, value: Any, detail: str, unchanged: bool) -> None:
        self.add(
            self.errs.schema,
            FieldError(fielderrors.INVALID, path, value, f"{path} in body {detail}"),
            unchanged,
        )

    def _values(self, value: Any, schema: Schema, path: str, unchanged: bool) -> None:
        enum = schema.get("enum")
        if enum is not None and not any(structural.json_equal(value, e) for e in enum):
            allowed = [e if isinstance(e, str) else json.dumps(e) for e in enum]
            detail = "supported values: " + ", ".join(json.dumps(a) for a in allowed)
            self.add(
                self.errs.schema,
                FieldError(fielderrors.NOT_SUPPORTED, path, value, detail),
                unchanged,
            )
        if isinstance(value, str):
            self._string(value, schema, path, unchanged)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self._number(value, schema, path, unchanged)

    def _string(self, value: str, schema: Schema, path: str, unchanged: bool) -> None:
        fmt = schema.get("format")
        if fmt and not formats.valid(str(fmt), value):
            detail = f'{path} in body must be of type {fmt}: "{value}"'
            self.add(
                self.errs.schema,
                FieldError(fielderrors.TYPE_INVALID, path, value, detail),
                unchanged,
            )
        length = len(value)  # runes, as go-openapi counts (utf8.RuneCountInString)
        if "maxLength" in schema and length > int(schema["maxLength"]):
            self.add(
                self.errs.schema,
                FieldError(
                    fielderrors.TOO_LONG,
                    path,
                    value,
                    f"may not be longer than {int(schema['maxLength'])}",
                ),
                unchanged,
            )
        if "minLength" in schema and length < int(schema["minLength"]):
            self._invalid(
                path, value, f"should be at least {int(schema['minLength'])} chars long", unchanged
            )
        pattern = schema.get("pattern")
        if pattern and not _pattern(str(pattern)).search(value):
            self._invalid(path, value, f"should match '{pattern}'", unchanged)

    def _number(self, value: float, schema: Schema, path: str, unchanged: bool) -> None:
        if "maximum" in schema:
            top = schema["maximum"]
            if schema.get("exclusiveMaximum") and value >= top:
                self._invalid(
                    path, value, f"should be less than {fielderrors.go_number(top)}", unchanged
                )
            elif value > top:
                self._invalid(
                    path,
                    value,
                    f"should be less than or equal to {fielderrors.go_number(top)}",
                    unchanged,
                )
        if "minimum" in schema:
            bottom = schema["minimum"]
            if schema.get("exclusiveMinimum") and value <= bottom:
                self._invalid(
                    path,
                    value,
                    f"should be greater than {fielderrors.go_number(bottom)}",
                    unchanged,
                )
            elif value < bottom:
                self._invalid(
                    path,
                    value,
                    f"should be greater than or equal to {fielderrors.go_number(bottom)}",
                    unchanged,
                )
        step = schema.get("multipleOf")
        if step and (value / step) != int(value / step):
            self._invalid(
                path, value, f"should be a multiple of {fielderrors.go_number(step)}", unchanged
            )

    def _composition(self, key: str, value: Any, subs: Any, path: str, unchanged: bool) -> None:
        def passes(sub: Schema) -> bool:
            return not validate(value, sub, path=path, cel_rules=False)

        if key == "not":
            if passes(subs):
                self._invalid_composite(
                    path, f'"{path}" must not validate the schema (not)', unchanged
                )
            return
        results = [validate(value, sub, path=path, cel_rules=False) for sub in subs]
        ok = sum(1 for r in results if not r)
        if key == "allOf":
            for result in results:
                for err in result:
                    self.add(self.errs.schema, err, unchanged, ratchet=False)
        elif key == "anyOf" and ok == 0:
            self._invalid_composite(
                path, f'"{path}" must validate at least one schema (anyOf)', unchanged
            )
            for err in min(results, key=len):
                self.add(self.errs.schema, err, unchanged, ratchet=False)
        elif key == "oneOf" and ok != 1:
            self._invalid_composite(
                path,
                f'"{path}" must validate one and only one schema (oneOf). '
                f"Found {ok} valid alternatives",
                unchanged,
            )
            if ok == 0:
                for err in min(results, key=len):
                    self.add(self.errs.schema, err, unchanged, ratchet=False)

    def _too_many(self, path: str, count: int, limit: int, unchanged: bool) -> None:
        # field.TooMany: maxItems and maxProperties alike
        detail = f"must have at most {limit} items"
        self.add(self.errs.schema, FieldError(fielderrors.TOO_MANY, path, count, detail), unchanged)

    def _invalid_composite(self, path: str, detail: str, unchanged: bool) -> None:
        self.add(
            self.errs.schema,
            FieldError(fielderrors.INVALID, path, "", detail),
            unchanged,
            ratchet=False,
        )

    # -- objects and arrays ----------------------------------------------------------------

    def _object(
        self, value: dict[str, Any], schema: Schema, path: str, old: Any, unchanged: bool
    ) -> None:
        for key in schema.get("required") or ():
            if key not in value:
                self.add(
                    self.errs.schema,
                    FieldError(fielderrors.REQUIRED, _child(path, key)),
                    unchanged,
                )
        count = len(value)
        if "maxProperties" in schema and count > int(schema["maxProperties"]):
            self._too_many(path, count, int(schema["maxProperties"]), unchanged)
        if "minProperties" in schema and count < int(schema["minProperties"]):
            self._invalid(
                path,
                count,
                f"should have at least {int(schema['minProperties'])} properties",
                unchanged,
            )
        props = structural.properties(schema)
        extra = structural.additional(schema)
        for key, sub in value.items():
            target = props.get(key, extra)
            if target is None or (path == "" and key in structural.TYPE_META and key not in props):
                continue
            previous = old.get(key, _MISSING) if old is not _MISSING else _MISSING
            if path == "" and key == "metadata":
                self._metadata(sub, target, previous, unchanged)
                continue
            self.node(sub, target, _child(path, key), previous, unchanged=unchanged)

    def _metadata(self, meta: Any, schema: Schema, old: Any, unchanged: bool) -> None:
        """ObjectMeta has its own validation; a CRD schema may only constrain name and
        generateName (string validations), and those are checked."""
        names = ("name", "generateName")
        props = {k: v for k, v in structural.properties(schema).items() if k in names}
        if not props or not isinstance(meta, dict):
            return
        view = {k: meta[k] for k in props if k in meta}
        was = {k: old[k] for k in props if k in old} if isinstance(old, dict) else _MISSING
        self.node(
            view, {"type": "object", "properties": props}, "metadata", was, unchanged=unchanged
        )

    def _array(
        self, value: list[Any], schema: Schema, path: str, old: Any, unchanged: bool
    ) -> None:
        count = len(value)
        if "maxItems" in schema and count > int(schema["maxItems"]):
            self._too_many(path, count, int(schema["maxItems"]), unchanged)
        if "minItems" in schema and count < int(schema["minItems"]):
            self._invalid(
                path, count, f"should have at least {int(schema['minItems'])} items", unchanged
            )
        list_type = schema.get("x-kubernetes-list-type")
        keys = tuple(schema.get("x-kubernetes-list-map-keys") or ())
        olds: dict[str, Any] = {}
        if list_type == "map" and keys and old is not _MISSING:
            for element in old:
                if isinstance(element, dict):
                    olds[_map_key(element, keys)] = element
        self._uniqueness(value, list_type, keys, path, unchanged)
        item = structural.items(schema)
        if item is None:
            return
        for i, element in enumerate(value):
            previous: Any = _MISSING
            if olds and isinstance(element, dict):
                previous = olds.get(_map_key(element, keys), _MISSING)
            self.node(element, item, f"{path}[{i}]", previous, unchanged=unchanged)

    def _uniqueness(
        self, value: list[Any], list_type: Any, keys: tuple[str, ...], path: str, unchanged: bool
    ) -> None:
        if list_type == "set":
            seen: list[Any] = []
            for i, element in enumerate(value):
                if any(structural.json_equal(element, s) for s in seen):
                    err = FieldError(fielderrors.DUPLICATE, f"{path}[{i}]", element)
                    self.add(self.errs.lists, err, unchanged, ratchet=False)
                else:
                    seen.append(element)
        elif list_type == "map" and keys:
            found: set[str] = set()
            for i, element in enumerate(value):
                if not isinstance(element, dict):
                    continue
                key = _map_key(element, keys)
                if key in found:
                    bad = {k: element.get(k) for k in keys if k in element}
                    err = FieldError(fielderrors.DUPLICATE, f"{path}[{i}]", bad)
                    self.add(self.errs.lists, err, unchanged, ratchet=False)
                found.add(key)


def _map_key(element: dict[str, Any], keys: tuple[str, ...]) -> str:
    return json.dumps([element.get(k) for k in keys], sort_keys=True)
