"""A scripted Block Storage endpoint on 127.0.0.1 for the client-layer tests.

Each (method, path) gets a list of replies played in order (the last one repeats); a reply can
also abort the TCP connection with a reset. The real openstacksdk / keystoneauth / requests
stack talks to it, so the tests exercise exactly what production code sees on the wire.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openstack.connection


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    reset: bool = False
    """Abort the connection with a TCP RST after reading the request, answering nothing."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Resets are deliberate; the handler's write to a dead socket is expected.
        return


class ScriptedCloud:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: dict[tuple[str, str], deque[Reply]] = {}
        self.seen: list[tuple[str, str]] = []
        self.bodies: list[bytes] = []
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, method: str, path: str, *replies: Reply) -> None:
        with self._lock:
            self._script[(method, path)] = deque(replies)

    def calls(self, method: str, path: str) -> int:
        return self.seen.count((method, path))

    def _next(self, method: str, path: str) -> Reply:
        with self._lock:
            self.seen.append((method, path))
            queue = self._script.get((method, path))
            if not queue:
                return Reply(404, {"itemNotFound": {"message": f"{path} not scripted"}})
            return queue.popleft() if len(queue) > 1 else queue[0]

    def _version_doc(self) -> bytes:
        version = {
            "id": "v3.0",
            "status": "CURRENT",
            "min_version": "3.0",
            "version": "3.70",
            "links": [{"rel": "self", "href": f"{self.url}/v3/"}],
        }
        return json.dumps({"version": version}).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        cloud = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                cloud.bodies.append(self.rfile.read(length) if length else b"")
                path = self.path.split("?", 1)[0]
                if self.command == "GET" and path in ("/v3", "/v3/"):
                    self._send(Reply(200), self_body=cloud._version_doc())
                    return
                reply = cloud._next(self.command, path)
                if reply.reset:
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                    self.close_connection = True
                    return
                self._send(reply)

            def _send(self, reply: Reply, self_body: bytes | None = None) -> None:
                body = self_body if self_body is not None else json.dumps(reply.body or {}).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def do_PUT(self) -> None:
                self._serve()

            def do_DELETE(self) -> None:
                self._serve()

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def make_connection(url: str, *, token: str | None = None) -> openstack.connection.Connection:
    """A real openstacksdk Connection to the scripted endpoint (no Keystone involved)."""
    auth: dict[str, Any]
    if token is None:
        auth_type, auth = "none", {"endpoint": url}
    else:
        auth_type, auth = "admin_token", {"endpoint": url, "token": token}
    return openstack.connection.Connection(
        auth_type=auth_type,
        auth=auth,
        block_storage_endpoint_override=f"{url}/v3/",
        block_storage_api_version="3",
        connect_retries=0,
        api_timeout=5,
    )
