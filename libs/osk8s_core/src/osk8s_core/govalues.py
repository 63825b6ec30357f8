"""Go's value syntaxes, parsed exactly: ``strconv.ParseBool`` and ``time.ParseDuration``.

A leaf module with stdlib imports only, shared by the CLI layer (flags) and the config layer
(cloud.conf durations), so ``--help`` stays import-light and there is one parser per syntax.
Errors are ``ValueError`` whose text says what was expected; they never echo the raw value.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Final

GO_TRUE: Final = frozenset({"1", "t", "T", "TRUE", "true", "True"})
GO_FALSE: Final = frozenset({"0", "f", "F", "FALSE", "false", "False"})
BOOL_EXPECTED: Final = "a Go boolean: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false or False"
DURATION_EXPECTED: Final = "a Go duration such as 90s, 5m, 1h30m or 300ms"

# time.ParseDuration's units, in nanoseconds.
_UNITS_NS: Final = {
    "ns": Decimal(1),
    "us": Decimal(1_000),
    "µs": Decimal(1_000),  # U+00B5 micro sign
    "μs": Decimal(1_000),  # U+03BC Greek mu
    "ms": Decimal(1_000_000),
    "s": Decimal(1_000_000_000),
    "m": Decimal(60_000_000_000),
    "h": Decimal(3_600_000_000_000),
}
_PART: Final = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_MAX_NS: Final = Decimal(2**63 - 1)
"""Go durations are int64 nanoseconds (about 292 years); larger values are an error."""


class GoValueError(ValueError):
    """A value is not in Go's syntax; ``expected`` says what would have been."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def parse_go_bool(text: str) -> bool:
    """``strconv.ParseBool``: exactly these spellings, case-sensitive as in Go."""
    if text in GO_TRUE:
        return True
    if text in GO_FALSE:
        return False
    raise GoValueError(BOOL_EXPECTED)


def parse_go_duration(text: str) -> timedelta:
    """``time.ParseDuration``: ``[-+]`` then ``0`` or number+unit pairs (``1h30m``, ``1.5s``).

    As in Go, a unit is required after every number except a lone ``0``, and no spaces are
    allowed. Microsecond precision (timedelta's) is plenty for flags and config timings.
    """
    body = text[1:] if text[:1] in ("-", "+") else text
    negative = text[:1] == "-"
    if body == "0":
        return timedelta(0)
    total, pos = Decimal(0), 0
    while pos < len(body):
        match = _PART.match(body, pos)
        if match is None:
            raise GoValueError(DURATION_EXPECTED)
        total += Decimal(match.group(1)) * _UNITS_NS[match.group(2)]
        pos = match.end()
    if pos == 0 or total > _MAX_NS:
        raise GoValueError(DURATION_EXPECTED)
    micros = float(total / 1000)
    return timedelta(microseconds=-micros if negative else micros)
