"""A tiny Keystone v3 + Barbican payload endpoint on 127.0.0.1, for runs of the real binary.

Keystone answers password auth with a catalog whose key-manager endpoint is this server (or
``catalog_base``, e.g. a fault proxy in front of it); Barbican answers
``GET /v1/secrets/{id}/payload`` with the stored bytes. It counts payload requests. Only the
HTTP wire is faked: the plugin's own code runs unchanged. (Contract tests use real Barbican.)
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

TOKEN = "gAAAA-fake-kms-token"


class FakeCloud:
    def __init__(self) -> None:
        self.url = ""
        self.catalog_base = ""
        self.payloads: dict[str, bytes] = {}
        self.payload_requests = 0
        self._lock = threading.Lock()

    @property
    def auth_url(self) -> str:
        return f"{self.url}/identity/v3"

    def cloud_conf(self, key_id: str, *old: str, auth_url: str | None = None) -> str:
        lines = [
            "[Global]",
            f"auth-url = {auth_url or self.auth_url}",
            "username = demo",
            "password = fake-password",
            "tenant-name = demo",
            "user-domain-name = Default",
            "tenant-domain-name = Default",
            "region = RegionOne",
            "[KeyManager]",
            f"key-id = {key_id}",
            *(f"old-key-id = {k}" for k in old),
        ]
        return "\n".join(lines) + "\n"

    def token_body(self) -> dict[str, object]:
        base = self.catalog_base or self.url
        domain = {"id": "default", "name": "Default"}
        endpoint = {"interface": "public", "region": "RegionOne", "region_id": "RegionOne"}
        return {
            "token": {
                "methods": ["password"],
                "expires_at": "2099-01-01T00:00:00.000000Z",
                "issued_at": "2026-01-01T00:00:00.000000Z",
                "user": {"id": "u1", "name": "demo", "domain": domain},
                "project": {"id": "p1", "name": "demo", "domain": domain},
                "roles": [{"id": "r1", "name": "member"}],
                "catalog": [
                    {
                        "id": "s1",
                        "type": "key-manager",
                        "name": "barbican",
                        "endpoints": [{**endpoint, "id": "e1", "url": f"{base}/barbican"}],
                    }
                ],
            }
        }


def _versions(base: str) -> dict[str, object]:
    link = {"rel": "self", "href": f"{base}/barbican/v1/"}
    return {"versions": {"values": [{"id": "v1", "status": "stable", "links": [link]}]}}


def _handler(cloud: FakeCloud) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Openstack-Request-Id", f"req-{uuid.uuid4()}")
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, doc: object, **headers: str) -> None:
            self._send(status, json.dumps(doc).encode(), "application/json", **headers)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path.rstrip("/")
            base = cloud.catalog_base or cloud.url
            if path in ("/barbican", "/barbican/v1"):
                self._json(200, _versions(base))
                return
            prefix, suffix = "/barbican/v1/secrets/", "/payload"
            if path.startswith(prefix) and path.endswith(suffix):
                secret_id = path[len(prefix) : -len(suffix)]
                with cloud._lock:
                    cloud.payload_requests += 1
                    payload = cloud.payloads.get(secret_id)
                if payload is None:
                    self._json(404, {"code": 404, "title": "Not Found", "description": "Not Found"})
                else:
                    self._send(200, payload, "application/octet-stream")
                return
            self._json(404, {"error": f"no route GET {path}"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            self.rfile.read(length)
            if urlsplit(self.path).path == "/identity/v3/auth/tokens":
                self._json(201, cloud.token_body(), X_Subject_Token=TOKEN)
            else:
                self._json(404, {"error": "no route"})

    return Handler


@contextmanager
def running_fake_cloud(port: int = 0) -> Iterator[FakeCloud]:
    cloud = FakeCloud()
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(cloud))
    server.daemon_threads = True
    cloud.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield cloud
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
