"""The authorization policy document (CPO's JSON list, formats v1 and v2), parsed and checked.

``parse_policies`` turns the JSON text of ``--keystone-policy-file`` or the ConfigMap key
``policies`` into frozen ``Policy`` objects, or raises ``PolicyError`` naming the entry and the
field at fault, so a bad document is refused whole (the caller keeps the last good one). It only
parses: evaluating a request against policies is ``authorizer``'s job.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from osk8s_core.errors import ConfigError

MATCH_TYPES: Final = frozenset({"user", "group", "project", "role"})


class PolicyError(ConfigError):
    """The policy document is not a valid CPO policy list."""


@dataclass(frozen=True)
class ResourceSpec:
    """v1 ``resource``: every field must match the request."""

    verbs: tuple[str, ...]
    resources: tuple[str, ...]
    """``*``, ``<res>``, ``<res>/*`` or ``<res>/<subresource>``."""
    api_group: str
    """JSON key ``version`` (matches CPO: it is compared with the API group); ``*`` = any."""
    namespace: str
    """``*`` matches every namespace and cluster-scoped requests."""


@dataclass(frozen=True)
class NonResourceSpec:
    """v1 ``nonresource``: verbs and a path (exact, ``*``, or prefix ending in ``*``)."""

    verbs: tuple[str, ...]
    path: str


@dataclass(frozen=True)
class Match:
    """v1 ``match`` entry: ``type`` user|group|project|role and accepted ``values``."""

    type: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    """One entry of the policy list; v1 and v2 fields may both be present (v2 wins)."""

    resource: ResourceSpec | None = None
    nonresource: NonResourceSpec | None = None
    match: tuple[Match, ...] = ()
    resource_permissions: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    """v2: ``("<ns>/<res>", verbs)`` pairs in document order."""
    nonresource_permissions: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    """v2: ``("/path", verbs)`` pairs."""
    users: Mapping[str, tuple[str, ...]] | None = None
    """v2 ``users``: ``roles`` (all required) and ``projects`` (one required)."""


def parse_policies(text: str, *, source: str = "policy") -> tuple[Policy, ...]:
    """Parse a JSON policy list; raises ``PolicyError`` with ``source`` and the entry index."""
    try:
        data = json.loads(text) if text.strip() else []
    except json.JSONDecodeError as exc:
        raise PolicyError(f"not valid JSON: {exc}", file=source) from exc
    if data is None:
        return ()
    if not isinstance(data, list):
        raise PolicyError("the document must be a JSON list of policies", file=source)
    return tuple(_policy(entry, source=source, index=i) for i, entry in enumerate(data))


def _policy(entry: object, *, source: str, index: int) -> Policy:
    where = f"policy[{index}]"
    if not isinstance(entry, dict):
        raise PolicyError("each policy must be a JSON object", file=source, key=where)
    return Policy(
        resource=_resource(entry.get("resource"), source=source, where=f"{where}.resource"),
        nonresource=_nonresource(
            entry.get("nonresource"), source=source, where=f"{where}.nonresource"
        ),
        match=tuple(
            _match(m, source=source, where=f"{where}.match[{i}]")
            for i, m in enumerate(_list(entry.get("match"), source, f"{where}.match"))
        ),
        resource_permissions=_permissions(
            entry.get("resource_permissions"), source=source, where=f"{where}.resource_permissions"
        ),
        nonresource_permissions=_permissions(
            entry.get("nonresource_permissions"),
            source=source,
            where=f"{where}.nonresource_permissions",
        ),
        users=_users(entry.get("users"), source=source, where=f"{where}.users"),
    )


def _list(value: object, source: str, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PolicyError("must be a list", file=source, key=where)
    return value


def _strings(value: object, source: str, where: str) -> tuple[str, ...]:
    items = _list(value, source, where)
    if not all(isinstance(item, str) for item in items):
        raise PolicyError("must be a list of strings", file=source, key=where)
    return tuple(items)


def _object(value: object, source: str, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PolicyError("must be a JSON object", file=source, key=where)
    return value


def _resource(value: object, *, source: str, where: str) -> ResourceSpec | None:
    spec = _object(value, source, where)
    if spec is None:
        return None
    # CPO dereferences version and namespace unchecked (a crash per request); refuse up front.
    for key in ("version", "namespace"):
        if not isinstance(spec.get(key), str):
            raise PolicyError(
                "must be set (a string; '*' for any)", file=source, key=f"{where}.{key}"
            )
    return ResourceSpec(
        verbs=_strings(spec.get("verbs"), source, f"{where}.verbs"),
        resources=_strings(spec.get("resources"), source, f"{where}.resources"),
        api_group=spec["version"],
        namespace=spec["namespace"],
    )


def _nonresource(value: object, *, source: str, where: str) -> NonResourceSpec | None:
    spec = _object(value, source, where)
    if spec is None:
        return None
    path = spec.get("path")
    if path is not None and not isinstance(path, str):
        raise PolicyError("must be a string", file=source, key=f"{where}.path")
    # A missing path is kept as "" and never matches, as CPO skips such a policy.
    return NonResourceSpec(
        verbs=_strings(spec.get("verbs"), source, f"{where}.verbs"), path=path or ""
    )


def _match(value: object, *, source: str, where: str) -> Match:
    spec = _object(value, source, where)
    if spec is None or not isinstance(spec.get("type"), str):
        raise PolicyError("needs a string 'type'", file=source, key=where)
    # An unknown type is kept: CPO denies on it at evaluation, and so do we.
    return Match(type=spec["type"], values=_strings(spec.get("values"), source, f"{where}.values"))


def _permissions(
    value: object, *, source: str, where: str
) -> tuple[tuple[str, tuple[str, ...]], ...] | None:
    spec = _object(value, source, where)
    if spec is None:
        return None
    return tuple((key, _strings(verbs, source, f"{where}[{key!r}]")) for key, verbs in spec.items())


def _users(value: object, *, source: str, where: str) -> Mapping[str, tuple[str, ...]] | None:
    spec = _object(value, source, where)
    if spec is None:
        return None
    return {key: _strings(items, source, f"{where}.{key}") for key, items in spec.items()}
