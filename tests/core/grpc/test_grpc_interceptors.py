"""Interceptors against a real server on a tmp unix socket and real KMS v2 / CSI clients."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_helpers import KmsServicer, RecordingLogger, csi_registrations, kms_registration
from prometheus_client import CollectorRegistry

from osk8s_core import errors
from osk8s_core.grpc.endpoint import parse_endpoint
from osk8s_core.grpc.interceptors import (
    ErrorMappingInterceptor,
    LoggingInterceptor,
    MetricsInterceptor,
    current_request_id,
    status_table,
)
from osk8s_core.grpc.redact import redact_message
from osk8s_core.grpc.server import GrpcServer, ServerOptions, build_server
from osk8s_core.proto.csi import csi_pb2, csi_pb2_grpc
from osk8s_core.proto.kms.v2 import api_pb2 as kms_pb2
from osk8s_core.proto.kms.v2 import api_pb2_grpc as kms_grpc

KMS = "/v2.KeyManagementService/Encrypt"
TABLE = status_table(
    {
        errors.NotFound: grpc.StatusCode.NOT_FOUND,
        errors.OpenStackError: grpc.StatusCode.UNAVAILABLE,
    }
)


class FakeClock:
    """Each reading advances 0.25 s, so every call lasts exactly 250 ms."""

    def __init__(self) -> None:
        self._ticks = itertools.count()

    def __call__(self) -> float:
        return next(self._ticks) * 0.25


class Stack:
    def __init__(self, server: GrpcServer, registry: CollectorRegistry, kms: KmsServicer) -> None:
        self.server, self.registry, self.kms = server, registry, kms
        self.channel = grpc.insecure_channel(server.address)
        self.stub = kms_grpc.KeyManagementServiceStub(self.channel)

    def encrypt(self, uid: str, plaintext: bytes = b"dek") -> kms_pb2.EncryptResponse:
        return self.stub.Encrypt(kms_pb2.EncryptRequest(uid=uid, plaintext=plaintext), timeout=30)

    def handled(self, method: str, code: str) -> float | None:
        return self.registry.get_sample_value(
            "grpc_server_handled_total",
            {
                "grpc_type": "unary",
                "grpc_service": "v2.KeyManagementService",
                "grpc_method": method,
                "grpc_code": code,
            },
        )


def _build(
    sock_dir: Path, logger: RecordingLogger, *, log_payloads: bool = False, mapper=TABLE
) -> Stack:
    registry = CollectorRegistry()
    kms = KmsServicer()
    ids = (f"req-{n}" for n in itertools.count(1))
    interceptors = [
        LoggingInterceptor(
            logger=logger,
            log_payloads=log_payloads,
            clock=FakeClock(),
            request_id_factory=lambda: next(ids),
        ),
        MetricsInterceptor(registry=registry, clock=FakeClock()),
        ErrorMappingInterceptor(mapper=mapper, logger=logger),
    ]
    options = ServerOptions(endpoint=parse_endpoint(f"unix://{sock_dir}/kms.sock"))
    server = build_server(
        options, services=[kms_registration(kms), *csi_registrations()], interceptors=interceptors
    )
    server.start()
    return Stack(server, registry, kms)


@pytest.fixture
def stack(sock_dir: Path, logger: RecordingLogger) -> Iterator[Stack]:
    s = _build(sock_dir, logger)
    yield s
    s.channel.close()
    s.server.stop(grace=0)


def _calls(logger: RecordingLogger, method: str) -> list[dict[str, object]]:
    return [line for line in logger.lines if line.get("method") == method and "code" in line]


def test_one_log_line_per_call_with_request_id_bound(stack: Stack, logger: RecordingLogger) -> None:
    stack.encrypt("ok")
    stack.encrypt("ok")
    lines = _calls(logger, KMS)
    assert [(line["level"], line["event"], line["code"]) for line in lines] == [
        ("debug", "grpc call", "OK"),
        ("debug", "grpc call", "OK"),
    ]
    assert [line["duration_ms"] for line in lines] == [250.0, 250.0]
    assert [line["bound"] for line in lines] == [
        {"request_id": "req-1", "rpc": KMS},
        {"request_id": "req-2", "rpc": KMS},
    ]
    # The handler saw the same ids through the contextvar ...
    assert stack.kms.seen_request_ids == ["req-1", "req-2"]
    # ... and nothing leaks out of the call into this (or a pool) thread.
    assert current_request_id() is None
    assert "request" not in lines[0]


def test_not_found_maps_to_code_with_message(stack: Stack, logger: RecordingLogger) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stack.encrypt("notfound")
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
    assert info.value.details() == "secret 1234 not found"
    (line,) = _calls(logger, KMS)
    assert (line["level"], line["code"]) == ("warning", "NOT_FOUND")
    assert stack.handled("Encrypt", "NOT_FOUND") == 1.0


def test_unknown_exception_is_internal_without_leaking(
    stack: Stack, logger: RecordingLogger
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stack.encrypt("boom")
    assert info.value.code() is grpc.StatusCode.INTERNAL
    assert "hunter2" not in info.value.details()
    assert "req-1" in info.value.details()  # correlates with our log line
    unhandled = [line for line in logger.lines if line["event"].startswith("unhandled")]
    assert len(unhandled) == 1
    assert unhandled[0]["error_type"] == "RuntimeError"
    assert unhandled[0]["bound"]["request_id"] == "req-1"
    (line,) = _calls(logger, KMS)
    assert (line["level"], line["code"]) == ("error", "INTERNAL")
    assert stack.handled("Encrypt", "INTERNAL") == 1.0


def test_explicit_abort_passes_through(stack: Stack) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stack.encrypt("abort")
    assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert info.value.details() == "explicit abort"
    assert stack.handled("Encrypt", "FAILED_PRECONDITION") == 1.0


def test_broken_mapper_gives_internal(sock_dir: Path, logger: RecordingLogger) -> None:
    def mapper(exc: errors.Osk8sError) -> grpc.StatusCode:
        raise KeyError("no entry")

    s = _build(sock_dir, logger, mapper=mapper)
    try:
        with pytest.raises(grpc.RpcError) as info:
            s.encrypt("notfound")
        assert info.value.code() is grpc.StatusCode.INTERNAL
    finally:
        s.channel.close()
        s.server.stop(grace=0)


def test_metrics_count_started_handled_and_latency(stack: Stack) -> None:
    stack.encrypt("ok")
    stack.encrypt("ok")
    with pytest.raises(grpc.RpcError):
        stack.encrypt("notfound")
    labels = {"grpc_type": "unary", "grpc_service": "v2.KeyManagementService"}
    get = stack.registry.get_sample_value
    assert get("grpc_server_started_total", {**labels, "grpc_method": "Encrypt"}) == 3.0
    assert stack.handled("Encrypt", "OK") == 2.0
    assert stack.handled("Encrypt", "NOT_FOUND") == 1.0
    assert get("grpc_server_handling_seconds_count", {**labels, "grpc_method": "Encrypt"}) == 3.0
    assert get("grpc_server_handling_seconds_sum", {**labels, "grpc_method": "Encrypt"}) == 0.75


def test_payloads_logged_with_secrets_stripped(sock_dir: Path, logger: RecordingLogger) -> None:
    s = _build(sock_dir, logger, log_payloads=True)
    try:
        s.encrypt("ok", plaintext=b"TOP-SECRET-DEK")
        controller = csi_pb2_grpc.ControllerStub(s.channel)
        controller.DeleteVolume(
            csi_pb2.DeleteVolumeRequest(volume_id="vol-1", secrets={"os-password": "hunter2"}),
            timeout=30,
        )
    finally:
        s.channel.close()
        s.server.stop(grace=0)
    everything = repr(logger.lines)
    assert "hunter2" not in everything
    assert "TOP-SECRET-DEK" not in everything
    assert "VE9QLVNFQ1JFVC1ERUs" not in everything  # nor its base64 form
    (kms_line,) = _calls(logger, KMS)
    assert kms_line["request"] == {"plaintext": "***", "uid": "ok"}
    assert kms_line["response"]["key_id"] == "key-1"
    (csi_line,) = _calls(logger, "/csi.v1.Controller/DeleteVolume")
    assert csi_line["request"] == {"volume_id": "vol-1", "secrets": "***"}


def test_streaming_health_watch_goes_through_interceptors(stack: Stack) -> None:
    stub = health_pb2_grpc.HealthStub(stack.channel)
    watch = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)
    first = next(watch)
    assert first.status == health_pb2.HealthCheckResponse.SERVING
    watch.cancel()
    started = stack.registry.get_sample_value(
        "grpc_server_started_total",
        {
            "grpc_type": "server_stream",
            "grpc_service": "grpc.health.v1.Health",
            "grpc_method": "Watch",
        },
    )
    assert started == 1.0


def test_redact_nested_and_truncates() -> None:
    request = csi_pb2.NodeStageVolumeRequest(
        volume_id="v", secrets={"k": "v"}, volume_context={"a": "x" * 100}
    )
    assert redact_message(request) == {
        "volume_id": "v",
        "secrets": "***",
        "volume_context": {"a": "x" * 100},
    }
    short = redact_message(request, max_chars=20)
    assert isinstance(short, str)
    assert short.endswith("more chars>")
    assert redact_message(iter([])) == "<list_iterator>"


def test_status_table_prefers_most_specific_class() -> None:
    assert TABLE(errors.NotFound("x")) is grpc.StatusCode.NOT_FOUND
    assert TABLE(errors.ServerError("x")) is grpc.StatusCode.UNAVAILABLE
    assert TABLE(errors.ConfigError("x")) is grpc.StatusCode.INTERNAL
