"""Identity v3 endpoint discovery from an auth URL's version document, as keystoneauth does it.

Shared by the webhook (``keystone``) and the exec plugin (``keystone_login``): pure functions,
standard library only (the exec plugin ships as one file needing only Python). The caller
fetches each of ``discovery_urls`` in turn and asks ``v3_from_document`` for the endpoint.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

_VERSION_SUFFIX = re.compile(r"/v\d+(\.\d+)?/?$")
USABLE_STATUS = ("stable", "current", "supported")


def _self_link(version: dict[str, Any]) -> str:
    for link in version.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "self" and link.get("href"):
            return str(link["href"])
    return ""


def _version_key(version_id: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version_id.lstrip("v").split("."))
    except ValueError:
        return (0,)


def v3_from_document(document: object, *, url: str) -> str | None:
    """The v3 endpoint a version document names (single ``version`` or a ``versions`` list);
    None when it names none. A relative ``href`` is resolved against ``url``."""
    if not isinstance(document, dict):
        return None
    if isinstance(document.get("version"), dict):
        candidates = [document["version"]]
    else:
        versions = document.get("versions")
        if isinstance(versions, dict):
            versions = versions.get("values")
        candidates = [v for v in versions or [] if isinstance(v, dict)]
    usable = [
        v
        for v in candidates
        if str(v.get("id", "")).startswith("v3")
        and str(v.get("status", "stable")).lower() in USABLE_STATUS
        and _self_link(v)
    ]
    if not usable:
        return None
    best = max(usable, key=lambda v: _version_key(str(v["id"])))
    return urljoin(url.rstrip("/") + "/", _self_link(best)).rstrip("/")


def discovery_urls(auth_url: str) -> list[str]:
    """Where to look for the version document: the URL as given, then (if it names a version,
    e.g. ``/v3`` or ``/v2.0``) the unversioned root, as keystoneauth falls back."""
    given = auth_url.strip()
    parts = urlsplit(given)
    stripped = _VERSION_SUFFIX.sub("", parts.path.rstrip("/") + "/")
    root = urlunsplit((parts.scheme, parts.netloc, stripped.rstrip("/") + "/", "", ""))
    return [given] if root.rstrip("/") == given.rstrip("/") else [given, root]
