"""Requests that are not a valid protobuf message get INVALID_ARGUMENT, not INTERNAL.

grpcio decodes a request before any interceptor or handler runs, and when the deserializer
raises it answers INTERNAL "Exception deserializing request!": the client's fault reported as
ours, invisible to our logs and metrics. ``build_server`` therefore installs
``DecodeGuardInterceptor`` innermost on every server. It gives each handler a deserializer that
returns an ``Undecodable`` marker instead of raising, and a behaviour that aborts with
INVALID_ARGUMENT on meeting one, so the outer interceptors (logging, metrics) see the call and
its final code like any other. It knows no protocol: CSI and KMS servers get it alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
from google.protobuf.message import DecodeError

from osk8s_core.grpc._handlers import HandlerRewritingInterceptor

Deserializer = Callable[[bytes], Any]


@dataclass(frozen=True)
class Undecodable:
    """Stands in for a request whose bytes did not parse; never reaches a servicer."""

    method: str
    reason: str


def tolerant(deserializer: Deserializer, method: str) -> Deserializer:
    """``deserializer`` that returns ``Undecodable`` instead of raising ``DecodeError``."""

    def decode(data: bytes) -> Any:
        try:
            return deserializer(data)
        except DecodeError as exc:
            return Undecodable(method, str(exc) or type(exc).__name__)

    return decode


def _abort(context: grpc.ServicerContext, bad: Undecodable) -> NoReturn:
    context.abort(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"request to {bad.method} is not a valid protobuf message: {bad.reason}",
    )
    raise AssertionError("context.abort returned")  # pragma: no cover - abort always raises


def _checked(requests: Iterator[object], context: grpc.ServicerContext) -> Iterator[object]:
    for request in requests:
        if isinstance(request, Undecodable):
            _abort(context, request)
        yield request


def guard_handler(
    handler: grpc.RpcMethodHandler[Any, Any], method: str
) -> grpc.RpcMethodHandler[Any, Any]:
    """``handler`` with a tolerant deserializer and an INVALID_ARGUMENT abort on bad bytes."""
    if handler.request_deserializer is None:
        return handler  # raw bytes in: nothing to decode
    decode = tolerant(handler.request_deserializer, method)
    serializer = handler.response_serializer

    if handler.unary_unary is not None:
        unary_unary = handler.unary_unary

        def uu(request: object, context: grpc.ServicerContext) -> object:
            if isinstance(request, Undecodable):
                _abort(context, request)
            return unary_unary(request, context)

        return grpc.unary_unary_rpc_method_handler(uu, decode, serializer)

    if handler.unary_stream is not None:
        unary_stream = handler.unary_stream

        def us(request: object, context: grpc.ServicerContext) -> Iterator[object]:
            if isinstance(request, Undecodable):
                _abort(context, request)
            yield from unary_stream(request, context)

        return grpc.unary_stream_rpc_method_handler(us, decode, serializer)

    if handler.stream_unary is not None:
        stream_unary = handler.stream_unary

        def su(requests: Iterator[object], context: grpc.ServicerContext) -> object:
            return stream_unary(_checked(requests, context), context)

        return grpc.stream_unary_rpc_method_handler(su, decode, serializer)

    if handler.stream_stream is not None:
        stream_stream = handler.stream_stream

        def ss(requests: Iterator[object], context: grpc.ServicerContext) -> Iterator[object]:
            yield from stream_stream(_checked(requests, context), context)

        return grpc.stream_stream_rpc_method_handler(ss, decode, serializer)

    return handler


class DecodeGuardInterceptor(HandlerRewritingInterceptor):
    """Must be the innermost interceptor (``build_server`` appends it last)."""

    def rewrite(
        self, handler: grpc.RpcMethodHandler[Any, Any], method: str
    ) -> grpc.RpcMethodHandler[Any, Any]:
        return guard_handler(handler, method)
