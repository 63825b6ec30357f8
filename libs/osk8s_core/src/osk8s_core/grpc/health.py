"""The standard gRPC health service (``grpc.health.v1.Health``) for osk8s servers.

A thin owner of ``grpcio-health-checking``'s servicer: register it, mark the overall status
(service name ``""``) and each registered service SERVING or NOT_SERVING. It does not decide
what "healthy" means; the service (e.g. a CSI Probe) sets that.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

SERVICE_NAME = health.SERVICE_NAME
"""``grpc.health.v1.Health``."""
OVERALL = health.OVERALL_HEALTH
"""The empty service name that stands for the whole server."""


class HealthService:
    """Health status of one server; thread-safe (the servicer locks internally)."""

    def __init__(self) -> None:
        # Blocking mode: our interceptors wrap each handler, which hides grpcio's
        # non-blocking marker, so Watch is served as a plain response iterator.
        self._servicer = health.HealthServicer(experimental_non_blocking=False)

    def register(self, server: grpc.Server) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(self._servicer, server)

    def set_serving(self, services: Iterable[str] = (OVERALL,)) -> None:
        for name in services:
            self._servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    def set_not_serving(self, services: Iterable[str] = (OVERALL,)) -> None:
        for name in services:
            self._servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)

    def shutdown(self) -> None:
        """Report NOT_SERVING for everything from now on (start of a graceful stop)."""
        self._servicer.enter_graceful_shutdown()
