"""Crash points: parsed from the environment at the edge, logged, and fatal exactly where asked;
the call layer makes every non-idempotent OpenStack call a pair of points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import structlog
from prometheus_client import CollectorRegistry

from osk8s_core import errors
from osk8s_core.crashpoints import (
    NO_CRASH_POINTS,
    CrashPlan,
    PlannedCrashPoints,
    crash_points_from_environ,
)
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.retry import NO_RETRY
from osk8s_testing.crashpoints import (
    Point,
    RecordingCrashPoints,
    SimulatedCrash,
    crash_env,
    loop_over_crash_points,
    read_points,
)


def test_no_variables_means_no_crash_points() -> None:
    assert crash_points_from_environ({}) is NO_CRASH_POINTS
    assert crash_points_from_environ({"OSK8S_CRASH_AT": " "}) is NO_CRASH_POINTS


def test_plan_parses_name_and_occurrence(tmp_path: Path) -> None:
    env = crash_env(at="volume_create.after#2", log=tmp_path / "points")
    plan = CrashPlan.parse(env)
    assert plan == CrashPlan("volume_create.after", 2, tmp_path / "points")
    assert CrashPlan.parse({"OSK8S_CRASH_AT": "x"}) == CrashPlan("x", 1, None)
    with pytest.raises(ValueError, match="occurrence"):
        CrashPlan.parse({"OSK8S_CRASH_AT": "x#0"})
    with pytest.raises(ValueError):
        CrashPlan.parse({"OSK8S_CRASH_AT": "x#two"})


def test_planned_points_log_everything_and_kill_on_the_nth_reach(tmp_path: Path) -> None:
    kills: list[str] = []
    log = tmp_path / "points"
    points = PlannedCrashPoints(CrashPlan("b", 2, log), kill=lambda: kills.append("killed"))
    for name in ("a", "b", "a", "b", "b"):
        points.reach(name)
        if kills:
            break
    assert kills == ["killed"]
    assert log.read_text().split() == ["a", "b", "a", "b"]
    assert read_points(log) == [Point("a"), Point("b"), Point("a", 2), Point("b", 2)]


class Api:
    """A stand-in service proxy: creates succeed or fail as scripted."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.fail = False

    def create(self, name: str) -> str:
        if self.fail:
            raise errors.BadRequest("refused")
        self.created.append(name)
        return name

    def get(self, name: str) -> str:
        return name


def _client(points: Any) -> OpenStackClient[None]:
    return OpenStackClient(
        None,
        metrics=ApiMetrics(CollectorRegistry()),
        retry_policy=NO_RETRY,
        logger=structlog.get_logger(),
        crash_points=points,
    )


def test_client_reaches_points_around_non_idempotent_calls_only() -> None:
    api = Api()
    recorder = RecordingCrashPoints()
    client = _client(recorder)
    client.call("thing_get", api.get, "x")
    client.call("thing_create", api.create, "x", idempotent=False)
    assert recorder.reached == [Point("thing_create.before"), Point("thing_create.after")]
    api.fail = True
    with pytest.raises(errors.BadRequest):
        client.call("thing_create", api.create, "y", idempotent=False)
    # A failed create reaches "before" only: nothing landed that a crash could orphan.
    assert recorder.reached[-1] == Point("thing_create.before", 2)
    assert len(recorder.reached) == 3


def test_loop_crashes_at_every_point_and_verifies_each_restart() -> None:
    store: dict[str, int] = {}
    rounds: list[str] = []

    def scenario(points: Any) -> None:
        client = _client(points)
        for name in ("a", "b"):  # find-or-create, as every create in the code base does
            if name not in store:
                client.call(
                    f"{name}_create", lambda n=name: store.setdefault(n, 1), idempotent=False
                )

    def verify() -> None:
        rounds.append("verify")
        assert store == {"a": 1, "b": 1}

    crashed = loop_over_crash_points(scenario, verify=verify, reset=store.clear)
    assert [str(p) for p in crashed] == [
        "a_create.before",
        "a_create.after",
        "b_create.before",
        "b_create.after",
    ]
    assert rounds == ["verify"] * 5


def test_loop_reports_the_point_after_which_the_end_state_is_wrong() -> None:
    store: list[str] = []

    def scenario(points: Any) -> None:  # not idempotent: creates again after a crash
        _client(points).call("a_create", lambda: store.append("a"), idempotent=False)

    def verify() -> None:
        assert store == ["a"], f"resources: {store}"

    with pytest.raises(AssertionError, match=r"after a crash at a_create\.after"):
        loop_over_crash_points(scenario, verify=verify, reset=store.clear)


def test_simulated_crash_escapes_except_exception() -> None:
    def swallowing(points: Any) -> None:
        try:
            points.reach("x")
        except Exception:
            pytest.fail("a crash must not be catchable as an Exception")

    from osk8s_testing.crashpoints import CrashAt

    with pytest.raises(SimulatedCrash):
        swallowing(CrashAt(Point("x")))
