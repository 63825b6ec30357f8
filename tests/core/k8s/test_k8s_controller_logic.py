"""Controller step logic: success forgets, failures back off, Requeue, retry limit."""

from __future__ import annotations

from osk8s_core.k8s.controller import Controller, ControllerSettings, Requeue
from osk8s_core.k8s.queue import WorkQueue
from osk8s_core.k8s.ratelimit import ItemBackoff


class Reconciler:
    def __init__(self, script):
        self.script = list(script)
        self.calls: list[str] = []

    def __call__(self, key):
        self.calls.append(key)
        outcome = self.script.pop(0) if self.script else None
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def make(clock, script, **settings):
    reconcile = Reconciler(script)
    queue = WorkQueue(clock=clock, backoff=ItemBackoff(base=1.0, cap=60.0))
    ctl = Controller(
        name="test", reconcile=reconcile, queue=queue, settings=ControllerSettings(**settings)
    )
    return ctl, reconcile, queue


def test_failures_are_retried_with_backoff_then_forgotten_on_success(clock):
    ctl, rec, queue = make(clock, [RuntimeError("a"), RuntimeError("b"), None])
    ctl.enqueue({"metadata": {"name": "x", "namespace": "ns"}})
    assert ctl.process_next(0)
    assert not ctl.process_next(0), "the failed key waits for its backoff"
    clock.advance(1.0)
    assert ctl.process_next(0)
    clock.advance(1.9)
    assert not ctl.process_next(0)
    clock.advance(0.1)
    assert ctl.process_next(0)
    assert rec.calls == ["ns/x"] * 3
    assert queue.num_requeues("ns/x") == 0, "success forgets the failures"
    clock.advance(100)
    assert not ctl.process_next(0)


def test_requeue_after_schedules_without_counting_a_failure(clock):
    ctl, _rec, queue = make(clock, [Requeue(after=15.0), None])
    queue.add("k")
    ctl.process_next(0)
    clock.advance(14.9)
    assert not ctl.process_next(0)
    clock.advance(0.1)
    assert ctl.process_next(0)
    assert queue.num_requeues("k") == 0


def test_requeue_without_delay_uses_the_backoff(clock):
    ctl, _rec, queue = make(clock, [Requeue(), None])
    queue.add("k")
    ctl.process_next(0)
    assert queue.num_requeues("k") == 1
    clock.advance(1.0)
    assert ctl.process_next(0)


def test_key_is_dropped_after_max_retries(clock):
    ctl, rec, queue = make(clock, [RuntimeError()] * 10, max_retries=2)
    queue.add("k")
    for _ in range(3):
        clock.advance(60)
        ctl.process_next(0)
    clock.advance(600)
    assert not ctl.process_next(0)
    assert len(rec.calls) == 3
    assert queue.num_requeues("k") == 0


def test_process_next_is_false_after_shutdown(clock):
    ctl, _, queue = make(clock, [])
    queue.add("k")
    queue.shut_down()
    assert not ctl.process_next()
