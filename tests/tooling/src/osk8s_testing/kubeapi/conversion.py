"""Conversion between the two Event APIs, which share one storage as upstream.

core/v1 Events are the stored form; events.k8s.io/v1 renames fields (involvedObject ->
regarding, message -> note, source -> deprecatedSource, ...). Anything not renamed is copied.
Must not touch other kinds: callers only use it for events.k8s.io.
"""

from __future__ import annotations

from typing import Any

# (core/v1 field, events.k8s.io/v1 field)
_RENAMES = (
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
)


def _rename(obj: dict[str, Any], pairs: list[tuple[str, str]], api_version: str) -> dict[str, Any]:
    mapping = dict(pairs)
    out: dict[str, Any] = {}
    for key, value in obj.items():
        out[mapping.get(key, key)] = value
    out["apiVersion"] = api_version
    out["kind"] = "Event"
    return out


def core_to_events(obj: dict[str, Any]) -> dict[str, Any]:
    return _rename(obj, list(_RENAMES), "events.k8s.io/v1")


def events_to_core(obj: dict[str, Any]) -> dict[str, Any]:
    return _rename(obj, [(b, a) for a, b in _RENAMES], "v1")


def needs_conversion(group: str, plural: str) -> bool:
    return group == "events.k8s.io" and plural == "events"
