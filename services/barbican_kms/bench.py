"""Benchmark of barbican-kms-plugin against a bare gRPC echo server (a script, not a test).

Starts the real plugin binary and an echo server (same KMS v2 message shapes, no crypto, no
interceptors) on unix sockets, drives each with N concurrent clients spread over client
processes, and prints ops/s and p50/p99 latency for Encrypt and Decrypt of 1 KiB and 64 KiB,
the plugin/echo ratio, the Barbican requests made during the run, start-up time and RSS.

    .venv/bin/python services/barbican_kms/bench.py                # uses .testcloud
    .venv/bin/python services/barbican_kms/bench.py --cloud-config my.conf --duration 5

Without ``--cloud-config`` it creates a 32-byte secret in the local test cloud (clouds.yaml
entry ``osk8s-demo``) and deletes it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from osk8s_core.proto.kms.v2 import api_pb2, api_pb2_grpc

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent / "barbican-kms-plugin"
KEY_ID = "echo-key"
OVERHEAD = 7 + 36 + 12 + 16  # our envelope's header + nonce + tag, so shapes match


# --- the echo server (runs in its own process) ---


class Echo(api_pb2_grpc.KeyManagementServiceServicer):
    def Status(self, request: Any, context: Any) -> Any:  # noqa: N802
        return api_pb2.StatusResponse(version="v2", healthz="ok", key_id=KEY_ID)

    def Encrypt(self, request: Any, context: Any) -> Any:  # noqa: N802
        return api_pb2.EncryptResponse(
            ciphertext=bytes(OVERHEAD) + request.plaintext, key_id=KEY_ID
        )

    def Decrypt(self, request: Any, context: Any) -> Any:  # noqa: N802
        return api_pb2.DecryptResponse(plaintext=request.ciphertext[OVERHEAD:])


def serve_echo(sock: str, workers: int) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
    api_pb2_grpc.add_KeyManagementServiceServicer_to_server(Echo(), server)  # type: ignore[no-untyped-call]
    server.add_insecure_port(f"unix://{sock}")
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    server.wait_for_termination()


# --- load generation (client processes) ---


@dataclass(frozen=True)
class Case:
    """One measurement: ``method`` with ``size``-byte payloads, ``concurrency`` in flight."""

    sock: str
    method: str
    size: int
    concurrency: int
    seconds: float


async def _drive(case: Case, payload: bytes) -> list[float]:
    async with grpc.aio.insecure_channel(f"unix://{case.sock}") as channel:
        stub = api_pb2_grpc.KeyManagementServiceStub(channel)  # type: ignore[no-untyped-call]
        if case.method == "Decrypt":
            enc = await stub.Encrypt(api_pb2.EncryptRequest(plaintext=payload))
            request: Any = api_pb2.DecryptRequest(ciphertext=enc.ciphertext, key_id=enc.key_id)
            call = stub.Decrypt
        else:
            request = api_pb2.EncryptRequest(plaintext=payload)
            call = stub.Encrypt
        for _ in range(20):  # warm-up
            await call(request)
        latencies: list[float] = []
        stop_at = time.perf_counter() + case.seconds

        async def worker() -> None:
            while time.perf_counter() < stop_at:
                start = time.perf_counter()
                await call(request)
                latencies.append(time.perf_counter() - start)

        await asyncio.gather(*(worker() for _ in range(case.concurrency)))
        return latencies


def _client(job: tuple[Case, bytes]) -> list[float]:
    return asyncio.run(_drive(*job))


def measure(case: Case, procs: int, server_pid: int) -> dict[str, float]:
    """Spread ``case.concurrency`` clients over ``procs`` processes; merge their latencies.
    Also reports the server's CPU time per call, which a busy machine disturbs less."""
    per = Case(case.sock, case.method, case.size, max(1, case.concurrency // procs), case.seconds)
    payload = os.urandom(case.size)
    with multiprocessing.get_context("spawn").Pool(procs) as pool:
        cpu_before = cpu_seconds(server_pid)
        parts = pool.map(_client, [(per, payload)] * procs)
        cpu = cpu_seconds(server_pid) - cpu_before
    lat = sorted(x for part in parts for x in part)
    return {
        "cpu_us": cpu / max(1, len(lat)) * 1e6,
        "ops": len(lat) / case.seconds,
        "p50": lat[len(lat) // 2] * 1000,
        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
    }


def compare(
    plugin: Case, echo: Case, *, pids: tuple[int, int], rounds: int, procs: int
) -> tuple[dict[str, float], dict[str, float], float]:
    """Alternate plugin and echo in short rounds so background load hits both alike; report
    the median of each metric and the median per-round ops/s ratio."""
    share = max(0.5, plugin.seconds / rounds)
    runs: list[tuple[dict[str, float], dict[str, float]]] = []
    for _ in range(rounds):
        p = measure(Case(plugin.sock, plugin.method, plugin.size, plugin.concurrency, share),
                    procs, pids[0])  # fmt: skip
        e = measure(Case(echo.sock, echo.method, echo.size, echo.concurrency, share),
                    procs, pids[1])  # fmt: skip
        runs.append((p, e))

    def median(side: int, key: str) -> float:
        return statistics.median(run[side][key] for run in runs)

    keys = ("ops", "p50", "p99", "cpu_us")
    return (
        {k: median(0, k) for k in keys},
        {k: median(1, k) for k in keys},
        statistics.median(p["ops"] / e["ops"] for p, e in runs),
    )


# --- plugin process and the test-cloud secret ---


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(sock: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"process exited {proc.returncode}")
        if sock.exists():
            try:
                with grpc.insecure_channel(f"unix://{sock}") as ch:
                    stub = api_pb2_grpc.KeyManagementServiceStub(ch)  # type: ignore[no-untyped-call]
                    if stub.Status(api_pb2.StatusRequest(), timeout=1).healthz == "ok":
                        return time.perf_counter() - start
            except grpc.RpcError:
                pass
        time.sleep(0.01)
    raise SystemExit("not ready in time")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (clock ticks from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def barbican_requests(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    match = re.search(r'openstack_api_requests_total\{request="secret_payload_get"\} (\S+)', text)
    return float(match.group(1)) if match else 0.0


def testcloud_conf(tmp: Path, write_format: str) -> tuple[Path, Any, str]:
    import openstack  # noqa: PLC0415 - only needed without --cloud-config
    from openstack.config.loader import OpenStackConfig  # noqa: PLC0415

    root = REPO / ".testcloud"
    config = OpenStackConfig(config_files=[str(root / "clouds.yaml")], load_envvars=False)
    conn = openstack.connection.Connection(config=config.get_one(cloud="osk8s-demo"))
    secret = conn.key_manager.create_secret(
        name="osk8s-kms-bench",
        payload=base64.b64encode(os.urandom(32)).decode(),
        payload_content_type="application/octet-stream",
        payload_content_encoding="base64",
        secret_type="symmetric",
    )
    secret_id = str(secret.id).rsplit("/", 1)[-1]  # the SDK returns the href
    text = (root / "cloud.conf").read_text()
    glob = re.search(r"^\[Global\]\n(?:(?!\[).*\n?)*", text, re.M)
    assert glob is not None
    conf = tmp / "cloud.conf"
    conf.write_text(
        f"{glob.group(0)}\n[KeyManager]\nkey-id = {secret_id}\nwrite-format = {write_format}\n"
    )
    os.chmod(conf, 0o600)
    return conf, conn, secret_id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud-config", help="cloud.conf with [KeyManager] key-id")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--client-procs", type=int, default=2, help="client processes")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per case and server")
    parser.add_argument("--rounds", type=int, default=6, help="plugin/echo alternations per case")
    parser.add_argument(
        "--workers", type=int, default=4, help="echo server threads (the plugin uses 4)"
    )
    parser.add_argument(
        "--write-format",
        default="aes-cbc",
        choices=("aes-cbc", "envelope"),
        help="[KeyManager] write-format of the secret created in the test cloud",
    )
    parser.add_argument("--echo-server", metavar="SOCKET", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_server:
        serve_echo(args.echo_server, args.workers)
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="kms-bench-"))
    conn = secret_id = None
    if args.cloud_config:
        conf = Path(args.cloud_config)
    else:
        conf, conn, secret_id = testcloud_conf(tmp, args.write_format)
    plugin_sock, echo_sock = tmp / "kms.sock", tmp / "echo.sock"
    http_port = free_port()
    log = (tmp / "plugin.log").open("wb")
    plugin = subprocess.Popen(
        [str(BIN), f"--socketpath={plugin_sock}", f"--cloud-config={conf}",
         f"--http-endpoint=127.0.0.1:{http_port}", "--v=2"],
        stdout=log, stderr=log,
    )  # fmt: skip
    echo = subprocess.Popen([sys.executable, __file__, "--echo-server", str(echo_sock),
                             "--workers", str(args.workers)])  # fmt: skip
    try:
        startup = wait_ready(plugin_sock, plugin)
        wait_ready(echo_sock, echo)
        rss_start = rss_mib(plugin.pid)
        before = barbican_requests(http_port)
        print(f"plugin start-up to ready: {startup:.2f} s, RSS after start {rss_start:.1f} MiB")
        print(f"clients={args.clients} in {args.client_procs} processes, {args.duration}s per case"
              f" and server in {args.rounds} alternating rounds (medians shown)")  # fmt: skip
        print(f"{'case':<16}{'plugin ops/s':>13}{'p50 ms':>8}{'p99 ms':>8}"
              f"{'echo ops/s':>12}{'p50 ms':>8}{'p99 ms':>8}{'ratio':>7}"
              f"{'cpu us/op plugin':>18}{'echo':>6}")  # fmt: skip
        for method in ("Encrypt", "Decrypt"):
            for size in (1024, 65536):
                p, e, ratio = compare(
                    Case(str(plugin_sock), method, size, args.clients, args.duration),
                    Case(str(echo_sock), method, size, args.clients, args.duration),
                    pids=(plugin.pid, echo.pid),
                    rounds=args.rounds,
                    procs=args.client_procs,
                )
                print(f"{method + ' ' + str(size // 1024) + 'KiB':<16}{p['ops']:>13.0f}"
                      f"{p['p50']:>8.2f}{p['p99']:>8.2f}{e['ops']:>12.0f}{e['p50']:>8.2f}"
                      f"{e['p99']:>8.2f}{ratio:>7.2f}"
                      f"{p['cpu_us']:>18.0f}{e['cpu_us']:>6.0f}")  # fmt: skip
        after = barbican_requests(http_port)
        print(f"Barbican requests: {before:.0f} at start-up, {after - before:.0f} during the run")
        print(f"plugin RSS after the run: {rss_mib(plugin.pid):.1f} MiB")
    finally:
        for proc in (plugin, echo):
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
        log.close()
        if conn is not None and secret_id is not None:
            conn.key_manager.delete_secret(secret_id, ignore_missing=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
