"""Named crash points: where a test may kill the process, to prove each step converges after a
restart.

Code calls ``points.reach("volume_create.after")`` where a crash would leave work half done
(after a create answered and before the step that records its ID). ``OpenStackClient`` reaches
``<request>.before`` and ``<request>.after`` around every non-idempotent call, so every create
step of every service is a crash point without code of its own; controllers add their own
(``status_write.before`` ...). By default nothing happens. A process started with
``OSK8S_CRASH_LOG=<file>`` appends each point it reaches to the file (so a test can list a
run's points) and with ``OSK8S_CRASH_AT=<name>[#<n>]`` kills itself with SIGKILL on the n-th
time (default 1st) it reaches ``name``, as a node failure or an OOM kill would. The variables
are read once, at the binary's edge (``crash_points_from_environ``), never by library code.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CRASH_AT_ENV = "OSK8S_CRASH_AT"
CRASH_LOG_ENV = "OSK8S_CRASH_LOG"


class CrashPoints(Protocol):
    """What code needs: say that a named point was reached."""

    def reach(self, name: str) -> None: ...


class NoCrashPoints:
    """The production default: reaching a point does nothing."""

    def reach(self, name: str) -> None:
        del name


NO_CRASH_POINTS: CrashPoints = NoCrashPoints()


@dataclass(frozen=True)
class CrashPlan:
    """Where to die and where to log, parsed from the environment at the edge."""

    kill_at: str | None = None
    """Point name whose ``occurrence``-th reach kills the process; None: never."""
    occurrence: int = 1
    log: Path | None = None
    """File each reached point name is appended to (one per line); None: no log."""

    @classmethod
    def parse(cls, environ: Mapping[str, str]) -> CrashPlan | None:
        """The plan the variables describe, None when neither is set; ValueError on a bad
        ``name#n``."""
        at = environ.get(CRASH_AT_ENV, "").strip()
        log = environ.get(CRASH_LOG_ENV, "").strip()
        if not at and not log:
            return None
        name, _, nth = at.partition("#")
        occurrence = int(nth) if nth else 1
        if occurrence < 1:
            raise ValueError(f"{CRASH_AT_ENV}: occurrence must be >= 1, got {nth!r}")
        return cls(kill_at=name or None, occurrence=occurrence, log=Path(log) if log else None)


def _sigkill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class PlannedCrashPoints:
    """Logs every point reached and kills the process at the planned one."""

    def __init__(self, plan: CrashPlan, *, kill: Callable[[], None] = _sigkill) -> None:
        self._plan = plan
        self._kill = kill
        self._lock = threading.Lock()
        self._seen = 0

    def reach(self, name: str) -> None:
        with self._lock:
            if self._plan.log is not None:
                # Written and closed before any kill: the page cache survives SIGKILL.
                with self._plan.log.open("a", encoding="utf-8") as out:
                    out.write(name + "\n")
            if name != self._plan.kill_at:
                return
            self._seen += 1
            if self._seen == self._plan.occurrence:
                self._kill()


def crash_points_from_environ(environ: Mapping[str, str]) -> CrashPoints:
    """The crash points a binary should use: ``NO_CRASH_POINTS`` unless a test asked."""
    plan = CrashPlan.parse(environ)
    return NO_CRASH_POINTS if plan is None else PlannedCrashPoints(plan)
