"""The authorization policy document (CPO's JSON list, formats v1 and v2), parsed and checked.

``parse_policies`` turns the JSON text of ``--keystone-policy-file`` or the ConfigMap key
``policies`` into frozen ``Policy`` objects. It accepts every document CPO's Go decoder accepts:
field names in any letter case (encoding/json matches them case-insensitively), ``null`` for any
field or entry, and v1 ``resource`` entries without ``version`` or ``namespace``. Where CPO then
crashes on each request (a nil dereference), the entry simply never allows, and the others are
still evaluated. A document Go refuses too (not JSON, a wrong type) raises ``PolicyError``
naming the entry and field at fault, so it is refused whole (the caller keeps the last good
one). It only parses: evaluating a request against policies is ``authorizer``'s job.
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
    api_group: str | None
    """JSON key ``version`` (matches CPO: it is compared with the API group); ``*`` = any;
    None (absent) matches nothing."""
    namespace: str | None
    """``*`` matches every namespace and cluster-scoped requests; None matches nothing."""


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


def _field(obj: dict[str, Any], name: str) -> Any:
    """``obj[name]`` as Go's encoding/json finds a struct field: the exact key, else any key
    equal to it ignoring letter case (the last such key in the document wins, as in Go)."""
    if name in obj:
        return obj[name]
    found = None
    for key, value in obj.items():
        if key.lower() == name or key.upper() == name.upper():
            found = value
    return found


def _policy(entry: object, *, source: str, index: int) -> Policy:
    where = f"policy[{index}]"
    if entry is None:
        return Policy()  # CPO crashes on a null entry per request; here it allows nothing
    if not isinstance(entry, dict):
        raise PolicyError("each policy must be a JSON object", file=source, key=where)
    return Policy(
        resource=_resource(_field(entry, "resource"), source=source, where=f"{where}.resource"),
        nonresource=_nonresource(
            _field(entry, "nonresource"), source=source, where=f"{where}.nonresource"
        ),
        match=tuple(
            _match(m, source=source, where=f"{where}.match[{i}]")
            for i, m in enumerate(_list(_field(entry, "match"), source, f"{where}.match"))
        ),
        resource_permissions=_permissions(
            _field(entry, "resource_permissions"),
            source=source,
            where=f"{where}.resource_permissions",
        ),
        nonresource_permissions=_permissions(
            _field(entry, "nonresource_permissions"),
            source=source,
            where=f"{where}.nonresource_permissions",
        ),
        users=_users(_field(entry, "users"), source=source, where=f"{where}.users"),
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
    # Absent version/namespace: CPO dereferences them unchecked (a crash per request); kept as
    # None, which matches no request.
    version, namespace = _field(spec, "version"), _field(spec, "namespace")
    for key, given in (("version", version), ("namespace", namespace)):
        if given is not None and not isinstance(given, str):
            raise PolicyError("must be a string ('*' for any)", file=source, key=f"{where}.{key}")
    return ResourceSpec(
        verbs=_strings(_field(spec, "verbs"), source, f"{where}.verbs"),
        resources=_strings(_field(spec, "resources"), source, f"{where}.resources"),
        api_group=version,
        namespace=namespace,
    )


def _nonresource(value: object, *, source: str, where: str) -> NonResourceSpec | None:
    spec = _object(value, source, where)
    if spec is None:
        return None
    path = _field(spec, "path")
    if path is not None and not isinstance(path, str):
        raise PolicyError("must be a string", file=source, key=f"{where}.path")
    # A missing path is kept as "" and never matches, as CPO skips such a policy.
    return NonResourceSpec(
        verbs=_strings(_field(spec, "verbs"), source, f"{where}.verbs"), path=path or ""
    )


def _match(value: object, *, source: str, where: str) -> Match:
    spec = _object(value, source, where) or {}
    kind = _field(spec, "type")
    if kind is not None and not isinstance(kind, str):
        raise PolicyError("'type' must be a string", file=source, key=where)
    # A missing or unknown type is kept: CPO denies on it at evaluation, and so do we.
    values = _strings(_field(spec, "values"), source, f"{where}.values")
    return Match(type=kind or "", values=values)


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
