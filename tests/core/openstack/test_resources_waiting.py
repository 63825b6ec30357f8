"""``Waiter``: status waits of the resource modules on a fake clock (no real sleeping)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from osk8s_core import errors
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import WaitPolicy


@dataclass
class FakeTime:
    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Res:
    status: str


def script(*steps: object) -> Callable[[], Res]:
    """A fetch returning (or raising) the given steps in order, the last one repeating."""
    queue = list(steps)

    def fetch() -> Res:
        step = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(step, BaseException):
            raise step
        assert isinstance(step, Res)
        return step

    return fetch


def waiter(t: FakeTime, timeout: float = 30) -> Waiter:
    policy = WaitPolicy(timeout=timeout, interval=1, factor=2, max_interval=4)
    return Waiter(policy=policy, sleep=t.sleep, clock=t.clock)


def test_until_reaches_target_case_insensitively() -> None:
    t = FakeTime()
    fetch = script(Res("creating"), Res("creating"), Res("available"))
    assert waiter(t).until(fetch, target="AVAILABLE", describe="volume v").status == "available"
    assert t.sleeps == [1, 2]


def test_until_gone_treats_not_found_as_done() -> None:
    t = FakeTime()
    fetch = script(Res("deleting"), errors.NotFound("gone", status=404))
    waiter(t).until_gone(fetch, describe="volume v deletion")
    assert t.sleeps == [1]


def test_until_gone_stops_on_failure_status() -> None:
    t = FakeTime()
    with pytest.raises(errors.ResourceError, match="error_deleting"):
        waiter(t).until_gone(script(Res("error_deleting")), describe="volume v deletion")


def test_until_gone_times_out_with_last_status() -> None:
    t = FakeTime()
    with pytest.raises(errors.WaitTimeout) as info:
        waiter(t, timeout=10).until_gone(script(Res("deleting")), describe="volume v deletion")
    assert info.value.last_status == "deleting"
    assert t.now == pytest.approx(10)


def test_until_tolerates_transient_errors() -> None:
    t = FakeTime()
    fetch = script(errors.ServerError("boom", status=503), Res("ACTIVE"))
    assert waiter(t).until(fetch, target="ACTIVE", describe="lb").status == "ACTIVE"
