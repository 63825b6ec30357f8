"""A recording TokenReview / SubjectAccessReview webhook on 127.0.0.1, the counterpart of the
in-memory API server's review passthrough (``WebhookConfig``): it answers each review with
``decide(body)`` (or the fixed ``status``) and keeps every request so tests can count reviews."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Review = dict[str, Any]


class ReviewWebhook:
    def __init__(self, decide: Callable[[Review], dict[str, Any]] | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        """Every call as ``{"path": ..., "body": <the review sent>}``, in order."""
        self.status: dict[str, Any] = {}
        """The answer when no ``decide`` is set."""
        self.decide = decide
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                webhook.requests.append({"path": self.path, "body": body})
                status = webhook.decide(body) if webhook.decide else webhook.status
                data = json.dumps({**body, "status": status}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def reviews(self, kind: str) -> list[Review]:
        """The bodies of the ``TokenReview`` or ``SubjectAccessReview`` calls received."""
        return [r["body"] for r in self.requests if r["body"].get("kind") == kind]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
