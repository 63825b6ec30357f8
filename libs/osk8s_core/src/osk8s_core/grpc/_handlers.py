"""Wrap a gRPC method handler in a guard context manager, for all four call shapes.

grpcio's server interceptors only see the handler, not the call: to observe a call one has to
rebuild the handler around its behaviour. This module does that once so each interceptor is a
plain context manager. For streaming responses the guard spans the whole iteration. It knows
nothing about logging, metrics or errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

_Req = TypeVar("_Req")
_Resp = TypeVar("_Resp")


@dataclass
class CallInfo:
    """What a guard may look at; ``response`` is filled in for unary responses on success."""

    method: str
    """Full method name, ``/package.Service/Method``."""
    context: grpc.ServicerContext
    request: object | None
    """The request message; None for client-streaming calls."""
    rpc_type: str
    """``unary``, ``client_stream``, ``server_stream`` or ``bidi_stream`` (Prometheus label)."""
    response: object | None = None


Guard = Callable[[CallInfo], AbstractContextManager[None]]


def split_method(method: str) -> tuple[str, str]:
    """``/csi.v1.Identity/Probe`` -> (``csi.v1.Identity``, ``Probe``)."""
    service, _, name = method.lstrip("/").rpartition("/")
    return service or "unknown", name or "unknown"


def context_code(context: grpc.ServicerContext) -> grpc.StatusCode | None:
    """The status code set on the context so far (by ``abort`` or ``set_code``), if any."""
    # grpcio's server context has code() since 1.38; the typing stubs do not declare it.
    code = getattr(context, "code", None)
    value = code() if callable(code) else None
    return value if isinstance(value, grpc.StatusCode) else None


def wrap_handler(
    handler: grpc.RpcMethodHandler[Any, Any], method: str, guard: Guard
) -> grpc.RpcMethodHandler[Any, Any]:
    """Return a handler that runs the original behaviour inside ``guard(CallInfo(...))``."""
    deserializer = handler.request_deserializer
    serializer = handler.response_serializer

    if handler.unary_unary is not None:
        unary_unary = handler.unary_unary

        def uu(request: object, context: grpc.ServicerContext) -> object:
            call = CallInfo(method, context, request, "unary")
            with guard(call):
                call.response = unary_unary(request, context)
            return call.response

        return grpc.unary_unary_rpc_method_handler(uu, deserializer, serializer)

    if handler.unary_stream is not None:
        unary_stream = handler.unary_stream

        def us(request: object, context: grpc.ServicerContext) -> Iterator[object]:
            with guard(CallInfo(method, context, request, "server_stream")):
                yield from unary_stream(request, context)

        return grpc.unary_stream_rpc_method_handler(us, deserializer, serializer)

    if handler.stream_unary is not None:
        stream_unary = handler.stream_unary

        def su(requests: Iterator[object], context: grpc.ServicerContext) -> object:
            call = CallInfo(method, context, None, "client_stream")
            with guard(call):
                call.response = stream_unary(requests, context)
            return call.response

        return grpc.stream_unary_rpc_method_handler(su, deserializer, serializer)

    if handler.stream_stream is not None:
        stream_stream = handler.stream_stream

        def ss(requests: Iterator[object], context: grpc.ServicerContext) -> Iterator[object]:
            with guard(CallInfo(method, context, None, "bidi_stream")):
                yield from stream_stream(requests, context)

        return grpc.stream_stream_rpc_method_handler(ss, deserializer, serializer)

    return handler


class HandlerRewritingInterceptor(grpc.ServerInterceptor):
    """Base of interceptors that replace each method handler by ``rewrite(handler, method)``."""

    def rewrite(
        self, handler: grpc.RpcMethodHandler[Any, Any], method: str
    ) -> grpc.RpcMethodHandler[Any, Any]:
        raise NotImplementedError

    def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], grpc.RpcMethodHandler[_Req, _Resp] | None
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[_Req, _Resp] | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        return self.rewrite(handler, handler_call_details.method)
