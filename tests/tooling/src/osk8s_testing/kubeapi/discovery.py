"""Discovery documents (/version, /api, /apis, group and resource lists) from the registry.

Enough for the ``kubernetes`` client and its dynamic client to find every served type,
including CRD-served ones as soon as they are registered. Read-only over the registry.
"""

from __future__ import annotations

from typing import Any

from osk8s_testing.kubeapi.resources import Registry, ResourceType
from osk8s_testing.kubeapi.routing import Discovery

VERSION_INFO = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0-osk8s-fake",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.22.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def document(registry: Registry, what: Discovery, server_address: str) -> dict[str, Any] | None:
    if what.kind == "root" and what.core:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
            ],
        }
    groups = registry.groups()
    if what.kind == "root":
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [_group(name, versions) for name, versions in sorted(groups.items()) if name],
        }
    if what.kind == "group":
        if what.group not in groups or not what.group:
            return None
        return {"kind": "APIGroup", "apiVersion": "v1", **_group(what.group, groups[what.group])}
    types = [rt for rt in registry.all() if rt.group == what.group and rt.version == what.version]
    if not types:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": types[0].api_version,
        "resources": [
            entry for rt in sorted(types, key=lambda t: t.plural) for entry in _resources(rt)
        ],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}


def _resources(rt: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    out = [main]
    subs = (["status"] if rt.status_subresource else []) + list(rt.extra_subresources)
    for sub in subs:
        verbs = ["update"] if sub == "finalize" else ["get", "patch", "update"]
        out.append(
            {
                "name": f"{rt.plural}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": verbs,
            }
        )
    return out
