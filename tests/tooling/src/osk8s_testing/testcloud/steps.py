"""Progress lines with timings, setup commands with their output in a log, and readiness waits.

Everything the bring-up prints goes through ``Progress`` (elapsed time on every line, a time per
step, a summary table at the end). Setup commands write to ``logs/setup-<service>.log``, never
to the terminal, and a failure raises ``TestcloudError`` carrying the log's tail.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


class TestcloudError(Exception):
    """The test cloud could not be brought up (message says which step and why)."""

    __test__ = False  # not a pytest test class despite the name


class Progress:
    """Timestamped progress output and per-step timings."""

    def __init__(self, *, out: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self._out = out
        self._clock = clock
        self._t0 = clock()
        self.timings: list[tuple[str, float]] = []

    def elapsed(self) -> float:
        return self._clock() - self._t0

    def line(self, message: str) -> None:
        self._out.write(f"[{self.elapsed():6.1f}s] {message}\n")
        self._out.flush()

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = self._clock()
        self.line(f"{name} ...")
        yield
        took = self._clock() - start
        self.timings.append((name, took))
        self.line(f"{name}: done in {took:.1f}s")

    def summary(self) -> str:
        width = max((len(n) for n, _ in self.timings), default=4)
        rows = [f"  {name:<{width}}  {secs:6.1f}s" for name, secs in self.timings]
        rows.append(f"  {'total':<{width}}  {self.elapsed():6.1f}s")
        return "\n".join(rows)


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def run(
    argv: Sequence[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    check: bool = True,
) -> int:
    """Run one setup command with its output appended to ``log``."""
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        code = subprocess.call(
            list(argv),
            env=None if env is None else dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if check and code != 0:
        raise TestcloudError(f"{argv[0]} exited {code}; last lines of {log}:\n{log_tail(log)}")
    return code


def _http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3):
            return True
    except urllib.error.HTTPError as e:
        # Any HTTP answer but a gateway/unavailable error means the app is serving.
        return e.code not in (502, 503, 504)
    except (OSError, ValueError):
        return False


def _tcp_answers(url: str) -> bool:
    host, _, port = url.removeprefix("tcp://").partition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def wait_until_answers(
    url: str,
    *,
    alive: Callable[[], bool],
    timeout: float,
    what: str,
    log: Path,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Poll ``url`` (http:// or tcp://host:port) until it answers.

    Gives up when ``alive()`` turns false or ``timeout`` passes, with the log's tail.
    """
    probe = _tcp_answers if url.startswith("tcp://") else _http_answers
    deadline = clock() + timeout
    while True:
        if probe(url):
            return
        if not alive():
            raise TestcloudError(
                f"{what} exited before answering on {url}; log {log}:\n{log_tail(log)}"
            )
        if clock() > deadline:
            raise TestcloudError(
                f"{what} did not answer on {url} within {timeout:.0f}s; log {log}:\n{log_tail(log)}"
            )
        sleep(0.5)
