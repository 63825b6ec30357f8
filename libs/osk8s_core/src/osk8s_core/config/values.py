"""Value parsers for cloud.conf: gcfg booleans and integers, Go durations, validated lists.

Each parser takes the raw string and returns the typed value or raises ``ValueError`` whose
text says what was expected; the schema turns that into a ``ConfigError`` naming file, section
and key. Parsers never echo the raw value (it may be a secret).
"""

from __future__ import annotations

import re
from datetime import timedelta

from osk8s_core.govalues import GoValueError, parse_go_duration

# gcfg accepts these (case-insensitive); a blank key (no '=') also means true.
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})

_INT = re.compile(r"[+-]?\d+")

METADATA_SOURCES = ("configDrive", "metadataService")
ENDPOINT_TYPES = ("public", "internal", "admin")


class ExpectedError(ValueError):
    """A raw value did not parse; ``expected`` describes what would have."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def parse_bool(raw: str | None) -> bool:
    """gcfg boolean: true/yes/on/1, false/no/off/0, any case; a blank key is true."""
    if raw is None:
        return True
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ExpectedError("a boolean: true/false, yes/no, on/off or 1/0")


def parse_int(raw: str | None) -> int:
    """gcfg integer: optional sign and decimal digits."""
    if raw is None or not _INT.fullmatch(raw.strip()):
        raise ExpectedError("a decimal integer")
    return int(raw.strip())


def parse_duration(raw: str | None) -> timedelta:
    """Go ``time.ParseDuration`` syntax: ``5s``, ``1m30s``, ``1.5h``, ``300ms``, ``0``."""
    expected = "a Go duration such as 5s, 1m30s or 300ms"
    if raw is None:
        raise ExpectedError(expected)
    try:
        return parse_go_duration(raw.strip())  # gcfg values may carry blanks around them
    except GoValueError:
        raise ExpectedError(expected) from None


def parse_str(raw: str | None) -> str:
    """A plain string; a blank key reads as the empty string, as in gcfg."""
    return "" if raw is None else raw


def parse_search_order(raw: str | None) -> tuple[str, ...]:
    """``[Metadata] search-order``: 1-2 comma-separated items of configDrive, metadataService."""
    expected = "1 or 2 comma-separated items of configDrive, metadataService"
    items = tuple(item.strip() for item in parse_str(raw).split(",") if item.strip())
    if not 1 <= len(items) <= 2 or len(set(items)) != len(items):
        raise ExpectedError(expected)
    if any(item not in METADATA_SOURCES for item in items):
        raise ExpectedError(expected)
    return items


def parse_endpoint_type(raw: str | None) -> str:
    """``os-endpoint-type``: public, internal or admin (any case; ``publicURL`` style too)."""
    lowered = parse_str(raw).strip().lower().removesuffix("url")
    if lowered not in ENDPOINT_TYPES:
        raise ExpectedError("one of public, internal, admin")
    return lowered


def parse_lb_version(raw: str | None) -> str:
    """``[LoadBalancer] lb-version``: empty or ``v2`` (CPO refuses anything else at start)."""
    value = parse_str(raw).strip()
    if value not in ("", "v2"):
        raise ExpectedError("empty or v2")
    return value


def format_duration(value: timedelta) -> str:
    """Render a timedelta back in Go syntax, for docs and messages."""
    seconds = value.total_seconds()
    return f"{seconds:g}s"
