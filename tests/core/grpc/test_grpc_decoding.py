"""Bytes that are no valid request message: INVALID_ARGUMENT over a real channel, not INTERNAL.

Raw bytes are sent with ``channel.unary_unary(..., request_serializer=None)`` to servers made by
``build_server``, with and without the standard interceptors, for KMS and CSI methods and for a
server-streaming method (health Watch). Valid requests on the same server keep working.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_helpers import KmsServicer, RecordingLogger, csi_registrations, kms_registration
from prometheus_client import CollectorRegistry

from osk8s_core.grpc.endpoint import parse_endpoint
from osk8s_core.grpc.interceptors import (
    ErrorMappingInterceptor,
    LoggingInterceptor,
    MetricsInterceptor,
    status_table,
)
from osk8s_core.grpc.server import GrpcServer, ServerOptions, build_server
from osk8s_core.proto.kms.v2 import api_pb2 as kms_pb2

BAD_BYTES = [
    pytest.param(b"\xff", id="invalid-wire-type"),
    pytest.param(b"\x0a\x05ab", id="truncated-field"),
    pytest.param(b"\x12\x02\xff\xfe", id="bad-utf8-in-string"),
]


def _code(error: grpc.RpcError) -> grpc.StatusCode:
    code: grpc.StatusCode = error.code()
    return code


def _details(error: grpc.RpcError) -> str:
    return str(error.details())


def _raw_call(channel: grpc.Channel, method: str, payload: bytes) -> bytes:
    call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
        method, request_serializer=None, response_deserializer=None
    )
    reply: bytes = call(payload, timeout=30)
    return reply


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def served(
    sock_dir: Path, logger: RecordingLogger, registry: CollectorRegistry
) -> Iterator[grpc.Channel]:
    interceptors = [
        LoggingInterceptor(logger=logger, log_payloads=True),
        MetricsInterceptor(registry=registry),
        ErrorMappingInterceptor(mapper=status_table({}), logger=logger),
    ]
    server = build_server(
        ServerOptions(endpoint=parse_endpoint(f"unix://{sock_dir}/d.sock")),
        services=[kms_registration(KmsServicer()), *csi_registrations()],
        interceptors=interceptors,
    )
    server.start()
    with grpc.insecure_channel(server.address) as channel:
        yield channel
    server.stop(grace=0)


@pytest.mark.parametrize("payload", BAD_BYTES)
def test_undecodable_request_is_invalid_argument(
    served: grpc.Channel,
    payload: bytes,
    logger: RecordingLogger,
    registry: CollectorRegistry,
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        _raw_call(served, "/v2.KeyManagementService/Encrypt", payload)
    assert _code(info.value) == grpc.StatusCode.INVALID_ARGUMENT
    details = _details(info.value)
    assert "/v2.KeyManagementService/Encrypt" in details
    assert "not a valid protobuf message" in details and "v2.EncryptRequest" in details
    # The outer interceptors saw the call with its real code.
    (line,) = [entry for entry in logger.lines if entry["event"] == "grpc call failed"]
    assert line["level"] == "warning" and line["code"] == "INVALID_ARGUMENT"
    handled = registry.get_sample_value(
        "grpc_server_handled_total",
        {
            "grpc_type": "unary",
            "grpc_service": "v2.KeyManagementService",
            "grpc_method": "Encrypt",
            "grpc_code": "INVALID_ARGUMENT",
        },
    )
    assert handled == 1.0


def test_valid_bytes_still_served(served: grpc.Channel) -> None:
    request = kms_pb2.EncryptRequest(plaintext=b"p", uid="u").SerializeToString()
    reply = kms_pb2.EncryptResponse.FromString(
        _raw_call(served, "/v2.KeyManagementService/Encrypt", request)
    )
    assert reply.ciphertext == b"c:p" and reply.key_id == "key-1"


def test_csi_method_gets_the_same_answer(served: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as info:
        _raw_call(served, "/csi.v1.Controller/DeleteVolume", b"\x0a\x09short")
    assert _code(info.value) == grpc.StatusCode.INVALID_ARGUMENT
    assert "csi.v1.DeleteVolumeRequest" in _details(info.value)


def test_server_without_interceptors_and_streaming_method(sock_dir: Path) -> None:
    server: GrpcServer = build_server(
        ServerOptions(endpoint=parse_endpoint(f"unix://{sock_dir}/bare.sock")),
        services=[kms_registration(KmsServicer())],
    )
    server.start()
    try:
        with grpc.insecure_channel(server.address) as channel:
            with pytest.raises(grpc.RpcError) as info:
                _raw_call(channel, "/v2.KeyManagementService/Decrypt", b"\xff\xff")
            assert _code(info.value) == grpc.StatusCode.INVALID_ARGUMENT
            watch: grpc.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(
                "/grpc.health.v1.Health/Watch",
                request_serializer=None,
                response_deserializer=None,
            )
            with pytest.raises(grpc.RpcError) as info:
                list(watch(b"\xff", timeout=30))
            assert _code(info.value) == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        server.stop(grace=0)
