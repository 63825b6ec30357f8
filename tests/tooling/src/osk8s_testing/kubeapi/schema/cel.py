"""``x-kubernetes-validations`` CEL rules, evaluated with cel-python (``celpy``).

A rule sees ``self`` (the node's value) and, for transition rules, ``oldSelf`` (the correlated
old value; such rules are only evaluated on updates where the old value exists, unless
``optionalOldSelf``). A false result becomes the upstream field error: ``reason``
(Invalid/Forbidden/Required/Duplicate), ``message`` or ``messageExpression`` or ``failed
rule: <rule>``, at the node's path plus ``fieldPath``. An evaluation error is reported as
upstream does (``<error> evaluating rule: <rule>``).

Kubernetes' CEL libraries are only partly available: the string functions ``lowerAscii``,
``upperAscii``, ``trim``, ``split``, ``join``, ``replace``, ``indexOf``, ``lastIndexOf``, the
regex ``find``/``findAll``, the list functions ``isSorted``, ``sum``, ``min``, ``max`` and
``isURL`` are provided here; values are typed by the schema (``date-time`` strings are
timestamps, ``duration`` durations, ``byte`` bytes). Any other function (``quantity``, ``ip``,
``cidr``, ``format``, optionals...) makes the rule fail with an explicit
``unsupported CEL function`` error rather than pass unchecked, so a gap is never silent.
Compiled programs are cached per rule text (parsing is the costly part).
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import celpy
import re2
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError

from osk8s_testing.kubeapi.schema import fielderrors
from osk8s_testing.kubeapi.schema.fielderrors import FieldError

_OLD_SELF = re.compile(r"\boldSelf\b")
# upstream reports rules on the root schema at a nil field.Path, which prints as "<nil>"
_ROOT = "<nil>"
_UNDECLARED = re.compile(r"undeclared reference to '([^']+)'")


@dataclass(frozen=True)
class Rule:
    rule: str
    message: str = ""
    message_expression: str = ""
    field_path: str = ""
    reason: str = ""
    optional_old_self: bool = False

    @property
    def transition(self) -> bool:
        """A rule using ``oldSelf`` (evaluated on update only, when the old value exists)."""
        return bool(_OLD_SELF.search(self.rule))

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Rule:
        return cls(
            rule=str(raw.get("rule") or ""),
            message=str(raw.get("message") or ""),
            message_expression=str(raw.get("messageExpression") or ""),
            field_path=str(raw.get("fieldPath") or ""),
            reason=str(raw.get("reason") or ""),
            optional_old_self=bool(raw.get("optionalOldSelf")),
        )


class _CompileError(Exception):
    pass


def _string(value: Any) -> str:
    return str(value)


def _join(items: Any, sep: Any = "") -> celtypes.StringType:
    return celtypes.StringType(str(sep).join(str(i) for i in items))


def _index_of(target: Any, needle: Any) -> celtypes.IntType:
    if isinstance(target, str):
        return celtypes.IntType(str(target).find(str(needle)))
    for i, item in enumerate(target):
        if item == needle:
            return celtypes.IntType(i)
    return celtypes.IntType(-1)


def _last_index_of(target: Any, needle: Any) -> celtypes.IntType:
    if isinstance(target, str):
        return celtypes.IntType(str(target).rfind(str(needle)))
    found = -1
    for i, item in enumerate(target):
        if item == needle:
            found = i
    return celtypes.IntType(found)


def _type_name(schema: dict[str, Any]) -> str:
    """The value upstream prints for a failed rule (the node's schema type)."""
    if schema.get("x-kubernetes-int-or-string") and not schema.get("type"):
        return "string"
    return str(schema.get("type") or "object")


def _find(target: Any, pattern: Any) -> celtypes.StringType:
    found = re2.search(str(pattern), str(target))
    return celtypes.StringType(found.group(0) if found else "")


def _find_all(target: Any, pattern: Any, limit: Any = -1) -> celtypes.ListType:
    matches = [m.group(0) for m in re2.finditer(str(pattern), str(target))]
    if int(limit) >= 0:
        matches = matches[: int(limit)]
    return celtypes.ListType([celtypes.StringType(m) for m in matches])


def _is_url(value: Any) -> celtypes.BoolType:
    parsed = urllib.parse.urlsplit(str(value))
    return celtypes.BoolType(bool(parsed.scheme) and bool(parsed.netloc or parsed.path))


def _sum(items: Any) -> Any:
    total: Any = celtypes.IntType(0)
    for i, item in enumerate(items):
        total = item if i == 0 else total + item
    return total


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "lowerAscii": lambda s: celtypes.StringType(_string(s).lower()),
    "upperAscii": lambda s: celtypes.StringType(_string(s).upper()),
    "trim": lambda s: celtypes.StringType(_string(s).strip()),
    "split": lambda s, sep: celtypes.ListType(
        [celtypes.StringType(p) for p in _string(s).split(_string(sep))]
    ),
    "join": _join,
    "replace": lambda s, old, new: celtypes.StringType(_string(s).replace(str(old), str(new))),
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "isSorted": lambda items: celtypes.BoolType(list(items) == sorted(items)),
    "sum": _sum,
    "min": min,
    "max": max,
    "isURL": _is_url,
    "find": _find,
    "findAll": _find_all,
}


