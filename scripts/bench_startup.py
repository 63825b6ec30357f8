"""Start-up benchmark: prints, per console script, time to --help, and for the services that
serve, time to ready and resident memory once ready.

A script, not a test: it prints numbers for the issue notes. `--help` runs REPEAT times (median
wall time, max peak RSS). "Ready" is the first JSON log line whose event ends in "serving"
(each serving binary logs one once its socket/port accepts calls); RSS is read from /proc at
that moment. Services that need OpenStack at start-up (the KMS plugin fetches its key) run
against the local test cloud when `.testcloud/cloud.conf` exists, else they are skipped.
Targets (issue 2): ready <= 1.5 s and RSS <= 120 MB per service on these machines.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BINARIES = (
    "openstack-cloud-controller-manager",
    "cinder-csi-plugin",
    "manila-csi-plugin",
    "octavia-ingress-controller",
    "k8s-keystone-auth",
    "client-keystone-auth",
    "barbican-kms-plugin",
    "capo-controller-manager",
)
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
# What a serving service pays on top of --help: each heavy library on its own.
LIBRARIES = ("openstack", "kubernetes.client", "grpc", "structlog", "prometheus_client", "flask")
BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
CLOUD_CONF = REPO / ".testcloud" / "cloud.conf"


def run_once(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS in MB of one run of argv."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} failed")
    return elapsed, usage.ru_maxrss / 1024.0


def summarise(argv: list[str]) -> tuple[float, float]:
    runs = [run_once(argv) for _ in range(REPEAT)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def time_to_ready(argv: list[str]) -> tuple[float, float]:
    """Seconds until the binary logs its "serving" event, and its RSS then (MB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            try:
                event = str(json.loads(line).get("event", ""))
            except ValueError:
                continue
            if event.endswith("serving"):
                return time.perf_counter() - start, rss_mb(proc.pid)
        raise SystemExit(f"{argv[0]} exited without serving")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def kms_key_config(tmp: Path) -> Iterator[Path | None]:
    """A cloud.conf for the KMS plugin whose key-id is a fresh Barbican secret of the test
    cloud (deleted afterwards); None when the test cloud is not there."""
    if not CLOUD_CONF.is_file():
        yield None
        return
    from prometheus_client import CollectorRegistry  # noqa: PLC0415 - only with a cloud

    from osk8s_core.credentials.connection import ClientSettings  # noqa: PLC0415
    from osk8s_core.credentials.factory import ConnectionFactory  # noqa: PLC0415
    from osk8s_core.logging import get_logger  # noqa: PLC0415
    from osk8s_core.metrics import ApiMetrics  # noqa: PLC0415
    from osk8s_core.openstack.client import OpenStackClient  # noqa: PLC0415
    from osk8s_core.openstack.secrets import Secrets  # noqa: PLC0415

    factory = ConnectionFactory([CLOUD_CONF], settings=ClientSettings("bench", "0"))
    client = OpenStackClient(
        factory.get(), metrics=ApiMetrics(CollectorRegistry()), logger=get_logger("bench")
    )
    secrets = Secrets(client)
    ref = secrets.store_bytes(f"osk8s-bench-{os.getpid()}", os.urandom(32))
    conf = tmp / "kms.conf"
    key_id = ref.rsplit("/", 1)[-1]
    conf.write_text(CLOUD_CONF.read_text() + f"\n[KeyManager]\nkey-id = {key_id}\n")
    try:
        yield conf
    finally:
        secrets.delete(ref)
        factory.close()


def serving_commands(tmp: Path, kms_conf: Path | None) -> dict[str, list[str] | None]:
    from osk8s_testing.tls import self_signed_localhost  # noqa: PLC0415

    tls = self_signed_localhost(tmp)
    return {
        "cinder-csi-plugin (node)": [
            str(BIN / "cinder-csi-plugin"),
            f"--endpoint=unix://{tmp}/csi.sock",
            "--provide-controller-service=false",
        ],
        "k8s-keystone-auth": [
            str(BIN / "k8s-keystone-auth"),
            "--listen=127.0.0.1:0",
            f"--tls-cert-file={tls.cert}",
            f"--tls-private-key-file={tls.key}",
            "--keystone-url=http://127.0.0.1:5000/v3",
        ],
        "barbican-kms-plugin": None
        if kms_conf is None
        else [
            str(BIN / "barbican-kms-plugin"),
            f"--socketpath={tmp}/kms.sock",
            f"--cloud-config={kms_conf}",
        ],
    }


def main() -> int:
    print(f"{'binary':<38} {'--help median s':>16} {'peak RSS MB':>12}")
    for name in BINARIES:
        median, rss = summarise([str(BIN / name), "--help"])
        print(f"{name:<38} {median:>16.3f} {rss:>12.1f}")

    # Imports first: a child's peak RSS starts from the parent's RSS at fork, and the KMS
    # set-up below imports openstacksdk into this process.
    print(f"\n{'import of':<38} {'median s':>16} {'peak RSS MB':>12}")
    for lib in LIBRARIES:
        if importlib.util.find_spec(lib.split(".")[0]) is None:
            print(f"{lib:<38} {'not installed':>16}")
            continue
        median, rss = summarise([sys.executable, "-c", f"import {lib}"])
        print(f"{lib:<38} {median:>16.3f} {rss:>12.1f}")

    print(
        f"\n{'serving service':<38} {'ready median s':>16} {'RSS MB':>12}   (target 1.5 s, 120 MB)"
    )
    with (
        tempfile.TemporaryDirectory(prefix="osk8s-bench-") as tmp,
        kms_key_config(Path(tmp)) as kms_conf,
    ):
        for name, argv in serving_commands(Path(tmp), kms_conf).items():
            if argv is None:
                print(f"{name:<38} {'skipped: no test cloud':>16}")
                continue
            runs = [time_to_ready(argv) for _ in range(REPEAT)]
            ready = statistics.median(r[0] for r in runs)
            print(f"{name:<38} {ready:>16.3f} {max(r[1] for r in runs):>12.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
