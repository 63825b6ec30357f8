"""A tiny upstream HTTP server on 127.0.0.1 for the fault proxy's own tests.

Echoes requests, streams gated chunks (the test releases each next chunk, so a buffering proxy
would deadlock the test instead of passing it), serves a catalog naming URLs, a redirect and a
gzip body. Counts the calls it served so tests see what reached the upstream.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Upstream:
    def __init__(self) -> None:
        self.hits = 0
        self.release = threading.Event()
        """Set by a test to let /stream send its second chunk."""
        self.catalog_urls: list[str] = []
        self._lock = threading.Lock()
        self.url = ""

    def hit(self) -> None:
        with self._lock:
            self.hits += 1


def _handler(upstream: Upstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else delayed ACKs add ~40 ms per call

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

        def _send(
            self, status: int, body: bytes, ctype: str = "application/json", **h: str
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for name, value in h.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length", "0"))
            return self.rfile.read(length) if length else b""

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def do_PUT(self) -> None:
            self._dispatch()

        def do_DELETE(self) -> None:
            self._dispatch()

        def do_HEAD(self) -> None:
            upstream.hit()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", "1234")
            self.end_headers()

        def _dispatch(self) -> None:
            upstream.hit()
            url = urlsplit(self.path)
            body = self._body()
            if url.path == "/stream":
                self._stream()
            elif url.path == "/catalog":
                doc = {"catalog": [{"url": u} for u in upstream.catalog_urls]}
                self._send(200, json.dumps(doc).encode())
            elif url.path == "/redirect":
                self._send(302, b"", Location=upstream.url + "/echo/after-redirect")
            elif url.path == "/gzip":
                self._send(200, gzip.compress(b'{"zipped": true}'), Content_Encoding="gzip")
            elif url.path.startswith("/status/"):
                self._send(int(url.path.rsplit("/", 1)[1]), b'{"upstream": true}')
            else:
                echo = {
                    "method": self.command,
                    "path": url.path,
                    "query": parse_qs(url.query),
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode(),
                }
                self._send(200, json.dumps(echo).encode())

        def _stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._chunk(b'{"type": "ADDED"}\n')
            # Only after the client saw the first event through the proxy does the second come.
            released = upstream.release.wait(timeout=30)
            self._chunk(b'{"type": "MODIFIED"}\n' if released else b'{"type": "TIMEOUT"}\n')
            self._chunk(b"")

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    return Handler


@contextmanager
def running_upstream() -> Iterator[Upstream]:
    upstream = Upstream()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream))
    server.daemon_threads = True
    upstream.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield upstream
    finally:
        upstream.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