@functools.lru_cache(maxsize=4096)
def _program(expression: str) -> Any:
    """Compile once per expression text (memoised pure function, shared by all servers)."""
    env = celpy.Environment()
    try:
        return env.program(env.compile(expression), functions=FUNCTIONS)
    except CELParseError as exc:
        raise _CompileError(str(exc).strip()) from exc


def _evaluate(expression: str, activation: dict[str, Any]) -> Any:
    program = _program(expression)
    result = program.evaluate(activation)
    if isinstance(result, CELEvalError):
        raise result
    return result


def _error_text(exc: Exception) -> str:
    text = str(exc.args[0]) if exc.args else str(exc)
    missing = _UNDECLARED.search(text)
    if missing:
        return (
            f"unsupported CEL function or variable '{missing.group(1)}' "
            "(not provided by the osk8s fake kube-apiserver)"
        )
    if "no such member" in text or "KeyError" in text:
        key = re.search(r"'([^']+)'", text)
        return f"no such key: {key.group(1) if key else text}"
    return text


def to_cel(value: Any, schema: dict[str, Any] | None) -> Any:
    """JSON to CEL by the schema, as Kubernetes types it: strings of format ``date-time`` are
    timestamps, ``duration`` durations, ``byte`` bytes; everything else as JSON maps to CEL."""
    if schema is None or value is None:
        return json_to_cel(value)
    if isinstance(value, str):
        fmt = schema.get("format")
        try:
            if fmt == "date-time":
                return celtypes.TimestampType(value)
            if fmt == "duration":
                return celtypes.DurationType(value)
            if fmt == "byte":
                return celtypes.BytesType(base64.b64decode(value))
        except (ValueError, TypeError, binascii.Error):
            pass  # an invalid value was already reported by the format check
        return celtypes.StringType(value)
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        extra = extra if isinstance(extra, dict) else None
        return celtypes.MapType(
            {celtypes.StringType(k): to_cel(v, props.get(k, extra)) for k, v in value.items()}
        )
    if isinstance(value, list):
        items = schema.get("items")
        return celtypes.ListType(
            [to_cel(v, items if isinstance(items, dict) else None) for v in value]
        )
    return json_to_cel(value)


def check(
    rule: Rule,
    path: str,
    schema: dict[str, Any],
    value: Any,
    old: Any,
    *,
    has_old: bool,
) -> FieldError | None:
    """Evaluate one rule at ``path``; None when it holds (or does not apply)."""
    if rule.transition and not has_old and not rule.optional_old_self:
        return None
    type_name = _type_name(schema)
    activation: dict[str, Any] = {"self": to_cel(value, schema)}
    if rule.transition:
        activation["oldSelf"] = to_cel(old, schema) if has_old else None
    where = path + rule.field_path  # fieldPath is a JSON path like ".x" or "['x']" below the node
    where = where.lstrip(".") or _ROOT
    path = path or _ROOT
    shown = rule.rule.strip()
    try:
        result = _evaluate(rule.rule, activation)
    except _CompileError as exc:
        return FieldError(
            fielderrors.INVALID, path, type_name, f"compilation failed: {exc}: rule: {shown}"
        )
    except Exception as exc:
        return FieldError(
            fielderrors.INVALID, path, type_name, f"{_error_text(exc)} evaluating rule: {shown}"
        )
    if not isinstance(result, bool | celtypes.BoolType):
        return FieldError(
            fielderrors.INVALID,
            path,
            type_name,
            f"rule result must be a bool, got {type(result).__name__}: rule: {shown}",
        )
    if result:
        return None
    return _failure(rule, where, type_name, _message(rule, activation))


def _message(rule: Rule, activation: dict[str, Any]) -> str:
    if rule.message_expression:
        try:
            text = _evaluate(rule.message_expression, activation)
        except Exception:  # upstream falls back to message when messageExpression fails
            text = None
        if isinstance(text, str) and text.strip() and "\n" not in text:
            return str(text)
    return rule.message or f"failed rule: {rule.rule.strip()}"


def _failure(rule: Rule, path: str, type_name: str, message: str) -> FieldError:
    if rule.reason == fielderrors.FORBIDDEN:
        return FieldError(fielderrors.FORBIDDEN, path, fielderrors.OMIT, message)
    if rule.reason == fielderrors.REQUIRED:
        return FieldError(fielderrors.REQUIRED, path, fielderrors.OMIT, message)
    if rule.reason == fielderrors.DUPLICATE:
        return FieldError(fielderrors.DUPLICATE, path, type_name)
    return FieldError(fielderrors.INVALID, path, type_name, message)


def compiles(expression: str) -> bool:
    """Whether cel-python parses ``expression`` (unknown functions only show at evaluation)."""
    try:
        _program(expression)
    except _CompileError:
        return False
    return True
