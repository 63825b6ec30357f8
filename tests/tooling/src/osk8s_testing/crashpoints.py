"""Crash-consistency loops over the core's named crash points (``osk8s_core.crashpoints``).

In process: ``loop_over_crash_points`` runs a scenario once to record the points it reaches,
then for each point runs it again crashing there (``SimulatedCrash``, a BaseException, so no
``except Exception`` in the code under test can swallow it, as none can swallow a kill), then
"restarts" (runs it with no crash) and checks the outcome: one resource per create, no orphan.
Across processes: ``crash_env`` gives a binary the variables that make it log its points or
SIGKILL itself at one; ``read_points`` reads such a log. Test tooling only.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from osk8s_core.crashpoints import CRASH_AT_ENV, CRASH_LOG_ENV, NO_CRASH_POINTS, CrashPoints


class SimulatedCrash(BaseException):
    """The process "died" at ``point``."""

    def __init__(self, point: str) -> None:
        super().__init__(point)
        self.point = point


@dataclass(frozen=True)
class Point:
    name: str
    occurrence: int = 1
    """Which reach of ``name`` (1-based): a scenario may create two things through one call."""

    def __str__(self) -> str:
        return self.name if self.occurrence == 1 else f"{self.name}#{self.occurrence}"


@dataclass
class RecordingCrashPoints:
    """Never crashes; records each reach in order, numbered per name."""

    reached: list[Point] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reach(self, name: str) -> None:
        with self._lock:
            seen = sum(1 for p in self.reached if p.name == name)
            self.reached.append(Point(name, seen + 1))


class CrashAt:
    """Raises ``SimulatedCrash`` at the given reach of one point."""

    def __init__(self, point: Point) -> None:
        self.point = point
        self.crashed = False
        self._seen = 0
        self._lock = threading.Lock()

    def reach(self, name: str) -> None:
        with self._lock:
            if name != self.point.name:
                return
            self._seen += 1
            if self._seen != self.point.occurrence:
                return
            self.crashed = True
        raise SimulatedCrash(str(self.point))


def record_points(scenario: Callable[[CrashPoints], object]) -> list[Point]:
    """The crash points one full run of ``scenario`` reaches, in order."""
    recorder = RecordingCrashPoints()
    scenario(recorder)
    return list(recorder.reached)


def loop_over_crash_points(
    scenario: Callable[[CrashPoints], object],
    *,
    verify: Callable[[], None],
    reset: Callable[[], None],
    select: Callable[[Point], bool] = lambda point: True,
) -> list[Point]:
    """Crash ``scenario`` at every selected point it reaches, restart it, ``verify`` the end
    state, ``reset`` for the next round. Returns the points crashed at (never empty: a
    scenario that reaches no point proves nothing, so that is an AssertionError)."""
    points = [p for p in record_points(scenario) if select(p)]
    verify()
    reset()
    if not points:
        raise AssertionError("the scenario reached no selected crash point")
    for point in points:
        crash = CrashAt(point)
        with contextlib.suppress(SimulatedCrash):
            scenario(crash)
        if not crash.crashed:
            raise AssertionError(f"crash point {point} was not reached on the second run")
        scenario(NO_CRASH_POINTS)  # the restart
        try:
            verify()
        except AssertionError as exc:
            raise AssertionError(f"after a crash at {point}: {exc}") from exc
        reset()
    return points


def crash_env(*, at: str | None = None, log: Path | None = None) -> dict[str, str]:
    """Environment variables for a binary: SIGKILL itself at ``at`` (``name`` or ``name#n``)
    and/or append every point it reaches to ``log``."""
    env: dict[str, str] = {}
    if at is not None:
        env[CRASH_AT_ENV] = at
    if log is not None:
        env[CRASH_LOG_ENV] = str(log)
    return env


def read_points(log: Path) -> list[Point]:
    """The points a binary logged, numbered per name as ``OSK8S_CRASH_AT`` counts them."""
    recorder = RecordingCrashPoints()
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            if line:
                recorder.reach(line)
    return recorder.reached
