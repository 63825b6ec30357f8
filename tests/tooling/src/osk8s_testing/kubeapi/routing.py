"""URL paths of the Kubernetes API, parsed into what they address.

``/api/v1/...`` is the core group, ``/apis/<group>/<version>/...`` the others; below that come
``[namespaces/<ns>/]<plural>[/<name>[/<subresource>]]``. Parsing only: resolving the resource
type and checking scope is the handler's job.
"""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE_SUBRESOURCES = ("status", "finalize")


@dataclass(frozen=True)
class Discovery:
    """A discovery document: kind is 'root' (/api or /apis), 'group' or 'resources'."""

    kind: str
    core: bool
    group: str = ""
    version: str = ""


@dataclass(frozen=True)
class ResourcePath:
    group: str
    version: str
    plural: str
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None


def parse(path: str) -> Discovery | ResourcePath | None:
    parts = [p for p in path.split("?", maxsplit=1)[0].split("/") if p]
    if not parts or parts[0] not in ("api", "apis"):
        return None
    core = parts[0] == "api"
    if len(parts) == 1:
        return Discovery("root", core)
    if core:
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) == 2:
            return Discovery("group", core, parts[1])
        group, version, rest = parts[1], parts[2], parts[3:]
    if not rest:
        return Discovery("resources", core, group, version)
    return _resource(group, version, rest)


def _resource(group: str, version: str, rest: list[str]) -> ResourcePath | None:
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (len(rest) == 3 and rest[2] in NAMESPACE_SUBRESOURCES)
    ):
        namespace, rest = rest[1], rest[2:]
    else:
        namespace = None
    if len(rest) > 3:
        return None
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    return ResourcePath(group, version, plural, namespace, name, sub)
