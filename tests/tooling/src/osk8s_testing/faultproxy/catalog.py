"""From a Keystone catalog's endpoint URLs to the upstreams a proxy fleet must front.

A catalog names several services on several ports; one proxy per distinct scheme://host:port
(``start_fleet``) with URL rewriting keeps a catalog-following client behind the proxies.
Pure functions: no I/O, no Keystone calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit


def base_of(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"not an absolute URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def upstream_bases(urls: Iterable[str]) -> dict[str, str]:
    """``{"host:port": "scheme://host:port"}`` for each distinct base among ``urls``."""
    return {urlsplit(base_of(u)).netloc: base_of(u) for u in urls}
