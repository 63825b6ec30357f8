"""The small HTTP server every osk8s process exposes: ``/metrics``, ``/healthz``, ``/readyz``.

Health and readiness are lists of named checks (a callable returning None when fine, or a
reason); the answer is 200 ``ok`` or 500 naming each failing check, in the Kubernetes
``[+]name ok`` / ``[-]name failed: reason`` style. Metrics come from the injected registry.
The server binds exactly the host:port it is given and must be stopped by its owner.

Given an ``ssl_context`` it serves HTTPS (the TLS handshake runs on the request's thread, so
a stalled client cannot block the accept loop); given a ``guard`` every request passes it
first (delegated authentication/authorization: ``osk8s_core.k8s.delegated_auth``).
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Protocol
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from osk8s_core.redaction import scrub_text, truncate

Check = Callable[[], str | None]
"""A health check: returns None when healthy, else a short reason. Raising also fails it."""

_log = logging.getLogger(__name__)

_REASON_LIMIT: Final = 200
_TLS_HANDSHAKE_TIMEOUT: Final = 10.0


class Refused(Protocol):
    """An answer that ends a request before its handler runs."""

    @property
    def status(self) -> int: ...
    @property
    def body(self) -> bytes: ...
    @property
    def content_type(self) -> str: ...


class RequestGuard(Protocol):
    """Decides, before any handler, whether a request is served."""

    def check(self, method: str, path: str, authorization: str) -> Refused | None:
        """None to serve; else the refusal. ``authorization``: the header, "" when absent."""
        ...


@dataclass
class HealthChecks:
    """A named set of checks, run on each probe. Add checks before serving."""

    checks: dict[str, Check] = field(default_factory=dict)

    def add(self, name: str, check: Check) -> None:
        if name in self.checks:
            raise ValueError(f"health check {name!r} already registered")
        self.checks[name] = check

    def run(self, *, verbose: bool = False) -> tuple[bool, str]:
        """(healthy, body). Body is ``ok`` when all pass, unless ``verbose``."""
        lines: list[str] = []
        healthy = True
        for name, check in list(self.checks.items()):
            try:
                reason = check()
            except Exception as exc:  # a crashing check is a failing check, not a crash
                reason = f"{type(exc).__name__}: {exc}"
            if reason is None:
                lines.append(f"[+]{name} ok")
            else:
                healthy = False
                lines.append(f"[-]{name} failed: {truncate(scrub_text(reason), _REASON_LIMIT)}")
        if healthy and not verbose:
            return True, "ok\n"
        summary = "check passed" if healthy else "check failed"
        return healthy, "\n".join([*lines, summary]) + "\n"


def _handler(
    registry: CollectorRegistry,
    health: HealthChecks,
    ready: HealthChecks,
    guard: RequestGuard | None = None,
) -> type[BaseHTTPRequestHandler]:
    probes = {"/healthz": health, "/livez": health, "/readyz": ready}

    class Handler(BaseHTTPRequestHandler):
        server_version = "osk8s"

        def setup(self) -> None:
            if isinstance(self.request, ssl.SSLSocket):
                self.request.settimeout(_TLS_HANDSHAKE_TIMEOUT)
                self.request.do_handshake()
            super().setup()

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if guard is not None:
                refused = guard.check("GET", url.path, self.headers.get("Authorization", ""))
                if refused is not None:
                    self._reply(refused.status, refused.body, refused.content_type)
                    return
            if url.path == "/metrics":
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._reply(200, encoder(registry), content_type)
            elif url.path in probes:
                verbose = "verbose" in parse_qs(url.query, keep_blank_values=True)
                healthy, body = probes[url.path].run(verbose=verbose)
                self._reply(200 if healthy else 500, body.encode(), "text/plain; charset=utf-8")
            else:
                self._reply(404, b"not found\n", "text/plain; charset=utf-8")

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            # Probes arrive every few seconds; access lines would drown the real logs.
            return

    return Handler


class _Server(ThreadingHTTPServer):
    """HTTP, or HTTPS with sockets wrapped on accept and the handshake deferred to the
    request's thread; an IPv6 host (``::``, ``::1``) binds an IPv6 socket."""

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        context: ssl.SSLContext | None,
    ) -> None:
        self._context = context
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        if self._context is None:
            return sock, address
        wrapped = self._context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return wrapped, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self._context is None:
            super().handle_error(request, client_address)
            return
        # failed handshakes (port scanners, plain-HTTP probes) are the client's problem
        _log.debug("HTTPS request from %s failed", client_address[0], exc_info=True)


class HealthServer:
    """Serves ``/metrics``, ``/healthz`` (alias ``/livez``) and ``/readyz`` on a thread."""

    def __init__(
        self,
        *,
        registry: CollectorRegistry,
        health: HealthChecks | None = None,
        ready: HealthChecks | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        poll_interval: float = 0.5,
        ssl_context: ssl.SSLContext | None = None,
        guard: RequestGuard | None = None,
    ) -> None:
        """``poll_interval`` bounds how long ``stop`` waits for the serving loop to notice."""
        self.health = health if health is not None else HealthChecks()
        self.ready = ready if ready is not None else HealthChecks()
        handler = _handler(registry, self.health, self.ready, guard)
        self._server = _Server((host, port), handler, ssl_context)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._poll_interval = poll_interval

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port): with port 0 the kernel's choice."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> HealthServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": self._poll_interval},
            name="osk8s-health",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> HealthServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
