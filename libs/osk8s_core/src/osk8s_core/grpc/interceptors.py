"""Server interceptors: request id + logging, Prometheus metrics, and error -> status mapping.

Order them outermost first: ``[LoggingInterceptor, MetricsInterceptor, ErrorMappingInterceptor]``
so the request id is bound for everything below and the outer two see the final status code.
Handlers raise ``osk8s_core.errors`` exceptions and never call ``context.abort`` themselves; the
protocol (CSI, KMS) supplies the error -> code table. Unknown exceptions become INTERNAL with a
generic message (details stay in our log, never in the reply). Secrets never reach a log line.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, suppress
from contextvars import ContextVar
from typing import Any, Protocol

import grpc
import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram

from osk8s_core.errors import Osk8sError
from osk8s_core.grpc._handlers import (
    CallInfo,
    HandlerRewritingInterceptor,
    context_code,
    split_method,
    wrap_handler,
)
from osk8s_core.grpc.redact import DEFAULT_SECRET_FIELDS, redact_message

Clock = Callable[[], float]
StatusMapper = Callable[[Osk8sError], grpc.StatusCode]

# Per-call request id; the logging interceptor sets it (and binds it into structlog) for the
# duration of one call, so handler code can read it with ``current_request_id()``.
_REQUEST_ID: ContextVar[str | None] = ContextVar("osk8s_grpc_request_id", default=None)

# Codes that mean "our fault": logged at error level; other failures at warning.
_SERVER_FAULTS = frozenset(
    {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS}
)


class Logger(Protocol):
    """The slice of a structlog logger the interceptors use."""

    def debug(self, event: str, **kw: Any) -> Any: ...
    def warning(self, event: str, **kw: Any) -> Any: ...
    def error(self, event: str, **kw: Any) -> Any: ...


def current_request_id() -> str | None:
    """The request id of the gRPC call being handled on this thread, if any."""
    return _REQUEST_ID.get()


def _new_request_id() -> str:
    return uuid.uuid4().hex[:16]


class _GuardInterceptor(HandlerRewritingInterceptor):
    """Base: wraps each handler so ``guard`` runs around every call."""

    def guard(self, call: CallInfo) -> AbstractContextManager[None]:
        raise NotImplementedError

    def rewrite(
        self, handler: grpc.RpcMethodHandler[Any, Any], method: str
    ) -> grpc.RpcMethodHandler[Any, Any]:
        return wrap_handler(handler, method, self.guard)


def _final_code(call: CallInfo, error: BaseException | None) -> grpc.StatusCode:
    code = context_code(call.context)
    if code is not None:
        return code
    # An exception that escaped without abort() is reported by grpcio as UNKNOWN.
    return grpc.StatusCode.UNKNOWN if error is not None else grpc.StatusCode.OK


class LoggingInterceptor(_GuardInterceptor):
    """One log line per call: method, duration, code, request id (bound for the whole call).

    Successful calls log at debug (CPO logs every call only at -v3); failures at warning, server
    faults at error. With ``log_payloads`` (CPO's -v5) the line also carries the request and
    response with secret fields replaced by ``***``.
    """

    def __init__(
        self,
        *,
        logger: Logger,
        log_payloads: bool = False,
        secret_fields: Iterable[str] = DEFAULT_SECRET_FIELDS,
        clock: Clock = time.monotonic,
        request_id_factory: Callable[[], str] = _new_request_id,
    ) -> None:
        self._logger = logger
        self._log_payloads = log_payloads
        self._secret_fields = frozenset(secret_fields)
        self._clock = clock
        self._new_id = request_id_factory

    @contextmanager
    def guard(self, call: CallInfo) -> Iterator[None]:
        request_id = self._new_id()
        token = _REQUEST_ID.set(request_id)
        start = self._clock()
        error: BaseException | None = None
        try:
            with structlog.contextvars.bound_contextvars(request_id=request_id, rpc=call.method):
                try:
                    yield
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    self._log(call, error, self._clock() - start)
        finally:
            # Thread-pool threads are reused: never leak one call's id into the next. (A stream
            # closed from another thread cannot reset; that thread never had the id set.)
            with suppress(ValueError):
                _REQUEST_ID.reset(token)

    def _log(self, call: CallInfo, error: BaseException | None, duration: float) -> None:
        if isinstance(error, GeneratorExit):
            code = grpc.StatusCode.CANCELLED
        else:
            code = _final_code(call, error)
        fields: dict[str, Any] = {
            "method": call.method,
            "code": code.name,
            "duration_ms": round(duration * 1000, 3),
        }
        if self._log_payloads:
            fields["request"] = redact_message(call.request, secret_fields=self._secret_fields)
            if call.response is not None:
                fields["response"] = redact_message(
                    call.response, secret_fields=self._secret_fields
                )
        if code is grpc.StatusCode.OK:
            self._logger.debug("grpc call", **fields)
        elif code in _SERVER_FAULTS:
            self._logger.error("grpc call failed", **fields)
        else:
            self._logger.warning("grpc call failed", **fields)


class MetricsInterceptor(_GuardInterceptor):
    """Prometheus metrics per method and code, named as go-grpc-prometheus (dashboards reuse).

    ``grpc_server_started_total``, ``grpc_server_handled_total`` (with ``grpc_code``) and
    ``grpc_server_handling_seconds``, registered on the registry passed in.
    """

    def __init__(self, *, registry: CollectorRegistry, clock: Clock = time.monotonic) -> None:
        labels = ("grpc_type", "grpc_service", "grpc_method")
        self._started = Counter(
            "grpc_server_started_total",
            "RPCs started on the server.",
            labels,
            registry=registry,
        )
        self._handled = Counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, regardless of success or failure.",
            (*labels, "grpc_code"),
            registry=registry,
        )
        self._seconds = Histogram(
            "grpc_server_handling_seconds",
            "Response latency of RPCs handled by the server.",
            labels,
            registry=registry,
        )
        self._clock = clock

    @contextmanager
    def guard(self, call: CallInfo) -> Iterator[None]:
        service, name = split_method(call.method)
        labels = (call.rpc_type, service, name)
        self._started.labels(*labels).inc()
        start = self._clock()
        error: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            error = exc
            raise
        finally:
            if isinstance(error, GeneratorExit):
                code = grpc.StatusCode.CANCELLED
            else:
                code = _final_code(call, error)
            self._handled.labels(*labels, code.name).inc()
            self._seconds.labels(*labels).observe(self._clock() - start)


class ErrorMappingInterceptor(_GuardInterceptor):
    """Turn raised exceptions into gRPC statuses in one place.

    ``Osk8sError`` -> ``mapper(exc)`` with ``str(exc)`` as details (our messages carry no
    secrets). Anything else -> INTERNAL with a generic message naming the request id; the
    traceback goes to our log only. An ``abort`` already made by a handler passes through.
    """

    def __init__(self, *, mapper: StatusMapper, logger: Logger) -> None:
        self._mapper = mapper
        self._logger = logger

    @contextmanager
    def guard(self, call: CallInfo) -> Iterator[None]:
        try:
            yield
        except Osk8sError as exc:
            code = self._map(exc)
            call.context.abort(code, str(exc))
        except Exception as exc:
            if context_code(call.context) is not None:
                raise  # the handler aborted with an explicit status
            self._logger.error(
                "unhandled exception in grpc handler",
                method=call.method,
                error_type=type(exc).__name__,
                exc_info=exc,
            )
            call.context.abort(
                grpc.StatusCode.INTERNAL,
                f"internal error (request id {current_request_id() or 'unknown'})",
            )

    def _map(self, exc: Osk8sError) -> grpc.StatusCode:
        try:
            code = self._mapper(exc)
        except Exception as map_error:  # a broken table must not hide the original error
            self._logger.error("grpc status mapper failed", error_type=type(map_error).__name__)
            return grpc.StatusCode.INTERNAL
        if not isinstance(code, grpc.StatusCode) or code is grpc.StatusCode.OK:
            return grpc.StatusCode.INTERNAL
        return code


def status_table(
    table: Mapping[type[Osk8sError], grpc.StatusCode],
    *,
    default: grpc.StatusCode = grpc.StatusCode.INTERNAL,
) -> StatusMapper:
    """A mapper from an error-class table; the most specific class in the MRO wins."""

    def mapper(exc: Osk8sError) -> grpc.StatusCode:
        for cls in type(exc).__mro__:
            if cls in table:
                return table[cls]
        return default

    return mapper
