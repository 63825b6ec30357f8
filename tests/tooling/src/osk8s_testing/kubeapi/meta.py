"""Small helpers over object metadata: timestamps, names, generation rules.

Pure functions on JSON dicts, shared by the write path and the collectors. The clock is always
passed in so tests can pin time.
"""

from __future__ import annotations

import copy
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Clock = Callable[[], datetime]

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the apimachinery rand alphabet (no vowels)


def utc_now() -> datetime:
    return datetime.now(UTC)


def timestamp(clock: Clock) -> str:
    """RFC 3339 at second precision, as metav1.Time serialises."""
    return clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def metadata(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta


def generated_name(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))


def valid_name(name: str) -> bool:
    return 0 < len(name) <= 253 and bool(_DNS_SUBDOMAIN.match(name))


def valid_path_segment_name(name: str) -> bool:
    """apimachinery's ValidatePathSegmentName, used for RBAC object names."""
    return bool(name) and name not in (".", "..") and "/" not in name and "%" not in name


def finalizers(obj: dict[str, Any]) -> list[str]:
    return list(metadata(obj).get("finalizers") or [])


def deleting(obj: dict[str, Any]) -> bool:
    return bool(metadata(obj).get("deletionTimestamp"))


def uid(obj: dict[str, Any]) -> str:
    return str(metadata(obj).get("uid", ""))


def owner_uids(obj: dict[str, Any]) -> list[str]:
    return [str(r.get("uid")) for r in metadata(obj).get("ownerReferences") or []]


def without(obj: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in fields}


def spec_changed(
    old: dict[str, Any], new: dict[str, Any], *, has_status: bool, custom: bool
) -> bool:
    """Whether the change bumps metadata.generation.

    Custom resources: anything but metadata (and status when the status subresource is on).
    Built-ins: the spec field (what their registry strategies compare).
    """
    if custom:
        skip = ("metadata", "status") if has_status else ("metadata",)
        return without(old, *skip, "apiVersion", "kind") != without(
            new, *skip, "apiVersion", "kind"
        )
    return old.get("spec") != new.get("spec")


def same_content(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Equal but for resourceVersion: such a write is a no-op upstream (no new version)."""
    a, b = copy.deepcopy(old), copy.deepcopy(new)
    metadata(a).pop("resourceVersion", None)
    metadata(b).pop("resourceVersion", None)
    return a == b
