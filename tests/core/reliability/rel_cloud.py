"""A tiny OpenStack-shaped upstream on 127.0.0.1 for the call-layer reliability tests.

Keystone v3 password auth (a token whose catalog points at a base URL the test chooses, so the
catalog can name the fault proxy) and a few Cinder v3 volume calls. It counts what reached it;
the fault proxy in front decides what fails. Not a fake of our code: it only speaks HTTP.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

PROJECT = "0123456789abcdef0123456789abcdef"
TOKEN = "gAAAA-fake-token"


class Cloud:
    def __init__(self) -> None:
        self.url = ""
        self.catalog_base = ""
        """Base URL the catalog's endpoints use (the proxy's, so clients stay behind it)."""
        self.hits: list[tuple[str, str]] = []
        self.volumes: dict[str, dict[str, object]] = {}
        self._lock = threading.Lock()

    def hit(self, method: str, path: str) -> None:
        with self._lock:
            self.hits.append((method, path))

    def count(self, method: str, prefix: str) -> int:
        with self._lock:
            return sum(1 for m, p in self.hits if m == method and p.startswith(prefix))

    def token_body(self) -> dict[str, object]:
        base = self.catalog_base or self.url
        endpoint = {"interface": "public", "region": "RegionOne", "region_id": "RegionOne"}
        domain = {"id": "default", "name": "Default"}
        return {
            "token": {
                "methods": ["password"],
                "expires_at": "2099-01-01T00:00:00.000000Z",
                "issued_at": "2026-01-01T00:00:00.000000Z",
                "user": {
                    "id": "u1",
                    "name": "demo",
                    "domain": domain,
                },
                "project": {
                    "id": PROJECT,
                    "name": "demo",
                    "domain": domain,
                },
                "roles": [{"id": "r1", "name": "member"}],
                "catalog": [
                    {
                        "id": "s1",
                        "type": "identity",
                        "name": "keystone",
                        "endpoints": [{**endpoint, "id": "e1", "url": f"{base}/identity"}],
                    },
                    {
                        "id": "s2",
                        "type": "block-storage",
                        "name": "cinder",
                        "endpoints": [
                            {**endpoint, "id": "e2", "url": f"{base}/volume/v3/{PROJECT}"}
                        ],
                    },
                ],
            }
        }


def _volume_versions(base: str) -> dict[str, object]:
    return {
        "versions": [
            {
                "id": "v3.0",
                "status": "CURRENT",
                "version": "3.70",
                "min_version": "3.0",
                "updated": "2023-08-31T00:00:00Z",
                "links": [{"rel": "self", "href": f"{base}/volume/v3/"}],
            }
        ]
    }


def _handler(cloud: Cloud) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else delayed ACKs add ~40 ms per call

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, doc: object | None, **headers: str) -> None:
            body = b"" if doc is None else json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Openstack-Request-Id", f"req-{uuid.uuid4()}")
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self) -> dict[str, object]:
            length = int(self.headers.get("Content-Length", "0"))
            return json.loads(self.rfile.read(length)) if length else {}

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_DELETE(self) -> None:
            self._route("DELETE")

        def _route(self, method: str) -> None:
            path = urlsplit(self.path).path.rstrip("/")
            cloud.hit(method, path)
            body = self._json() if method == "POST" else {}
            base = cloud.catalog_base or cloud.url
            volumes = f"/volume/v3/{PROJECT}/volumes"
            if method == "POST" and path == "/identity/v3/auth/tokens":
                self._send(201, cloud.token_body(), X_Subject_Token=TOKEN)
            elif method == "GET" and path in ("/volume", f"/volume/v3/{PROJECT}", "/volume/v3"):
                self._send(200, _volume_versions(base))
            elif method == "POST" and path == volumes:
                spec = body.get("volume", {})
                assert isinstance(spec, dict)
                volume = {"id": str(uuid.uuid4()), "status": "creating", "size": spec.get("size")}
                cloud.volumes[str(volume["id"])] = volume
                self._send(202, {"volume": volume})
            elif method == "GET" and path.startswith(volumes + "/"):
                volume_id = path.rsplit("/", 1)[1]
                found = cloud.volumes.get(volume_id)
                if found is None:
                    self._send(404, {"itemNotFound": {"code": 404, "message": "no such volume"}})
                else:
                    self._send(200, {"volume": found})
            else:
                self._send(404, {"error": {"code": 404, "message": f"no route {method} {path}"}})

    return Handler


@contextmanager
def running_cloud() -> Iterator[Cloud]:
    cloud = Cloud()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(cloud))
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
