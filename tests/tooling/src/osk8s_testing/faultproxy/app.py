"""The proxy's aiohttp application: decide each call's fault, apply it or forward, record it.

Built by ``build_app(state)``; the caller runs it (in a thread for tests, in the main loop for the
command). Requests under ``/__faults__`` go to the control endpoint and are never forwarded
nor recorded. This module does not bind sockets.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from osk8s_testing.faultproxy import control
from osk8s_testing.faultproxy.calls import Call, CallLog
from osk8s_testing.faultproxy.forward import Rewrite, relay, request_headers, upstream_url
from osk8s_testing.faultproxy.rules import Hang, LoseAnswer, Reset, Respond, RuleSet

CONTROL_PREFIX = "/__faults__"


@dataclass
class ProxyState:
    """Everything the handlers share. Mutable on purpose: rules and rewrites change per test."""

    upstream: str
    rules: RuleSet = field(default_factory=RuleSet)
    calls: CallLog = field(default_factory=CallLog)
    rewrites: Sequence[Rewrite] = ()
    """Replaced whole (never mutated in place), so the loop thread reads a consistent tuple."""
    on_call: Callable[[Call], None] | None = None
    """Called after each recorded call (the command logs them)."""
    connect_timeout: float = 10.0

    def record(self, call: Call) -> None:
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)


STATE: web.AppKey[ProxyState] = web.AppKey("state", ProxyState)
SESSION: web.AppKey[aiohttp.ClientSession] = web.AppKey("session", aiohttp.ClientSession)


def build_app(state: ProxyState) -> web.Application:
    app = web.Application(client_max_size=1024**3)
    app[STATE] = state
    app.cleanup_ctx.append(_upstream_session)
    control.add_routes(app, prefix=CONTROL_PREFIX, rules=state.rules, calls=state.calls)
    app.router.add_route("*", "/{tail:.*}", _handle)
    return app


async def _upstream_session(app: web.Application) -> AsyncIterator[None]:
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=app[STATE].connect_timeout)
    async with aiohttp.ClientSession(
        timeout=timeout,
        auto_decompress=False,  # pass the upstream's bytes through untouched
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        cookie_jar=aiohttp.DummyCookieJar(),
    ) as session:
        app[SESSION] = session
        yield


async def _handle(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    path = request.rel_url.raw_path  # as sent on the wire: rules and records see no decoding
    decision = state.rules.decide(request.method, path)
    if decision.delay > 0:
        await asyncio.sleep(decision.delay)

    def record(status: int | None, fault: str | None, upstream_status: int | None = None) -> None:
        state.record(
            Call(
                method=request.method,
                path=path,
                query=request.query_string,
                status=status,
                fault=fault,
                delayed=decision.delay,
                upstream_status=upstream_status,
            )
        )

    fault = decision.fault
    if isinstance(fault, Respond):
        record(fault.status, fault.kind)
        return web.Response(
            status=fault.status,
            body=fault.body,
            headers=dict(fault.headers),
            content_type=fault.content_type,
        )
    if isinstance(fault, Reset):
        record(None, fault.kind)
        return _reset(request)
    if isinstance(fault, Hang):
        record(None, fault.kind)
        await asyncio.sleep(fault.seconds)
        if request.transport is not None:
            request.transport.close()
        return web.Response()  # never written: the transport is closed
    if isinstance(fault, LoseAnswer):
        return await _forward_and_lose(request, state, fault, record)
    return await _forward(request, state, record)


def _reset(request: web.Request) -> web.StreamResponse:
    """Abort the client connection with a TCP RST (SO_LINGER 0), sending no response."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response()  # never written: the transport is gone


Record = Callable[..., None]


async def _send_upstream(
    request: web.Request, state: ProxyState, *, rewriting: bool
) -> aiohttp.ClientResponse | web.Response:
    """The upstream's response, or the 502 to send when the upstream cannot be reached."""
    body = await request.read()
    try:
        return await request.app[SESSION].request(
            request.method,
            upstream_url(state.upstream, request.raw_path),
            headers=request_headers(request.headers, rewriting=rewriting),
            data=body if body else None,
            allow_redirects=False,
        )
    except (aiohttp.ClientError, OSError) as e:
        return web.json_response(
            {"error": {"code": 502, "message": f"fault proxy: upstream unreachable: {e}"}},
            status=502,
        )


async def _forward_and_lose(
    request: web.Request, state: ProxyState, fault: LoseAnswer, record: Record
) -> web.StreamResponse:
    """The upstream acts on the request and answers in full; the client never gets it."""
    upstream = await _send_upstream(request, state, rewriting=False)
    if isinstance(upstream, web.Response):
        record(upstream.status, None)
        return upstream  # nothing reached the upstream: no answer to lose
    async with upstream:
        await upstream.read()  # the whole answer: the upstream has finished its work
        record(None, fault.kind, upstream.status)
    if fault.after == "hang":
        await asyncio.sleep(fault.seconds)
    if fault.after == "reset":
        return _reset(request)
    if request.transport is not None:
        request.transport.close()
    return web.Response()  # never written: the transport is closed


async def _forward(request: web.Request, state: ProxyState, record: Record) -> web.StreamResponse:
    rewrites = tuple(state.rewrites)
    upstream = await _send_upstream(request, state, rewriting=bool(rewrites))
    if isinstance(upstream, web.Response):
        record(upstream.status, None)
        return upstream
    async with upstream:
        record(upstream.status, None)
        try:
            return await relay(request, upstream, rewrites)
        except (TimeoutError, aiohttp.ClientError, OSError):
            # The upstream broke mid-body or the client went away: headers are already sent,
            # so the only faithful thing left is to drop the client connection.
            return _reset(request)
