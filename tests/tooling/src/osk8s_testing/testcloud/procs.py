"""Start, find and stop the test cloud's processes by pid file, one process group each.

Each process runs in its own session (so its group id is its pid) with stdout/stderr appended
to ``logs/<name>.log``. A pid file holds ``pid starttime`` so a recycled pid is not mistaken
for ours. It never signals anything it did not start and record itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from osk8s_testing.testcloud.layout import Layout


@dataclass(frozen=True)
class ProcessSpec:
    """One long-running process of a service."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (start time in ticks); None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return any(_start_time(pid) for pid in _group_members(pgid))


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


class Supervisor:
    """Pid-file based process control under ``layout.run``."""

    def __init__(self, *, layout: Layout, sleep: Callable[[float], None] = time.sleep) -> None:
        self._layout = layout
        self._sleep = sleep

    def _pidfile(self, name: str) -> Path:
        return self._layout.run / f"{name}.pid"

    def log_path(self, name: str) -> Path:
        return self._layout.logs / f"{name}.log"

    def recorded(self) -> list[str]:
        """Names with a pid file, in start order."""
        files = sorted(self._layout.run.glob("*.pid"), key=lambda p: p.stat().st_mtime)
        return [p.stem for p in files]

    def pid(self, name: str) -> int | None:
        """The pid if the recorded process is still the one we started, else None."""
        try:
            pid_text, started = self._pidfile(name).read_text().split()
        except (OSError, ValueError):
            return None
        pid = int(pid_text)
        return pid if _start_time(pid) == started else None

    def start(self, spec: ProcessSpec) -> int:
        """Start unless already running; returns the pid either way."""
        running = self.pid(spec.name)
        if running is not None:
            return running
        log = self.log_path(spec.name).open("ab")
        with log:
            proc = subprocess.Popen(
                spec.argv,
                env=dict(spec.env),
                cwd=spec.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = _start_time(proc.pid) or "0"
        self._pidfile(spec.name).write_text(f"{proc.pid} {started}\n")
        return proc.pid

    def stop(self, name: str, *, timeout: float = 15.0) -> bool:
        """SIGTERM the process group, SIGKILL after ``timeout``; True if something was stopped."""
        return bool(self.stop_many([name], timeout=timeout))

    def stop_many(self, names: list[str], *, timeout: float = 15.0) -> list[str]:
        """Stop several at once (all get SIGTERM first, so slow stoppers overlap); the stopped."""
        pids = {}
        for name in names:
            pid = self.pid(name)
            if pid is None:
                self._pidfile(name).unlink(missing_ok=True)
            else:
                pids[name] = pid
                self._signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while any(_group_alive(p) for p in pids.values()) and time.monotonic() < deadline:
            self._sleep(0.2)
        for pid in pids.values():
            if _group_alive(pid):
                self._signal(pid, signal.SIGKILL)
        while any(_group_alive(p) for p in pids.values()) and time.monotonic() < deadline + 5:
            self._sleep(0.1)
        for name in pids:
            self._pidfile(name).unlink(missing_ok=True)
        return list(pids)

    @staticmethod
    def _signal(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)

    def tail(self, name: str, lines: int = 25) -> str:
        try:
            text = self.log_path(name).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
