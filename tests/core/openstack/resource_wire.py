"""A recording HTTP server on 127.0.0.1 for the resource-layer wire tests, and an
openstacksdk connection whose service endpoints point at it (with the version documents
keystoneauth's discovery reads). Answers come from a (method, path) table."""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openstack.connection
from prometheus_client import CollectorRegistry

from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.retry import NO_RETRY

RESET = -1


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """Answers from a {(method, path): (status, body, content type)} table; records all."""

    routes: dict[tuple[str, str], tuple[int, bytes, str]] = field(default_factory=dict)
    once: dict[tuple[str, str], list[tuple[int, bytes, str]]] = field(default_factory=dict)
    """Answers used (in order) before the route's standing answer; status RESET aborts."""
    seen: list[Seen] = field(default_factory=list)

    def json(self, method: str, path: str, body: Any, status: int = 200) -> None:
        self.routes[(method, path)] = (status, json.dumps(body).encode(), "application/json")

    def json_once(self, method: str, path: str, body: Any, status: int = 200) -> None:
        entry = (status, json.dumps(body).encode(), "application/json")
        self.once.setdefault((method, path), []).append(entry)

    def reset_once(self, method: str, path: str) -> None:
        """The next such call reads the request, then gets a TCP RST and no answer."""
        self.once.setdefault((method, path), []).append((RESET, b"", ""))

    def answer(self, method: str, path: str) -> tuple[int, bytes, str]:
        queued = self.once.get((method, path))
        if queued:
            return queued.pop(0)
        return self.routes.get((method, path), (404, b'{"itemNotFound": {}}', "application/json"))


def _handler(rec: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            rec.seen.append(Seen(self.command, path, dict(self.headers.items()), body))
            status, payload, ctype = rec.answer(self.command, path)
            if status == RESET:
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
                self.close_connection = True
                return
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


class NullLogger:
    def warning(self, event: str | None = None, *args: Any, **kw: Any) -> None:
        return None


@contextmanager
def serving() -> Iterator[tuple[Recorder, str]]:
    rec = Recorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    _version_docs(rec, url)
    try:
        yield rec, url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _version_docs(rec: Recorder, url: str) -> None:
    # What keystoneauth's discovery reads at the overridden endpoints.
    docs = (
        ("/v2", "v2.0", "2.90"),
        ("/v1", "v1.0", None),
        ("/lb/v2", "v2.0", None),
        ("/compute/v2.1", "v2.1", "2.96"),
    )
    for prefix, version_id, current in docs:
        doc: dict[str, Any] = {
            "id": version_id,
            "status": "CURRENT",
            "links": [{"rel": "self", "href": f"{url}{prefix}/"}],
        }
        if current:
            doc.update({"min_version": version_id[1:], "version": current})
        for path in (prefix, f"{prefix}/"):
            rec.json("GET", path, {"version": doc})


def wire_client(url: str) -> OpenStackClient[openstack.connection.Connection]:
    conn = openstack.connection.Connection(
        auth_type="none",
        auth={"endpoint": url},
        shared_file_system_endpoint_override=f"{url}/v2/",
        shared_file_system_api_version="2",
        key_manager_endpoint_override=f"{url}/v1/",
        key_manager_api_version="1",
        load_balancer_endpoint_override=f"{url}/lb/v2/",
        load_balancer_api_version="2",
        compute_endpoint_override=f"{url}/compute/v2.1/",
        compute_api_version="2",
        connect_retries=0,
        api_timeout=5,
    )
    return OpenStackClient(
        conn, metrics=ApiMetrics(CollectorRegistry()), retry_policy=NO_RETRY, logger=NullLogger()
    )
