"""A tiny Keystone v3 on 127.0.0.1 for tests: POST /v3/auth/tokens answers a token + catalog.

Records every request (path, headers, JSON body) so tests can assert what the client sent.
Optional TLS (server context passed in) to prove CA / insecure / client-cert wiring. A
``status`` of 401 makes it refuse every authentication, as Keystone does for bad credentials.
"""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ISSUED_TOKEN = "gAAAAfake-issued-token-value-0001"
REGIONS = ("RegionOne", "RegionTwo")
INTERFACES = ("public", "internal", "admin")


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeKeystone:
    tls: ssl.SSLContext | None = None
    status: int = 201
    requests: list[Recorded] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    @property
    def auth_url(self) -> str:
        return f"{self.url}/v3"

    def compute_url(self, region: str, interface: str) -> str:
        return f"{self.url}/compute/{region}/{interface}"

    def __enter__(self) -> FakeKeystone:
        keystone = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                body = json.loads(raw) if raw else None
                keystone.requests.append(
                    Recorded("POST", self.path, dict(self.headers.items()), body)
                )
                if self.path.rstrip("/") != "/v3/auth/tokens":
                    self._send(404, {"error": {"code": 404, "message": "not found"}})
                elif keystone.status != 201:
                    self._send(
                        keystone.status,
                        {
                            "error": {
                                "code": keystone.status,
                                "title": "Unauthorized",
                                "message": "The request you have made requires authentication.",
                            }
                        },
                    )
                else:
                    methods = body["auth"]["identity"]["methods"]
                    self._send(201, keystone.token_body(methods), token=ISSUED_TOKEN)

            def do_GET(self) -> None:
                keystone.requests.append(
                    Recorded("GET", self.path, dict(self.headers.items()), None)
                )
                self._send(200, {"path": self.path})

            def _send(self, status: int, payload: Any, token: str | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if token:
                    self.send_header("X-Subject-Token", token)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def auth_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith("/v3/auth/tokens")]

    def token_body(self, methods: list[str]) -> dict[str, Any]:
        endpoints = [
            {
                "id": f"{region}-{interface}",
                "region": region,
                "region_id": region,
                "interface": interface,
                "url": self.compute_url(region, interface),
            }
            for region in REGIONS
            for interface in INTERFACES
        ]
        identity = [
            {"id": f"id-{i}", "region": r, "region_id": r, "interface": i, "url": self.auth_url}
            for r in REGIONS
            for i in INTERFACES
        ]
        return {
            "token": {
                "methods": methods,
                "expires_at": "2099-01-01T00:00:00.000000Z",
                "issued_at": "2026-01-01T00:00:00.000000Z",
                "user": {
                    "id": "u-1",
                    "name": "bob",
                    "domain": {"id": "default", "name": "Default"},
                },
                "project": {
                    "id": "p-1",
                    "name": "proj",
                    "domain": {"id": "default", "name": "Default"},
                },
                "catalog": [
                    {"type": "compute", "name": "nova", "id": "c", "endpoints": endpoints},
                    {"type": "identity", "name": "keystone", "id": "k", "endpoints": identity},
                ],
            }
        }
