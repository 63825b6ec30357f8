"""build_server on a real unix socket / 127.0.0.1 port with real clients."""

from __future__ import annotations

import os
import signal
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_helpers import KmsServicer, csi_registrations, kms_registration

from osk8s_core.errors import ConfigError
from osk8s_core.grpc.endpoint import parse_endpoint
from osk8s_core.grpc.server import GrpcServer, ServerOptions, build_server
from osk8s_core.proto.csi import csi_pb2, csi_pb2_grpc
from osk8s_core.proto.kms.v2 import api_pb2 as kms_pb2
from osk8s_core.proto.kms.v2 import api_pb2_grpc as kms_grpc


@pytest.fixture
def kms() -> KmsServicer:
    return KmsServicer()


@pytest.fixture
def unix_server(sock_dir: Path, kms: KmsServicer) -> Iterator[GrpcServer]:
    options = ServerOptions(endpoint=parse_endpoint(f"unix://{sock_dir}/kms/kms.sock"))
    server = build_server(options, services=[kms_registration(kms)])
    server.start()
    yield server
    server.stop(grace=0)


def _status(channel: grpc.Channel, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=30)
    return int(response.status)


def test_serves_kms_on_unix_socket_with_mode_0600(unix_server: GrpcServer, sock_dir: Path) -> None:
    sock = sock_dir / "kms" / "kms.sock"
    assert stat.S_ISSOCK(sock.lstat().st_mode)
    assert stat.S_IMODE(sock.lstat().st_mode) == 0o600
    with grpc.insecure_channel(unix_server.address) as channel:
        reply = kms_grpc.KeyManagementServiceStub(channel).Status(
            kms_pb2.StatusRequest(), timeout=5
        )
        assert reply.healthz == "ok"
        assert _status(channel) == health_pb2.HealthCheckResponse.SERVING
        assert _status(channel, "v2.KeyManagementService") == health_pb2.HealthCheckResponse.SERVING


def test_stop_removes_socket(sock_dir: Path, kms: KmsServicer) -> None:
    options = ServerOptions(endpoint=parse_endpoint(f"unix://{sock_dir}/k.sock"))
    server = build_server(options, services=[kms_registration(kms)])
    server.start()
    server.stop(grace=0)
    assert server.wait(0)
    assert not (sock_dir / "k.sock").exists()


def test_custom_socket_mode_and_stale_socket_replaced(sock_dir: Path, kms: KmsServicer) -> None:
    endpoint = parse_endpoint(f"unix://{sock_dir}/k.sock")
    first = build_server(ServerOptions(endpoint=endpoint), services=[kms_registration(kms)])
    # Simulate a crash: the socket file stays behind, nobody listens on it.
    first._server.stop(0).wait()
    assert (sock_dir / "k.sock").is_socket()
    second = build_server(
        ServerOptions(endpoint=endpoint, socket_mode=0o660), services=[kms_registration(kms)]
    )
    second.start()
    try:
        assert stat.S_IMODE((sock_dir / "k.sock").stat().st_mode) == 0o660
        with grpc.insecure_channel(second.address) as channel:
            assert _status(channel) == health_pb2.HealthCheckResponse.SERVING
    finally:
        second.stop(grace=0)


def test_regular_file_at_socket_path_is_refused(sock_dir: Path, kms: KmsServicer) -> None:
    (sock_dir / "k.sock").write_text("not a socket")
    options = ServerOptions(endpoint=parse_endpoint(f"unix://{sock_dir}/k.sock"))
    with pytest.raises(ConfigError):
        build_server(options, services=[kms_registration(kms)])
    assert (sock_dir / "k.sock").read_text() == "not a socket"


def test_tcp_loopback_port_zero_and_reflection() -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    options = ServerOptions(endpoint=parse_endpoint("tcp://127.0.0.1:0"), reflection=True)
    server = build_server(options, services=csi_registrations())
    server.start()
    try:
        assert server.address.startswith("127.0.0.1:")
        assert not server.address.endswith(":0")
        with grpc.insecure_channel(server.address) as channel:
            info = csi_pb2_grpc.IdentityStub(channel).GetPluginInfo(
                csi_pb2.GetPluginInfoRequest(), timeout=5
            )
            assert info.name == "test.csi.osk8s"
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            reply = next(iter(stub.ServerReflectionInfo(iter([request]), timeout=30)))
            names = {s.name for s in reply.list_services_response.service}
            assert {"csi.v1.Identity", "csi.v1.Controller", "grpc.health.v1.Health"} <= names
    finally:
        server.stop(grace=0)


def test_second_listener_on_same_tcp_port_fails() -> None:
    first = build_server(ServerOptions(endpoint=parse_endpoint("tcp://127.0.0.1:0")), services=[])
    try:
        port = first.address.rsplit(":", 1)[1]
        with pytest.raises(ConfigError):
            build_server(
                ServerOptions(endpoint=parse_endpoint(f"tcp://127.0.0.1:{port}")), services=[]
            )
    finally:
        first.stop(grace=0)


def test_graceful_stop_lets_in_flight_call_finish(sock_dir: Path, kms: KmsServicer) -> None:
    options = ServerOptions(endpoint=parse_endpoint(f"unix://{sock_dir}/k.sock"), grace_period=30)
    server = build_server(options, services=[kms_registration(kms)])
    server.start()
    with grpc.insecure_channel(server.address) as channel:
        stub = kms_grpc.KeyManagementServiceStub(channel)
        future = stub.Encrypt.future(kms_pb2.EncryptRequest(uid="slow", plaintext=b"p"), timeout=30)
        assert kms.entered.wait(30)
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        # Once stopping, health reports NOT_SERVING ... the in-flight call still completes.
        threading.Timer(0.2, kms.release.set).start()
        assert future.result(timeout=30).ciphertext == b"c:p"
        stopper.join(30)
    assert server.wait(0)


def test_serve_stops_on_sigterm(sock_dir: Path, kms: KmsServicer) -> None:
    options = ServerOptions(endpoint=parse_endpoint(f"unix://{sock_dir}/k.sock"), grace_period=1)
    server = build_server(options, services=[kms_registration(kms)])
    before = signal.getsignal(signal.SIGTERM)
    seen: list[int] = []

    def probe_then_signal() -> None:
        try:
            with grpc.insecure_channel(server.address) as channel:
                grpc.channel_ready_future(channel).result(timeout=30)
                seen.append(_status(channel))
        except Exception:
            server.stop()  # serve() returns and the assertion on ``seen`` fails, no hang
            raise
        os.kill(os.getpid(), signal.SIGTERM)  # answered: serve() handles SIGTERM by now

    threading.Thread(target=probe_then_signal).start()
    server.serve()  # returns only after SIGTERM and a graceful stop
    assert seen == [health_pb2.HealthCheckResponse.SERVING]
    assert server.wait(0)
    assert signal.getsignal(signal.SIGTERM) is before
    assert not (sock_dir / "k.sock").exists()


def test_serve_returns_when_stopped_from_another_thread(sock_dir: Path, kms: KmsServicer) -> None:
    options = ServerOptions(endpoint=parse_endpoint(f"unix://{sock_dir}/k.sock"), grace_period=1)
    server = build_server(options, services=[kms_registration(kms)])
    threading.Timer(0.1, server.stop).start()
    server.serve()
    assert server.wait(0)
