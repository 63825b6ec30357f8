"""Schema machinery without a server: formats, compositions, nulls, pruning corners."""

from __future__ import annotations

from typing import Any

import pytest

from osk8s_testing.kubeapi.schema import defaulting, formats, pruning, validation
from osk8s_testing.kubeapi.schema.fielderrors import FieldError, go_value


def _errors(value: Any, schema: dict[str, Any]) -> list[str]:
    return [str(e) for e in validation.validate(value, schema, path="x")]


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        ("date-time", "2026-01-02T03:04:05Z", "2026-13-02T03:04:05Z"),
        ("date-time", "2026-01-02T03:04:05.123+02:00", "yesterday"),
        ("date", "2026-01-02", "2026-1-2"),
        ("uuid", "0B6E5C3A-9A2F-4C9E-8A43-6F6E1A7E9D11", "0b6e5c3a9a2f4c9e8a436f6e1a7e9d11"),
        ("ipv4", "192.168.0.1", "::1"),
        ("ipv6", "fd00::1", "192.168.0.1"),
        ("cidr", "10.0.0.0/8", "10.0.0.0"),
        ("hostname", "a-b.example.com", "-bad-.example"),
        ("byte", "aGVsbG8=", "not base64!"),
    ],
)
def test_formats(fmt: str, good: str, bad: str) -> None:
    assert formats.valid(fmt, good)
    assert not formats.valid(fmt, bad)


def test_unknown_and_numeric_formats_are_not_checked() -> None:
    assert formats.valid("int32", "anything")
    assert formats.valid("made-up", "anything")
    assert _errors(2**40, {"type": "integer", "format": "int32"}) == []


def test_one_of_and_any_of() -> None:
    one_of = {"type": "object", "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}
    assert _errors({"a": 1}, one_of) == []
    both = _errors({"a": 1, "b": 2}, one_of)
    assert both == [
        'x: Invalid value: "": "x" must validate one and only one schema (oneOf). '
        "Found 2 valid alternatives"
    ]
    neither = _errors({}, one_of)
    assert neither[0].startswith('x: Invalid value: "": "x" must validate one and only one')
    assert "x.a: Required value" in neither
    any_of = {"type": "integer", "anyOf": [{"minimum": 10}, {"maximum": 0}]}
    assert _errors(11, any_of) == []
    assert (
        _errors(5, any_of)[0]
        == 'x: Invalid value: "": "x" must validate at least one schema (anyOf)'
    )


def test_all_of_and_not() -> None:
    schema = {"type": "string", "allOf": [{"minLength": 2}], "not": {"enum": ["no"]}}
    assert _errors("ok", schema) == []
    assert _errors("a", schema) == [
        'x: Invalid value: "a": x in body should be at least 2 chars long'
    ]
    assert _errors("no", schema) == ['x: Invalid value: "": "x" must not validate the schema (not)']


def test_nulls() -> None:
    assert _errors(None, {"type": "string", "nullable": True}) == []
    assert _errors([None], {"type": "array", "items": {"type": "string"}}) == [
        'x[0]: Invalid value: "null": x[0] in body must be of type string: "null"'
    ]
    obj: dict[str, Any] = {"keep": None, "drop": None}
    defaulting.apply_defaults(
        obj,
        {
            "type": "object",
            "properties": {
                "keep": {"type": "string", "nullable": True},
                "drop": {"type": "string"},
            },
        },
    )
    assert obj == {"keep": None}


def test_bounds_exclusive_and_multiple_of() -> None:
    schema = {"type": "number", "minimum": 0, "exclusiveMinimum": True, "multipleOf": 0.5}
    assert _errors(1.5, schema) == []
    assert _errors(0, schema) == ["x: Invalid value: 0: x in body should be greater than 0"]
    assert _errors(1.2, schema) == ["x: Invalid value: 1.2: x in body should be a multiple of 0.5"]


def test_pruning_corners() -> None:
    schema = {
        "type": "object",
        "properties": {
            "embedded": {
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}},
            },
            "open": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {"known": {"type": "object", "properties": {}}},
            },
            "map": {
                "type": "object",
                "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}},
            },
        },
    }
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Thing",
        "metadata": {"name": "n", "anything": 1},
        "embedded": {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"a": "x", "b": "y"},
        },
        "open": {"free": 1, "known": {"gone": 1}},
        "map": {"k": {"v": "1", "w": "2"}},
        "unknown": True,
    }
    dropped = pruning.prune_object(obj, schema)
    assert sorted(dropped) == ["embedded.spec.b", "map.k.w", "open.known.gone", "unknown"]
    assert obj["embedded"]["kind"] == "Pod"
    assert obj["metadata"] == {"name": "n", "anything": 1}
    assert obj["open"] == {"free": 1, "known": {}}


