"""The fake kube-apiserver as an object: built from a frozen config, started, stopped.

Binds 127.0.0.1 only (port 0 by default), serves in a background thread, seeds the default
namespaces, and hands out a kubeconfig and configured ``kubernetes`` API clients. Stopping ends
every open watch. No module-level state: each instance owns its store and registry.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from osk8s_testing.kubeapi.admission import AdmissionConfig
from osk8s_testing.kubeapi.guard import RequestGuard
from osk8s_testing.kubeapi.handler import ApiContext, handler_class
from osk8s_testing.kubeapi.kubeconfig import write_kubeconfig
from osk8s_testing.kubeapi.meta import Clock, utc_now
from osk8s_testing.kubeapi.operations import Operations
from osk8s_testing.kubeapi.resources import Registry
from osk8s_testing.kubeapi.reviews import ReviewForwarder, WebhookConfig
from osk8s_testing.kubeapi.store import Store

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ServerConfig:
    port: int = 0
    """TCP port on 127.0.0.1; 0 picks a free one."""
    history_limit: int = 5000
    """Watch events kept; older resourceVersions answer 410 Gone (set small to force it)."""
    bookmark_interval: float = 1.0
    """Seconds between BOOKMARK events on watches that allow them (upstream: ~1 min)."""
    default_watch_timeout: float = 1800.0
    """Seconds a watch lasts when the client gives no timeoutSeconds."""
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    """Where TokenReview / SubjectAccessReview are forwarded."""
    namespaces: tuple[str, ...] = ("default", "kube-system", "kube-public", "kube-node-lease")
    """Namespaces that exist at start, as on a fresh cluster."""
    admission: AdmissionConfig = field(default_factory=AdmissionConfig)
    """Admission webhook test hooks (where webhook Service references resolve)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class KubeApiServer:
    def __init__(self, config: ServerConfig | None = None, *, clock: Clock = utc_now) -> None:
        self.config = config or ServerConfig()
        self.registry = Registry()
        self.store = Store(history_limit=self.config.history_limit)
        self.ops = Operations(
            registry=self.registry,
            store=self.store,
            clock=clock,
            admission_config=self.config.admission,
        )
        self._reviews = ReviewForwarder(config=self.config.webhooks)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._clients: list[Any] = []
        self.kubeconfig_path: Path | None = None
        ns_type = self.registry.get("", "v1", "namespaces")
        assert ns_type is not None
        for name in self.config.namespaces:
            self.ops.create(ns_type, "", {"metadata": {"name": name}})

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> KubeApiServer:
        context = ApiContext(
            ops=self.ops,
            reviews=self._reviews,
            bookmark_interval=self.config.bookmark_interval,
            default_watch_timeout=self.config.default_watch_timeout,
            guard=RequestGuard(reviewer=self._reviews)
            if self.config.webhooks.guard_requests
            else None,
        )
        self._httpd = _Server((LOOPBACK, self.config.port), handler_class(context))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="kube-apiserver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.store.close()  # ends open watches
        for client in self._clients:
            client.close()
        self._clients.clear()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def write_kubeconfig(self, path: str | Path) -> Path:
        self.kubeconfig_path = write_kubeconfig(Path(path), server=self.url)
        return self.kubeconfig_path

    def api_client(self, *, token: str = "fake-token") -> Any:
        """A ``kubernetes.client.ApiClient`` for this server (closed when the server stops)."""
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = self.url
        configuration.api_key = {"BearerToken": token}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
        api = client.ApiClient(configuration)
        self._clients.append(api)
        return api

    def __enter__(self) -> KubeApiServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
