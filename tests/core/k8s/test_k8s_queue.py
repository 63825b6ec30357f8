"""Work queue: de-duplication, hold-while-processing, delays and per-key backoff."""

from __future__ import annotations

import threading

from osk8s_core.k8s.clock import SystemClock
from osk8s_core.k8s.queue import WorkQueue
from osk8s_core.k8s.ratelimit import ItemBackoff


def test_adding_a_queued_key_again_is_a_no_op(clock):
    q = WorkQueue(clock=clock)
    q.add("ns/a")
    q.add("ns/b")
    q.add("ns/a")
    assert len(q) == 2
    assert [q.get(0), q.get(0), q.get(0)] == ["ns/a", "ns/b", None]


def test_key_added_while_processing_is_requeued_once_after_done(clock):
    q = WorkQueue(clock=clock)
    q.add("k")
    assert q.get(0) == "k"
    q.add("k")
    q.add("k")
    assert q.get(0) is None, "a key held by a worker must not go to a second worker"
    q.done("k")
    assert q.get(0) == "k"
    q.done("k")
    assert q.get(0) is None


def test_done_without_re_add_does_not_requeue(clock):
    q = WorkQueue(clock=clock)
    q.add("k")
    q.get(0)
    q.done("k")
    assert len(q) == 0


def test_add_after_waits_for_the_delay(clock):
    q = WorkQueue(clock=clock)
    q.add_after("k", 5.0)
    assert q.get(0) is None
    clock.advance(4.9)
    assert q.get(0) is None
    clock.advance(0.2)
    assert q.get(0) == "k"


def test_add_after_keeps_the_earliest_due_time(clock):
    q = WorkQueue(clock=clock)
    q.add_after("k", 10.0)
    q.add_after("k", 2.0)
    q.add_after("k", 30.0)
    clock.advance(2.0)
    assert q.get(0) == "k"
    q.done("k")
    clock.advance(30.0)
    assert q.get(0) is None, "the superseded due times must not fire again"


def test_delayed_key_already_queued_is_not_duplicated(clock):
    q = WorkQueue(clock=clock)
    q.add("k")
    q.add_after("k", 1.0)
    clock.advance(1.0)
    assert q.get(0) == "k"
    assert q.get(0) is None


def test_rate_limited_requeue_backs_off_exponentially_with_a_cap(clock):
    q = WorkQueue(clock=clock, backoff=ItemBackoff(base=1.0, cap=8.0))
    delays = []
    for _ in range(6):
        q.add_rate_limited("k")
        waited = 0.0
        while (key := q.get(0)) is None:
            clock.advance(0.5)
            waited += 0.5
        q.done(key)
        delays.append(waited)
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert q.num_requeues("k") == 6


def test_forget_resets_the_backoff(clock):
    q = WorkQueue(clock=clock, backoff=ItemBackoff(base=1.0, cap=100.0))
    for _ in range(3):
        q.add_rate_limited("k")
    q.forget("k")
    assert q.num_requeues("k") == 0
    q.add_rate_limited("other")
    q.add_rate_limited("k")
    clock.advance(1.0)
    assert {q.get(0), q.get(0)} == {"k", "other"}


def test_shutdown_wakes_blocked_getters_and_ignores_new_keys():
    q = WorkQueue(clock=SystemClock())
    results: list[str | None] = []
    getters = [threading.Thread(target=lambda: results.append(q.get())) for _ in range(2)]
    for t in getters:
        t.start()
    q.shut_down()
    for t in getters:
        t.join(30)
        assert not t.is_alive()
    assert results == [None, None]
    q.add("k")
    q.add_after("k", 0.01)
    assert q.get(0) is None
    assert q.shutting_down


def test_blocked_get_receives_a_key_added_from_another_thread():
    q = WorkQueue(clock=SystemClock())
    got: list[str | None] = []
    t = threading.Thread(target=lambda: got.append(q.get(timeout=30)))
    t.start()
    q.add("k")
    t.join(30)
    assert got == ["k"]


def test_blocked_get_wakes_for_a_delayed_key():
    q = WorkQueue(clock=SystemClock())
    got: list[str | None] = []
    t = threading.Thread(target=lambda: got.append(q.get(timeout=30)))
    t.start()
    q.add_after("k", 0.05)
    t.join(30)
    assert got == ["k"]


def test_get_timeout_returns_none_when_empty():
    q = WorkQueue(clock=SystemClock())
    assert q.get(timeout=0.01) is None
    assert not q.shutting_down
