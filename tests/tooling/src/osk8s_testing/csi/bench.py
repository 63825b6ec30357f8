"""What the CSI drivers' benchmarks share: OpenStack requests per RPC counted at a fault proxy
(happy path, and with the RPC's first request answered 503), printed beside the minimum the
API allows, and the wall time of a conformance suite. The RPCs themselves are the driver's."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import grpc

from osk8s_testing.faultproxy.rules import error
from osk8s_testing.faultproxy.server import FaultProxy


class RequestTable:
    """One row per measured RPC: requests on the happy path and with one 503 first.

    ``call_again``: after a failure under the 503, call once more (what a sidecar does) and
    count both calls; otherwise the row shows the count and the failure's code."""

    def __init__(
        self,
        proxy: FaultProxy,
        minimum: Mapping[str, tuple[int, str]],
        *,
        call_again: bool,
        retry_width: int = 6,
    ) -> None:
        self.proxy = proxy
        self.minimum = minimum
        self.call_again = call_again
        self.retry_width = retry_width
        self.rows: list[tuple[str, int, int | str]] = []
        self.paths: dict[str, list[str]] = {}

    def measure(self, label: str, call: Callable[[], Any], retry: Callable[[], Any] | None) -> Any:
        self.proxy.calls.clear()
        result = call()
        happy = self.proxy.calls.count()
        self.paths[label] = [
            f"{c.method} {c.path.split('/', 3)[-1]}?{c.query} -> {c.status}"
            for c in self.proxy.calls.all()
        ]
        with_retry: int | str = "-"
        if retry is not None:
            self.proxy.reset()
            self.proxy.inject(error(503), first=1)
            with_retry = self._with_one_503(retry)
            self.proxy.reset()
        self.rows.append((label, happy, with_retry))
        return result

    def _with_one_503(self, retry: Callable[[], Any]) -> int | str:
        try:
            retry()
        except grpc.RpcError as exc:
            if not self.call_again:
                return f"{self.proxy.calls.count()} ({exc.code().name})"
            retry()
        return self.proxy.calls.count()

    def print(self, *, verbose: bool) -> None:
        width = self.retry_width
        print(f"{'RPC':30} {'happy':>6} {'1x503':>{width}} {'min':>4}  minimum means")
        for label, happy, retry in self.rows:
            minimum, why = self.minimum[label]
            print(f"{label:30} {happy:>6} {retry!s:>{width}} {minimum:>4}  {why}")
            if verbose:
                for line in self.paths[label]:
                    print(f"{'':34}{line}")


def suite_time(repo: Path, test_file: str) -> tuple[float, str]:
    """Wall time of ``pytest -q <test_file>`` run from ``repo``, and pytest's last line."""
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-200:]
    return time.monotonic() - start, tail
