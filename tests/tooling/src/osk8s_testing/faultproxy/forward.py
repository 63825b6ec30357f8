"""Forward one request to the upstream and stream the answer back, changing as little as we can.

Only hop-by-hop headers and Host are dropped (aiohttp sets Host from the upstream URL). Bodies
stream chunk by chunk, so watch streams pass through; only with URL rewriting on is a text body
with a Content-Length (a Keystone catalog) read whole, as its length changes. Never decompress:
the client gets the upstream's bytes. No fault logic here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

# RFC 9110 section 7.6.1 hop-by-hop headers, plus the framing headers that aiohttp recomputes.
_HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
    )
)
_TEXT_TYPES = ("json", "text/", "xml")


@dataclass(frozen=True)
class Rewrite:
    """Replace an upstream base URL by the proxy's in response bodies and Location headers."""

    upstream: str
    proxy: str

    def pattern(self) -> re.Pattern[str]:
        # The lookahead keeps http://127.0.0.1:5000 from matching inside http://127.0.0.1:50001.
        return re.compile(re.escape(self.upstream.rstrip("/")) + r"(?![0-9])")


def apply_rewrites(text: str, rewrites: Sequence[Rewrite]) -> str:
    for rewrite in rewrites:
        text = rewrite.pattern().sub(rewrite.proxy.rstrip("/"), text)
    return text


def upstream_url(base: str, raw_path_qs: str) -> URL:
    """The upstream URL for a request target, keeping its encoding byte for byte."""
    return URL(base.rstrip("/") + raw_path_qs, encoded=True)


def request_headers(incoming: CIMultiDictProxy[str], *, rewriting: bool) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in incoming.items():
        lower = name.lower()
        if lower in _HOP_BY_HOP or lower in ("host", "content-length"):
            continue
        # Rewriting needs plain text: ask the upstream not to compress.
        if rewriting and lower == "accept-encoding":
            continue
        headers.add(name, value)
    return headers


def _response_headers(upstream: aiohttp.ClientResponse, *, drop_length: bool) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in upstream.headers.items():
        lower = name.lower()
        if lower in _HOP_BY_HOP or (drop_length and lower == "content-length"):
            continue
        headers.add(name, value)
    return headers


def _should_rewrite(upstream: aiohttp.ClientResponse, rewrites: Sequence[Rewrite]) -> bool:
    # A body without Content-Length may be a stream that never ends (a watch): never buffer it.
    if not rewrites or upstream.headers.get("Content-Encoding"):
        return False
    if "Content-Length" not in upstream.headers:
        return False
    ctype = upstream.headers.get("Content-Type", "")
    return any(t in ctype for t in _TEXT_TYPES)


async def relay(
    request: web.Request,
    upstream: aiohttp.ClientResponse,
    rewrites: Sequence[Rewrite],
) -> web.StreamResponse:
    """Send the upstream's answer to the client, streaming unless the body must be rewritten."""
    if _should_rewrite(upstream, rewrites):
        body = await upstream.read()
        encoding = upstream.get_encoding()
        # surrogateescape: a body that is not valid text still comes back byte for byte.
        text = apply_rewrites(body.decode(encoding, "surrogateescape"), rewrites)
        headers = _response_headers(upstream, drop_length=True)
        _rewrite_location(headers, rewrites)
        return web.Response(
            status=upstream.status,
            reason=upstream.reason,
            headers=headers,
            body=text.encode(encoding, "surrogateescape"),
        )
    headers = _response_headers(upstream, drop_length=False)
    _rewrite_location(headers, rewrites)
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
    await response.prepare(request)
    async for chunk in upstream.content.iter_any():
        await response.write(chunk)
    await response.write_eof()
    return response


def _rewrite_location(headers: CIMultiDict[str], rewrites: Sequence[Rewrite]) -> None:
    if rewrites and "Location" in headers:
        headers["Location"] = apply_rewrites(headers["Location"], rewrites)
