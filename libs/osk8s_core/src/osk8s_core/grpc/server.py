"""Build, bind, run and gracefully stop a gRPC server (CSI plugins, KMS plugin).

``build_server`` binds to a parsed ``Endpoint`` (unix socket prepared, mode 0600 by default),
registers the services passed in plus the standard health service and, optionally, reflection.
``GrpcServer.serve()`` runs until SIGTERM/SIGINT and then stops with a grace period. This module
knows no protocol: services arrive as registration callables; error mapping is an interceptor.
"""

from __future__ import annotations

import signal
import stat
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final

import grpc

from osk8s_core.errors import ConfigError
from osk8s_core.grpc.decoding import DecodeGuardInterceptor
from osk8s_core.grpc.endpoint import (
    Endpoint,
    apply_socket_mode,
    prepare_unix_socket,
)
from osk8s_core.grpc.health import SERVICE_NAME as HEALTH_SERVICE_NAME
from osk8s_core.grpc.health import HealthService

_SIGNAL_POLL: Final = 0.2
"""Seconds between main-thread wake-ups while serving (see ``GrpcServer.serve``)."""


@dataclass(frozen=True)
class ServerOptions:
    """How to serve; built once from flags in ``main``."""

    endpoint: Endpoint
    """Where to listen (``--endpoint``), see ``parse_endpoint``."""
    max_workers: int = 10
    """Thread pool size = maximum concurrently running handlers."""
    grace_period: float = 10.0
    """Seconds in-flight calls get to finish after SIGTERM before they are cancelled."""
    socket_mode: int | None = 0o600
    """Permission bits of the unix socket; None keeps the umask's."""
    reflection: bool = False
    """Serve gRPC server reflection (handy with grpcurl; off in production)."""
    channel_options: tuple[tuple[str, Any], ...] = field(default=())
    """Extra grpc core options, e.g. ``(("grpc.max_receive_message_length", 8 << 20),)``."""


@dataclass(frozen=True)
class ServiceRegistration:
    """One gRPC service to serve: its full name and how to add it to a server."""

    name: str
    """Full service name, e.g. ``csi.v1.Identity`` (used for health and reflection)."""
    register: Callable[[grpc.Server], None]
    """Typically ``lambda s: csi_pb2_grpc.add_IdentityServicer_to_server(servicer, s)``."""


class GrpcServer:
    """A bound (not yet started) server; see ``build_server``."""

    def __init__(
        self,
        *,
        server: grpc.Server,
        pool: futures.ThreadPoolExecutor,
        options: ServerOptions,
        health: HealthService,
        service_names: Sequence[str],
        address: str,
    ) -> None:
        self._server = server
        self._pool = pool
        self._options = options
        self.health = health
        self._service_names = tuple(service_names)
        self.address = address
        """Where clients connect: ``unix:...`` or ``host:port`` with the real port."""
        self._stopped = threading.Event()
        self._stop_requested = threading.Event()

    def start(self) -> None:
        if self._stop_requested.is_set():
            return  # stopped before it ever started (e.g. SIGTERM during start-up)
        self._server.start()
        self.health.set_serving(("", *self._service_names))

    def stop(self, grace: float | None = None) -> None:
        """Refuse new calls, give in-flight calls ``grace`` seconds, then clean up."""
        self._stop_requested.set()
        if self._stopped.is_set():
            return
        self.health.shutdown()
        period = self._options.grace_period if grace is None else grace
        self._server.stop(period).wait()
        self._pool.shutdown(wait=False)
        self._remove_socket()
        self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until stopped; True if it stopped within ``timeout``."""
        return self._stopped.wait(timeout)

    def serve(
        self, stop_signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT)
    ) -> None:
        """Start, block until one of ``stop_signals`` arrives (or ``stop()`` is called from
        another thread), then stop gracefully.

        Must run in the main thread (Python delivers signals there). Previous handlers are
        restored on return.
        """

        def on_signal(signum: int, frame: FrameType | None) -> None:
            self._stop_requested.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in stop_signals}
        try:
            self.start()
            # Wake up now and then: CPython runs Python signal handlers (SIGTERM here, SIGHUP
            # in the KMS plugin) only in the main thread between bytecodes, and a signal the
            # kernel delivered to one of grpc's threads never interrupts an untimed wait.
            while not self._stop_requested.wait(_SIGNAL_POLL):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _remove_socket(self) -> None:
        # grpc core already unlinks its unix socket on shutdown (by path); this covers the
        # case where it did not, and like prepare_unix_socket removes only a socket.
        endpoint = self._options.endpoint
        if endpoint.scheme != "unix":
            return
        path = Path(endpoint.path)
        try:
            if stat.S_ISSOCK(path.lstat().st_mode):
                path.unlink()
        except FileNotFoundError:
            pass


def build_server(
    options: ServerOptions,
    *,
    services: Sequence[ServiceRegistration],
    interceptors: Sequence[grpc.ServerInterceptor] = (),
) -> GrpcServer:
    """Create the server, register ``services`` + health (+ reflection) and bind the endpoint.

    ``interceptors`` run outermost first; a ``DecodeGuardInterceptor`` is always added
    innermost, so bytes that are no valid request answer INVALID_ARGUMENT (see ``decoding``).
    """
    pool = futures.ThreadPoolExecutor(max_workers=options.max_workers, thread_name_prefix="grpc")
    server = grpc.server(
        pool,
        interceptors=[*interceptors, DecodeGuardInterceptor()],
        # grpcio enables SO_REUSEPORT by default: two plugins could then share a TCP port
        # silently. A second listener must fail instead.
        options=[("grpc.so_reuseport", 0), *options.channel_options],
    )
    health = HealthService()
    health.register(server)
    names = [service.name for service in services]
    for service in services:
        service.register(server)
    if options.reflection:
        _enable_reflection(server, [*names, HEALTH_SERVICE_NAME])
    address = _bind(server, options)
    return GrpcServer(
        server=server,
        pool=pool,
        options=options,
        health=health,
        service_names=names,
        address=address,
    )


def _bind(server: grpc.Server, options: ServerOptions) -> str:
    endpoint = options.endpoint
    if endpoint.scheme == "unix":
        prepare_unix_socket(endpoint.path)
    try:
        port = server.add_insecure_port(endpoint.grpc_address)
    except RuntimeError as exc:
        raise ConfigError(f"cannot listen on {endpoint}: {exc}", key="endpoint") from exc
    if endpoint.scheme == "unix":
        # Tightened before start(): grpc core already listens, so only a connect racing this
        # very line could queue; CPO never tightens the mode at all.
        if options.socket_mode is not None:
            apply_socket_mode(endpoint.path, options.socket_mode)
        return endpoint.grpc_address
    host = endpoint.host or "127.0.0.1"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _enable_reflection(server: grpc.Server, names: Sequence[str]) -> None:
    # Imported only when asked for: most deployments never enable reflection.
    from grpc_reflection.v1alpha import reflection  # noqa: PLC0415

    reflection.enable_server_reflection([*names, reflection.SERVICE_NAME], server)