def test_go_value_printing() -> None:
    assert go_value('a"b') == '"a\\"b"'
    assert go_value(3.0) == "3"
    assert go_value(True) == "true"
    assert (
        str(FieldError("FieldValueForbidden", "spec.x", "ignored", "no")) == "spec.x: Forbidden: no"
    )


def test_ratcheting_drops_only_what_upstream_ratchets() -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z]+$"},
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "pick": {"type": "object", "oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
            "counter": {
                "type": "object",
                "x-kubernetes-validations": [
                    {"rule": "self.n > oldSelf.n", "message": "must grow"},
                    {"rule": "self.n < 0", "message": "must be negative"},
                ],
            },
        },
        "required": ["must"],
    }
    value = {"name": "BAD", "tags": ["a", "a"], "pick": {}, "counter": {"n": 1}}
    fresh = [e.field for e in validation.validate(value, schema)]
    # schema errors, then list-type errors, then CEL (no old object: transition rule skipped)
    assert fresh == ["must", "name", "pick", "pick.a", "tags[1]", "counter"]
    # the same invalid object, unchanged on update: pattern and the oldSelf-free rule are
    # ratcheted; required, set uniqueness, oneOf and the transition rule are not
    kept = validation.validate(value, schema, old=dict(value))
    assert [(e.field, e.detail) for e in kept] == [
        ("must", ""),
        (
            "pick",
            '"pick" must validate one and only one schema (oneOf). Found 0 valid alternatives',
        ),
        ("pick.a", ""),
        ("tags[1]", ""),
        ("counter", "must grow"),
    ]


def test_schema_constraints_on_metadata_name_only() -> None:
    schema = {
        "type": "object",
        "properties": {
            "metadata": {
                "type": "object",
                "properties": {"name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"}},
            }
        },
    }
    assert validation.validate({"metadata": {"name": "abc", "labels": {"x": "1"}}}, schema) == []
    errs = [str(e) for e in validation.validate({"metadata": {"name": "abcdefg"}}, schema)]
    assert errs == ["metadata.name: Too long: may not be longer than 5"]


def test_cel_sees_formats_as_kubernetes_types_and_root_metadata_trimmed() -> None:
    schema = {
        "type": "object",
        "properties": {
            "metadata": {"type": "object"},
            "since": {"type": "string", "format": "date-time"},
            "until": {"type": "string", "format": "date-time"},
            "grace": {"type": "string", "format": "duration"},
            "text": {"type": "string"},
        },
        "x-kubernetes-validations": [
            {"rule": "self.until > self.since", "message": "until must follow since"},
            {"rule": "self.grace <= duration('1h')", "message": "grace too long"},
            {"rule": "self.text.find('[0-9]+') == '42'", "message": "no answer"},
            {"rule": "!has(self.metadata.labels)", "message": "labels are not visible"},
        ],
    }
    good = {
        "metadata": {"name": "n", "labels": {"a": "b"}},
        "since": "2026-01-01T00:00:00Z",
        "until": "2026-01-02T00:00:00Z",
        "grace": "30m",
        "text": "x42y7",
    }
    assert validation.validate(good, schema) == []
    bad = {**good, "until": "2025-12-31T00:00:00Z", "grace": "2h", "text": "x7"}
    assert [e.detail for e in validation.validate(bad, schema)] == [
        "until must follow since",
        "grace too long",
        "no answer",
    ]


def test_defaults_inside_map_values_and_nested_arrays() -> None:
    item = {"type": "object", "properties": {"weight": {"type": "integer", "default": 1}}}
    schema = {
        "type": "object",
        "properties": {
            "byName": {"type": "object", "additionalProperties": item},
            "grid": {"type": "array", "items": {"type": "array", "items": item}},
        },
    }
    obj: dict[str, Any] = {"byName": {"a": {}, "b": {"weight": 5}}, "grid": [[{}, {"weight": 2}]]}
    defaulting.apply_defaults(obj, schema)
    assert obj == {
        "byName": {"a": {"weight": 1}, "b": {"weight": 5}},
        "grid": [[{"weight": 1}, {"weight": 2}]],
    }
