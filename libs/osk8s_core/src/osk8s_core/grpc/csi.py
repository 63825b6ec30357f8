"""CSI handler plumbing every CSI driver needs: the error vocabulary with its one error ->
gRPC status table, per-object in-flight locks (ABORTED), the ``@rpc`` decorator that
checks required fields before taking the lock, and the server's interceptor stack.

Handlers raise these (or ``osk8s_core.errors``) and never call ``context.abort``: the
``ErrorMappingInterceptor`` applies ``CSI_STATUS`` (or a driver's extension of ``CSI_TABLE``)
once at the edge. Messages carry no secrets. No servicer and no OpenStack code lives here.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, Protocol

import grpc
from google.protobuf.message import Message
from prometheus_client import CollectorRegistry
from structlog.contextvars import bound_contextvars

from osk8s_core import errors
from osk8s_core.grpc.interceptors import (
    ErrorMappingInterceptor,
    Logger,
    LoggingInterceptor,
    MetricsInterceptor,
    StatusMapper,
    status_table,
)


class CsiError(errors.Osk8sError):
    """A request-level failure with a fixed CSI status (subclasses name it)."""


class InvalidArgument(CsiError):
    """A required field is missing or a parameter or secret is invalid."""


class OperationPending(CsiError):
    """Another call on the same object is in flight (CSI ABORTED)."""


class InvalidToken(CsiError):
    """A ``starting_token`` we cannot resume from (CSI ABORTED)."""


class FailedPrecondition(CsiError):
    """The object is in a state that forbids the call."""


class OutOfRange(CsiError):
    """A capacity outside what the request allows."""


class Unimplemented(CsiError):
    """An RPC or feature the driver does not offer."""


class Unavailable(CsiError):
    """Not ready yet (a source still being created): the caller retries later."""


class ObjectNotFound(CsiError):
    """A volume, snapshot, node or path the request names does not exist."""


class ResourceExhausted(CsiError):
    """The back end has no room for the request (no valid host, capacity)."""


class Unauthenticated(CsiError):
    """The credentials were refused."""


class Internal(CsiError):
    """The back end failed in a way the caller cannot fix by changing the request."""


CSI_TABLE: Final[dict[type[errors.Osk8sError], grpc.StatusCode]] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    OperationPending: grpc.StatusCode.ABORTED,
    InvalidToken: grpc.StatusCode.ABORTED,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    OutOfRange: grpc.StatusCode.OUT_OF_RANGE,
    Unimplemented: grpc.StatusCode.UNIMPLEMENTED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    ObjectNotFound: grpc.StatusCode.NOT_FOUND,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    Internal: grpc.StatusCode.INTERNAL,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    # HTTP 413 (quota) is RESOURCE_EXHAUSTED so the provisioner backs off (as CPO).
    errors.OverLimit: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.RateLimited: grpc.StatusCode.UNAVAILABLE,
    errors.ServiceUnavailable: grpc.StatusCode.UNAVAILABLE,
    errors.Unauthorized: grpc.StatusCode.UNAUTHENTICATED,
    errors.Forbidden: grpc.StatusCode.PERMISSION_DENIED,
    errors.BadRequest: grpc.StatusCode.INVALID_ARGUMENT,
    errors.CredentialsError: grpc.StatusCode.INVALID_ARGUMENT,
    # Sidecars treat DEADLINE_EXCEEDED as "still in progress" and call again.
    errors.WaitTimeout: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.ConfigError: grpc.StatusCode.FAILED_PRECONDITION,
}

CSI_STATUS: Final[StatusMapper] = status_table(CSI_TABLE)
"""Most specific class wins; anything else is INTERNAL."""


def csi_interceptors(
    *,
    logger: Logger,
    registry: CollectorRegistry,
    mapper: StatusMapper = CSI_STATUS,
    log_payloads: bool = False,
) -> list[grpc.ServerInterceptor]:
    """A CSI driver's interceptors, outermost first: one log line per call (payloads only
    with ``log_payloads``, secret fields as ``***``), the gRPC metrics, then the error table
    (``mapper``; a driver extends ``CSI_STATUS`` for its own errors)."""
    return [
        LoggingInterceptor(logger=logger, log_payloads=log_payloads),
        MetricsInterceptor(registry=registry),
        ErrorMappingInterceptor(mapper=mapper, logger=logger),
    ]


class InFlight:
    """The set of keys (volume ids, names) with a call in progress; thread-safe, never blocks."""

    def __init__(self) -> None:
        self._held: set[str] = set()
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Hold ``key`` for the block; OperationPending if another call holds it."""
        with self._lock:
            if key in self._held:
                raise OperationPending(f"an operation on {key} is already in progress")
            self._held.add(key)
        try:
            yield
        finally:
            with self._lock:
                self._held.discard(key)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._held


class HasLocks(Protocol):
    @property
    def in_flight(self) -> InFlight: ...


def missing_fields(request: Message, required: Sequence[str]) -> list[str]:
    """Names of ``required`` fields that are unset or empty (messages: not present)."""
    missing = []
    for name in required:
        value = getattr(request, name)
        if isinstance(value, Message):
            if not request.HasField(name):
                missing.append(name)
        elif not value:
            missing.append(name)
    return missing


def rpc(
    *, required: Sequence[str] = (), lock: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Reject empty required fields (INVALID_ARGUMENT), then hold the servicer's in-flight
    lock on the field ``lock`` names, with that value bound into the call's log context."""

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def wrapper(self: HasLocks, request: Message, context: Any) -> Any:
            missing = missing_fields(request, required)
            if missing:
                raise InvalidArgument(
                    f"{handler.__name__}: missing required field(s): {', '.join(missing)}"
                )
            if lock is None:
                return handler(self, request, context)
            key = str(getattr(request, lock))
            with bound_contextvars(**{lock: key}), self.in_flight.hold(key):
                return handler(self, request, context)

        return wrapper

    return decorate
