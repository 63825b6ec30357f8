"""The admission webhook server: AdmissionReview over HTTPS on CAPO's ``--webhook-port``.

As controller-runtime's webhook server: ``tls.crt``/``tls.key`` from ``--webhook-cert-dir``
(the cert-manager Secret mounted there), re-read when the files change so a rotated
certificate is served without a restart; ``--tls-min-version``/``--tls-cipher-suites`` applied
(CAPI's TLS options; default TLS 1.2 minimum); one POST path per validator
(``webhooks.WEBHOOKS``). A review is answered in the version it was sent in (v1, or v1beta1
as CAPO's OpenStackServer webhook declares). A denial carries the 422 ``Status`` apimachinery
would build, so kube-apiserver shows the same text as upstream. It never writes to the API.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from osk8s_capo.webhooks import WEBHOOKS, Validator, invalid_status
from osk8s_core.k8s.tls_options import TlsOptions

_log = logging.getLogger("osk8s.capo.webhooks")
MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's request limit; a review is never larger


@dataclass(frozen=True)
class WebhookServerOptions:
    cert_dir: str
    """``--webhook-cert-dir``: holds ``tls.crt`` and ``tls.key``."""
    port: int = 9443
    """``--webhook-port``; 0 picks a free port (tests)."""
    host: str = "0.0.0.0"
    cert_name: str = "tls.crt"
    key_name: str = "tls.key"
    tls: TlsOptions = field(default_factory=TlsOptions)
    """``--tls-min-version`` / ``--tls-cipher-suites``."""


class _CertificateFiles:
    """The serving context, rebuilt when the certificate or key file changes."""

    def __init__(self, options: WebhookServerOptions) -> None:
        self._cert = Path(options.cert_dir) / options.cert_name
        self._key = Path(options.cert_dir) / options.key_name
        self._tls = options.tls
        self._lock = threading.Lock()
        self._stamp: tuple[float, float, int, int] | None = None
        self._context: ssl.SSLContext | None = None
        self.context()  # a missing or bad pair fails at start, not at the first request

    def _current_stamp(self) -> tuple[float, float, int, int]:
        cert, key = os.stat(self._cert), os.stat(self._key)
        return (cert.st_mtime, key.st_mtime, cert.st_ino, key.st_ino)

    def context(self) -> ssl.SSLContext:
        with self._lock:
            stamp = self._current_stamp()
            if self._context is None or stamp != self._stamp:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                self._tls.apply(context)
                context.load_cert_chain(str(self._cert), str(self._key))
                self._context, self._stamp = context, stamp
            return self._context


def review_response(review: Mapping[str, Any], validators: Mapping[str, tuple[str, Validator]],
                    path: str) -> dict[str, Any]:  # fmt: skip
    """The AdmissionReview answering ``review`` sent to ``path``."""
    request = review.get("request") or {}
    uid = request.get("uid", "")
    api_version = str(review.get("apiVersion") or "admission.k8s.io/v1")
    kind, validate = validators[path]
    answer: dict[str, Any] = {"uid": uid, "allowed": True}
    operation = request.get("operation")
    if operation in ("CREATE", "UPDATE"):
        new = request.get("object") or {}
        old = request.get("oldObject") if operation == "UPDATE" else None
        errs = validate(new, old, dry_run=bool(request.get("dryRun")))
        if errs:
            name = str((new.get("metadata") or {}).get("name") or request.get("name") or "")
            answer = {"uid": uid, "allowed": False, "status": invalid_status(kind, name, errs)}
    return {"apiVersion": api_version, "kind": "AdmissionReview", "response": answer}


def _handler(validators: Mapping[str, tuple[str, Validator]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            if isinstance(self.connection, ssl.SSLSocket):
                self.connection.do_handshake()

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            if path not in validators:
                self._reply(404, b"not found\n", "text/plain")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_BODY:
                self._reply(400, b"request body missing or too large\n", "text/plain")
                return
            try:
                review = json.loads(self.rfile.read(length))
                if not isinstance(review, dict) or not isinstance(review.get("request"), dict):
                    raise ValueError("not an AdmissionReview")
                body = review_response(review, validators, path)
            except ValueError as exc:
                self._reply(400, f"cannot decode the review: {exc}\n".encode(), "text/plain")
                return
            self._reply(200, json.dumps(body).encode(), "application/json")

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            _log.debug("webhook %s", format % args)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, options: WebhookServerOptions, certificates: _CertificateFiles,
                 handler: type[BaseHTTPRequestHandler]) -> None:  # fmt: skip
        self._certificates = certificates
        if ":" in options.host:
            self.address_family = socket.AF_INET6
        super().__init__((options.host, options.port), handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        context = self._certificates.context()
        return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        _log.debug("webhook request from %s failed", client_address[0], exc_info=True)


class WebhookServer:
    """Serves the validators on a background thread; ``started`` feeds the readiness check."""

    def __init__(
        self,
        options: WebhookServerOptions,
        *,
        validators: Mapping[str, tuple[str, Validator]] = WEBHOOKS,
    ) -> None:
        self._server = _Server(options, _CertificateFiles(options), _handler(validators))
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def started(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> WebhookServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="capo-webhooks",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def run(self, stop: threading.Event) -> None:
        """A manager runnable (``Manager.add_runnable``): serve until ``stop`` is set."""
        self.start()
        try:
            stop.wait()
        finally:
            self.stop()

    def __enter__(self) -> WebhookServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def runnable(
    cert_dir: str,
    port: int,
    *,
    tls: TlsOptions | None = None,
    retry_interval: float = 10.0,
) -> Callable[[threading.Event], None]:
    """The manager runnable for ``--webhook-cert-dir``/``--webhook-port``. Until the
    certificate is mounted (cert-manager may issue it after the pod starts) it logs and
    tries again, instead of serving without TLS or taking the controllers down."""

    def run(stop: threading.Event) -> None:
        options = WebhookServerOptions(cert_dir=cert_dir, port=port, tls=tls or TlsOptions())
        while not stop.is_set():
            try:
                server = WebhookServer(options)
            except (OSError, ssl.SSLError) as exc:
                _log.error("webhook server not started: %s (retrying)", exc)
                stop.wait(retry_interval)
                continue
            server.run(stop)
            return

    return run
