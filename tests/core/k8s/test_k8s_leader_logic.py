"""Leader election rules on an in-memory lock with resourceVersion semantics and a fake clock."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from osk8s_core.errors import KubernetesConflict, KubernetesError
from osk8s_core.k8s.leader import LeaderCallbacks, LeaderElectionConfig, LeaderElector
from osk8s_core.k8s.leaselock import LeaseRecord, ObservedLease


class MemoryLock:
    """A Lease in memory: create conflicts if it exists, update conflicts on a stale RV."""

    def __init__(self) -> None:
        self.current: ObservedLease | None = None
        self.rv = 0
        self.broken = False
        self.calls = 0
        self.on_call = None

    def describe(self) -> str:
        return "lease test/lock"

    def _enter(self) -> None:
        self.calls += 1
        if self.on_call:
            self.on_call(self)
        if self.broken:
            raise KubernetesError("apiserver down", status=None)

    def _store(self, record: LeaseRecord) -> ObservedLease:
        self.rv += 1
        self.current = ObservedLease(record=record, resource_version=str(self.rv))
        return self.current

    def get(self):
        self._enter()
        return self.current

    def create(self, record):
        self._enter()
        if self.current is not None:
            raise KubernetesConflict("exists", status=409)
        return self._store(record)

    def update(self, record, resource_version):
        self._enter()
        if self.current is None or self.current.resource_version != resource_version:
            raise KubernetesConflict("stale", status=409)
        return self._store(record)


def callbacks(log=None):
    log = [] if log is None else log
    return LeaderCallbacks(
        on_started_leading=lambda ended: log.append("started"),
        on_stopped_leading=lambda: log.append("stopped"),
        on_new_leader=lambda who: log.append(f"leader={who}"),
    )


def elector(lock, clock, identity, log=None, **cfg):
    return LeaderElector(
        lock,
        config=LeaderElectionConfig(identity=identity, **cfg),
        callbacks=callbacks(log),
        clock=clock,
    )


def test_defaults_match_client_go():
    cfg = LeaderElectionConfig(identity="a")
    assert (cfg.lease_duration, cfg.renew_deadline, cfg.retry_period) == (15.0, 10.0, 2.0)
    assert cfg.release_on_cancel


@pytest.mark.parametrize(
    "bad",
    [
        {"identity": ""},
        {"identity": "a", "lease_duration": 10, "renew_deadline": 10},
        {"identity": "a", "renew_deadline": 2.4, "retry_period": 2},
    ],
)
def test_invalid_timings_are_rejected(bad):
    with pytest.raises(ValueError):
        LeaderElectionConfig(**bad)


def test_first_candidate_creates_the_lease(clock):
    lock = MemoryLock()
    a = elector(lock, clock, "a")
    assert a.try_acquire_or_renew()
    assert a.is_leader()
    rec = lock.current.record
    assert (rec.holder_identity, rec.lease_duration_seconds, rec.lease_transitions) == ("a", 15, 0)
    assert rec.acquire_time == rec.renew_time == clock.now()


def test_renew_keeps_acquire_time_and_transitions(clock):
    lock = MemoryLock()
    a = elector(lock, clock, "a")
    a.try_acquire_or_renew()
    acquired = lock.current.record.acquire_time
    clock.advance(2)
    assert a.try_acquire_or_renew()
    rec = lock.current.record
    assert rec.acquire_time == acquired
    assert rec.renew_time == clock.now()
    assert rec.lease_transitions == 0


def test_other_candidate_waits_a_full_lease_from_its_own_observation(clock):
    lock = MemoryLock()
    a, b = elector(lock, clock, "a"), elector(lock, clock, "b")
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    assert b.leader() == "a"
    clock.advance(10)
    assert a.try_acquire_or_renew(), "a keeps renewing"
    assert not b.try_acquire_or_renew(), "b polls and sees the renewal"
    clock.advance(14)
    assert not b.try_acquire_or_renew(), "a renewed 14 s ago: still valid"
    clock.advance(1)  # a stopped renewing 15 s ago
    assert b.try_acquire_or_renew()
    rec = lock.current.record
    assert (rec.holder_identity, rec.lease_transitions) == ("b", 1)
    assert rec.acquire_time == clock.now()
    assert not a.try_acquire_or_renew(), "the old leader sees b's valid lease and backs off"
    assert a.leader() == "b"


def test_stale_update_conflicts_and_loses(clock):
    lock = MemoryLock()
    a, b = elector(lock, clock, "a"), elector(lock, clock, "b")
    a.try_acquire_or_renew()
    b.try_acquire_or_renew()
    clock.advance(16)

    def a_renews_in_between(lk):
        if lk.calls == 2:  # after b's get, before b's update
            lk.on_call = None
            assert a.try_acquire_or_renew()

    lock.calls = 0
    lock.on_call = a_renews_in_between
    assert not b.try_acquire_or_renew(), "b's update carried a stale resourceVersion"
    assert lock.current.record.holder_identity == "a"


def test_release_lets_another_candidate_take_over_at_once(clock):
    lock = MemoryLock()
    a, b = elector(lock, clock, "a"), elector(lock, clock, "b")
    a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    assert a.release()
    rec = lock.current.record
    assert (rec.holder_identity, rec.lease_duration_seconds, rec.lease_transitions) == ("", 1, 0)
    assert b.try_acquire_or_renew(), "no need to wait for expiry after a release"
    assert lock.current.record.lease_transitions == 1
    assert not a.release(), "only the holder releases"


def test_api_errors_are_a_failed_attempt_not_an_exception(clock):
    lock = MemoryLock()
    lock.broken = True
    assert not elector(lock, clock, "a").try_acquire_or_renew()


def test_run_loses_leadership_after_the_renew_deadline(clock):
    lock = MemoryLock()
    log: list[str] = []
    a = elector(lock, clock, "a", log)
    renewals = []

    def fail_after_three_renewals(lk):
        renewals.append(clock.monotonic())
        if len(renewals) == 6:  # 3 renewals = 6 calls (get + update) after the acquire
            lk.broken = True

    lock.on_call = fail_after_three_renewals
    started = clock.monotonic()
    a.run(threading.Event())
    assert log[0] == "leader=a" and log[-1] == "stopped"
    broke_at = renewals[5]
    lost_after = clock.monotonic() - broke_at
    # client-go: retries every retry period until renew_deadline (10 s) has passed.
    assert 10.0 <= lost_after <= 12.0
    assert renewals[2] - started == pytest.approx(2.0), "renews every retry period"
    assert not a.is_leader()


def test_run_releases_on_shutdown_and_ends_the_leading_work(clock):
    lock = MemoryLock()
    stop = threading.Event()
    ended_seen = threading.Event()
    stopped = []

    def work(ended: threading.Event) -> None:
        ended.wait(30)
        ended_seen.set()

    a = LeaderElector(
        lock,
        config=LeaderElectionConfig(identity="a"),
        callbacks=LeaderCallbacks(
            on_started_leading=work, on_stopped_leading=lambda: stopped.append(True)
        ),
        clock=clock,
    )

    def stop_after_some_renewals(lk):
        if lk.calls >= 7:
            stop.set()

    lock.on_call = stop_after_some_renewals
    a.run(stop)
    assert ended_seen.is_set(), "the leading work is told to end before release"
    assert stopped == [True]
    assert lock.current.record.holder_identity == ""
    assert lock.current.record.lease_duration_seconds == 1


def test_no_release_when_asked_not_to(clock):
    lock = MemoryLock()
    stop = threading.Event()
    a = elector(lock, clock, "a", release_on_cancel=False)
    lock.on_call = lambda lk: stop.set() if lk.calls >= 3 else None
    a.run(stop)
    assert lock.current.record.holder_identity == "a"


def test_run_returns_without_callbacks_when_stopped_before_acquiring(clock):
    lock = MemoryLock()
    lock.current = ObservedLease(
        record=dataclasses.replace(
            LeaseRecord("other", 15, clock.now(), clock.now(), 3), holder_identity="other"
        ),
        resource_version="1",
    )
    stop = threading.Event()
    log: list[str] = []
    lock.on_call = lambda lk: stop.set() if lk.calls >= 3 else None
    elector(lock, clock, "a", log).run(stop)
    assert "started" not in log and "stopped" not in log
    assert lock.current.record.holder_identity == "other"


def test_crashing_leader_work_gives_up_leadership(clock):
    lock = MemoryLock()
    stopped = []

    def work(ended):
        raise RuntimeError("controller blew up")

    a = LeaderElector(
        lock,
        config=LeaderElectionConfig(identity="a"),
        callbacks=LeaderCallbacks(
            on_started_leading=work, on_stopped_leading=lambda: stopped.append(True)
        ),
        clock=clock,
    )
    runner = threading.Thread(target=a.run, args=(threading.Event(),))
    runner.start()
    runner.join(30)
    assert not runner.is_alive()
    assert stopped == [True]
    assert lock.current.record.holder_identity == "", "released for the next candidate"


def test_default_identity_is_unique_per_process_start():
    from osk8s_core.k8s.leader import default_identity

    first, second = default_identity(), default_identity()
    assert first != second and "_" in first


def test_health_fails_when_the_leader_stops_renewing(clock):
    lock = MemoryLock()
    a, b = elector(lock, clock, "a"), elector(lock, clock, "b")
    assert b.healthy(), "a follower is always healthy"
    a.try_acquire_or_renew()
    clock.advance(30)
    assert a.healthy(tolerance=20)
    lock.broken = True
    assert not a.try_acquire_or_renew()
    clock.advance(6)  # 36 s since the last renewal > 15 + 20
    assert not a.healthy(tolerance=20)
