"""Start-up benchmark: prints, per console script, wall time to --help and peak RSS.

A script, not a test: it prints numbers for the issue notes. Each binary runs REPEAT times; the
median wall time and the maximum peak RSS (ru_maxrss of the child) are reported. Time to ready
(serving) is measured once a service serves; until then the column says so.
Targets (issue 2): ready <= 1.5 s and RSS <= 120 MB per service on these machines.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import subprocess
import sys
import time
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
# What a serving service will pay on top of --help: each heavy library on its own.
LIBRARIES = ("openstack", "kubernetes.client", "grpc", "structlog", "prometheus_client", "flask")


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


def main() -> int:
    bin_dir = Path(sys.executable).parent
    print(f"{'binary':<38} {'--help median s':>16} {'peak RSS MB':>12}  ready")
    for name in BINARIES:
        median, rss = summarise([str(bin_dir / name), "--help"])
        print(f"{name:<38} {median:>16.3f} {rss:>12.1f}  n/a (does not serve yet)")
    print()
    print(f"{'import of':<38} {'median s':>16} {'peak RSS MB':>12}")
    for lib in LIBRARIES:
        if importlib.util.find_spec(lib.split(".")[0]) is None:
            print(f"{lib:<38} {'not installed':>16}")
            continue
        median, rss = summarise([sys.executable, "-c", f"import {lib}"])
        print(f"{lib:<38} {median:>16.3f} {rss:>12.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
