"""Serve a WSGI app over TLS with cheroot (CherryPy's production HTTP server).

Why cheroot: pure Python, maintained, TLS built in, a thread pool in one process, so the token
cache and the ConfigMap informer are shared by every request (a pre-fork server would split
the cache per worker), and it embeds with a start/stop API tests can bind to port 0.
``WebhookServer`` owns the listening socket; it never builds the app.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    cert_file: str
    key_file: str
    threads: int = 16
    """Worker threads answering requests (kube-apiserver sends reviews concurrently)."""


def split_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) as given to ``--listen``."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--listen {listen!r} is not <address>:<port>")
    return host.strip("[]") or "0.0.0.0", int(port)


class WebhookServer:
    def __init__(self, app: Any, *, options: ServeOptions) -> None:
        self._server = wsgi.Server(
            (options.host, options.port),
            app,
            numthreads=options.threads,
            server_name="k8s-keystone-auth",
        )
        # How often the accept loop looks at its stop flag: bounds stop() latency, costs nothing.
        self._server.expiration_interval = 0.05
        if options.cert_file:
            self._server.ssl_adapter = BuiltinSSLAdapter(options.cert_file, options.key_file)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.bind_addr[:2]
        return str(host), int(port)

    def start(self) -> WebhookServer:
        """Bind, then serve on a background thread."""
        self._server.prepare()
        self._thread = threading.Thread(
            target=self._server.serve, name="keystone-webhook", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Bind and serve on this thread until ``stop`` is called from another one."""
        self._server.prepare()
        self._server.serve()

    def stop(self) -> None:
        self._server.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> WebhookServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
