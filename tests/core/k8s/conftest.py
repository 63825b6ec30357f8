"""Fixtures for the core Kubernetes layer tests: a fake clock driven by the code under test."""

from __future__ import annotations

import datetime as dt
import threading

import pytest


class FakeClock:
    """Time moves only when advanced or when code under test waits (waits return at once)."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.epoch = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        self.waited: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.t

    def now(self) -> dt.datetime:
        return self.epoch + dt.timedelta(seconds=self.monotonic() - 1000.0)

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        if stop.is_set():
            return True
        self.advance(max(seconds, 0.0))
        self.waited.append(seconds)
        return stop.is_set()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
