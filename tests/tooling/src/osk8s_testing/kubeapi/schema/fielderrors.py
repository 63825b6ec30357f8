"""Field errors as k8s.io/apimachinery's ``field.Error`` prints them, and the 422 they become.

``FieldError.body()`` follows ``field.Error.ErrorBody()`` (type string, then the bad value for
value-carrying types — strings quoted, numbers and booleans bare — then ``: detail``), and
:func:`invalid` follows ``apierrors.NewInvalid``: one cause per error (reason = error type,
message = body, field = path) and a message that is the single error or ``[e1, e2, ...]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from osk8s_testing.kubeapi.errors import ApiError

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
TYPE_INVALID = "FieldValueTypeInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
INTERNAL = "InternalError"

_TITLES = {
    REQUIRED: "Required value",
    INVALID: "Invalid value",
    TYPE_INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    DUPLICATE: "Duplicate value",
    FORBIDDEN: "Forbidden",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
    INTERNAL: "Internal error",
}
# types whose body never shows the bad value (field.Error.ErrorBody)
_NO_VALUE = (REQUIRED, FORBIDDEN, TOO_LONG, INTERNAL)
OMIT = object()
"""Bad value that is not printed (field.omitValue)."""


def go_value(value: Any) -> str:
    """A bad value as Go's ErrorBody prints it: %q for strings, %v for scalars, else a dump."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return go_number(value)
    # upstream falls back to %#v of a Go map/slice; JSON is the readable equivalent
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def go_number(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class FieldError:
    type: str
    field: str
    bad_value: Any = OMIT
    detail: str = ""

    def body(self) -> str:
        title = _TITLES[self.type]
        if self.type in _NO_VALUE or self.bad_value is OMIT:
            text = title
        else:
            text = f"{title}: {go_value(self.bad_value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def invalid(kind: str, group: str, name: str, errs: list[FieldError]) -> ApiError:
    """422 Invalid for a custom resource, as ``apierrors.NewInvalid`` builds it."""
    causes = [{"reason": e.type, "message": e.body(), "field": e.field} for e in errs]
    # utilerrors.NewAggregate + Error(): duplicates collapse, one error prints bare
    seen: list[str] = []
    for e in errs:
        if str(e) not in seen:
            seen.append(str(e))
    summary = seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"
    qualified = f"{kind}.{group}" if group else kind
    details: dict[str, Any] = {"name": name, "group": group, "kind": kind, "causes": causes}
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {summary}', details=details)
