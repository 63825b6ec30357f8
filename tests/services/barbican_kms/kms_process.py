"""Run the real ``barbican-kms-plugin`` binary on a tmp socket and talk to it over gRPC."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import grpc

from osk8s_core.proto.kms.v1beta1 import api_pb2_grpc as v1_grpc
from osk8s_core.proto.kms.v2 import api_pb2 as kms_v2
from osk8s_core.proto.kms.v2 import api_pb2_grpc as v2_grpc
from osk8s_testing.local import free_port

BIN = Path(sys.executable).parent / "barbican-kms-plugin"


class PluginProcess:
    def __init__(self, *, conf: Path, workdir: Path, extra: tuple[str, ...] = ()) -> None:
        self.socket = workdir / "kms.sock"
        self.http_port = free_port()
        self.log_path = workdir / "plugin.log"
        self._argv = [
            str(BIN),
            f"--socketpath={self.socket}",
            f"--cloud-config={conf}",
            f"--http-endpoint=127.0.0.1:{self.http_port}",
            *extra,
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.channel: grpc.Channel | None = None

    def start(self, timeout: float = 60, *, healthy: bool = True) -> float:
        """Start and wait until Status answers (and says ok, if ``healthy``); returns the
        seconds it took."""
        start = time.perf_counter()
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self._argv, stdout=log, stderr=log)
        log.close()
        try:
            return self._wait_ready(start, timeout, healthy=healthy)
        except BaseException:
            self.stop()  # never leak the process when it did not come up
            raise

    def _wait_ready(self, start: float, timeout: float, *, healthy: bool) -> float:
        assert self.proc is not None
        deadline = start + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"plugin exited {self.proc.returncode}: {self.log()[-2000:]}")
            if self.socket.exists():
                try:
                    if self.status(timeout=1).healthz == "ok" or not healthy:
                        return time.perf_counter() - start
                except grpc.RpcError:
                    pass
            time.sleep(0.02)
        raise TimeoutError(f"plugin not ready in {timeout}s: {self.log()[-2000:]}")

    def _channel(self) -> grpc.Channel:
        if self.channel is None:
            self.channel = grpc.insecure_channel(f"unix://{self.socket}")
        return self.channel

    @property
    def v2(self) -> v2_grpc.KeyManagementServiceStub:
        return v2_grpc.KeyManagementServiceStub(self._channel())  # type: ignore[no-untyped-call]

    @property
    def v1(self) -> v1_grpc.KeyManagementServiceStub:
        return v1_grpc.KeyManagementServiceStub(self._channel())  # type: ignore[no-untyped-call]

    def status(self, timeout: float = 30) -> kms_v2.StatusResponse:
        request = kms_v2.StatusRequest()
        response: kms_v2.StatusResponse = self.v2.Status(request, timeout=timeout)
        return response

    def hup(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def rss_kib(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return -1

    def stop(self) -> int:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> PluginProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def rpc_code(error: BaseException) -> grpc.StatusCode:
    """The status code of a failed call (``grpc.RpcError`` is typed loosely by the stubs)."""
    code = getattr(error, "code", None)
    value = code() if callable(code) else None
    assert isinstance(value, grpc.StatusCode), f"not a finished call error: {error!r}"
    return value


def rpc_details(error: BaseException) -> str:
    details = getattr(error, "details", None)
    return str(details() if callable(details) else "")
