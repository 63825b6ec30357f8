"""Fixtures for the keystone_auth suite: a TLS pair for 127.0.0.1 and a fake Keystone at the wire.

The fake Keystone is an HTTP server on 127.0.0.1:0 that answers version discovery (``GET /``
with the ``versions`` list and 300, ``GET /v3`` with one ``version``, links built like
Keystone's: from ``public_endpoint`` or the Host header), ``GET /v3/auth/tokens`` and
``GET /v3/users/<id>/groups`` (in pages of ``group_page_size`` linked by ``links.next``, like a
Keystone with pagination) for the tokens a test registers; it records every path and can be
switched to "down" (503) or have a token revoked (404), so the webhook is tested through its
real HTTP client. The contract suite uses the real Keystone instead.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from osk8s_testing.tls import TlsFiles, self_signed_localhost


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1 (it is its own CA bundle)."""
    return self_signed_localhost(tmp_path_factory.mktemp("tls"))


@dataclass
class SkewedClock:
    """Wall time plus what the test adds: the token cache's TTL runs out when the test says so,
    never because a loaded machine was slow between two reviews (a wall-clock TTL of 0.5 s did)."""

    skew: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.skew

    def advance(self, seconds: float) -> None:
        self.skew += seconds


@pytest.fixture
def cache_clock() -> SkewedClock:
    return SkewedClock()


@dataclass
class FakeUser:
    user_id: str
    name: str
    project_id: str = "p-1"
    project_name: str = "demo"
    roles: tuple[str, ...] = ("member",)
    groups: tuple[str, ...] = ()
    domain_id: str = "default"
    domain_name: str = "Default"
    expires_in: float = 3600.0
    scoped: bool = True


@dataclass
class FakeKeystone:
    url: str = ""
    tokens: dict[str, FakeUser] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    down: bool = False
    public_endpoint: str = ""
    """Base of the links in version documents (Keystone's option); "" = from the Host header."""
    group_page_size: int = 0
    """Groups per page; 0 = all in one page."""

    def token_document(self, user: FakeUser) -> dict[str, Any]:
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=user.expires_in)
        token: dict[str, Any] = {
            "user": {
                "id": user.user_id,
                "name": user.name,
                "domain": {"id": user.domain_id, "name": user.domain_name},
            },
            "roles": [{"id": f"r-{r}", "name": r} for r in user.roles],
            "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
        }
        if user.scoped:
            token["project"] = {"id": user.project_id, "name": user.project_name}
        return {"token": token}


def _handler(keystone: FakeKeystone) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            keystone.calls.append(self.path)
            if keystone.down:
                self._reply(503, {"error": {"code": 503, "message": "down"}})
                return
            parts = urlsplit(self.path)
            path, query = parts.path, parse_qs(parts.query, keep_blank_values=True)
            base = keystone.public_endpoint or f"http://{self.headers.get('Host')}"
            version = {
                "id": "v3.14",
                "status": "stable",
                "links": [{"rel": "self", "href": f"{base}/v3/"}],
            }
            if path == "/":
                self._reply(300, {"versions": {"values": [version]}})
                return
            if path in ("/v3", "/v3/"):
                self._reply(200, {"version": version})
                return
            if not path.startswith("/v3/"):
                self._reply(404, {"error": {"code": 404, "message": "Not Found"}})
                return
            caller = keystone.tokens.get(self.headers.get("X-Auth-Token", ""))
            if caller is None:
                self._reply(401, {"error": {"code": 401, "message": "unauthorized"}})
                return
            if path == "/v3/auth/tokens":
                subject = keystone.tokens.get(self.headers.get("X-Subject-Token", ""))
                if subject is None:
                    self._reply(404, {"error": {"code": 404, "message": "not found"}})
                    return
                self._reply(200, keystone.token_document(subject))
            elif path == f"/v3/users/{caller.user_id}/groups":
                groups = [{"id": f"g-{g}", "name": g} for g in caller.groups]
                start = int(query.get("marker", ["0"])[0])
                size = keystone.group_page_size or len(groups) or 1
                page = groups[start : start + size]
                more = start + size < len(groups)
                link = f"{base}{path}?marker={start + size}" if more else None
                self._reply(200, {"groups": page, "links": {"next": link, "self": path}})
            else:
                self._reply(404, {"error": {"code": 404, "message": "no route"}})

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def fake_keystone() -> Iterator[FakeKeystone]:
    keystone = FakeKeystone()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(keystone))
    server.daemon_threads = True
    keystone.url = f"http://127.0.0.1:{server.server_address[1]}/v3"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield keystone
    server.shutdown()
    server.server_close()
