"""Informer rules against a scripted list/watch: diffing re-lists, 410, stream end, resync."""

from __future__ import annotations

import threading
import time

from osk8s_core.errors import KubernetesError
from osk8s_core.k8s.clock import SystemClock
from osk8s_core.k8s.informer import Handlers, Informer, InformerSettings


def cm(name, rv):
    return {
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": rv},
    }


class Stream:
    def __init__(self, events, hold):
        self.events = events
        self.hold = hold
        self.closed = threading.Event()

    def __iter__(self):
        for event in self.events:
            if isinstance(event, Exception):
                raise event
            yield event
        if self.hold:
            self.closed.wait(10)

    def close(self):
        self.closed.set()


class ScriptedListWatch:
    """Serves scripted lists and watches; the last watch stays open until closed."""

    def __init__(self, lists, watches):
        self.lists = list(lists)
        self.watches = list(watches)
        self.watched_from: list[str] = []
        self.list_calls = 0

    def list(self):
        self.list_calls += 1
        item = self.lists.pop(0) if len(self.lists) > 1 else self.lists[0]
        if isinstance(item, Exception):
            raise item
        return [dict(o) for o in item[0]], item[1]

    def watch(self, resource_version, timeout_seconds):
        self.watched_from.append(resource_version)
        events = self.watches.pop(0) if self.watches else []
        return Stream(events, hold=not self.watches)


def recorder():
    log: list[tuple[str, str, str]] = []
    handlers = Handlers(
        on_add=lambda o: log.append(
            ("add", o["metadata"]["name"], o["metadata"]["resourceVersion"])
        ),
        on_update=lambda old, new: log.append(
            ("update", new["metadata"]["name"], new["metadata"]["resourceVersion"])
        ),
        on_delete=lambda o: log.append(("delete", o["metadata"]["name"], "")),
    )
    return log, handlers


def run_until(informer, condition, timeout=30.0):
    stop = threading.Event()
    thread = informer.start(stop)
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    met = condition()
    stop.set()
    thread.join(30)
    assert not thread.is_alive(), "informer must stop promptly, even inside a watch"
    return met


FAST = InformerSettings(backoff_initial=0.01, backoff_cap=0.02, min_watch_duration=0.0)


def test_watch_events_then_410_relist_converge():
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}
    lw = ScriptedListWatch(
        lists=[
            ([cm("a", "1"), cm("b", "2")], "10"),
            ([cm("a", "11"), cm("c", "13"), cm("d", "20")], "20"),
        ],
        watches=[
            [
                {"type": "MODIFIED", "object": cm("a", "11")},
                {"type": "DELETED", "object": cm("b", "12")},
                {"type": "ADDED", "object": cm("c", "13")},
                {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "15"}}},
                gone,
            ],
            [],
        ],
    )
    log, handlers = recorder()
    informer = Informer(lw, name="cm", clock=SystemClock(), settings=FAST)
    informer.add_handlers(handlers)
    assert run_until(informer, lambda: len(lw.watched_from) == 2)
    assert lw.watched_from == ["10", "20"]
    assert informer.list_count == 2
    assert sorted(log[:2]) == [("add", "a", "1"), ("add", "b", "2")]
    assert log[2:] == [
        ("update", "a", "11"),
        ("delete", "b", ""),
        ("add", "c", "13"),
        ("add", "d", "20"),  # only the difference is announced after the re-list
    ]
    assert sorted(informer.store.keys()) == ["ns/a", "ns/c", "ns/d"]
    assert informer.has_synced()


def test_relist_after_stream_end_finds_missed_deletes():
    lw = ScriptedListWatch(
        lists=[([cm("a", "1"), cm("b", "2")], "10"), ([cm("a", "1")], "30")],
        watches=[[], []],  # the first watch ends with no events
    )
    log, handlers = recorder()
    informer = Informer(lw, name="cm", clock=SystemClock(), settings=FAST)
    informer.add_handlers(handlers)
    assert run_until(informer, lambda: len(lw.watched_from) == 2)
    assert ("delete", "b", "") in log
    assert informer.store.keys() == ["ns/a"]


def test_list_failures_back_off_and_retry():
    failing = KubernetesError("boom", status=500)
    lw = ScriptedListWatch(lists=[failing, failing, ([cm("a", "1")], "5")], watches=[[]])
    informer = Informer(lw, name="cm", clock=SystemClock(), settings=FAST)
    assert run_until(informer, informer.has_synced)
    assert lw.list_calls == 3
    assert informer.store.keys() == ["ns/a"]


def test_resync_reannounces_cached_objects_as_updates():
    lw = ScriptedListWatch(lists=[([cm("a", "1")], "5")], watches=[[]])
    log, handlers = recorder()
    settings = InformerSettings(resync_period=0.02, min_watch_duration=0.0)
    informer = Informer(lw, name="cm", clock=SystemClock(), settings=settings)
    informer.add_handlers(handlers)
    assert run_until(informer, lambda: log.count(("update", "a", "1")) >= 2)
    assert lw.list_calls == 1, "resync comes from the cache, not a new list"


def test_a_failing_handler_does_not_stop_the_informer():
    lw = ScriptedListWatch(lists=[([cm("a", "1"), cm("b", "1")], "5")], watches=[[]])
    seen = []

    def explode(obj):
        raise RuntimeError("handler bug")

    informer = Informer(lw, name="cm", clock=SystemClock(), settings=FAST)
    informer.add_handlers(Handlers(on_add=explode))
    informer.add_handlers(Handlers(on_add=lambda o: seen.append(o["metadata"]["name"])))
    assert run_until(informer, lambda: len(seen) == 2)


class RecordingClock(SystemClock):
    def __init__(self):
        self.waits: list[float] = []

    def wait(self, stop, seconds):
        if seconds < 1000:  # the resync thread's idle wait is not a backoff
            self.waits.append(seconds)
        return super().wait(stop, seconds)


def test_repeated_410_backs_off_instead_of_spinning():
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}
    lw = ScriptedListWatch(lists=[([cm("a", "1")], "5")], watches=[[gone]] * 4 + [[]])
    clock = RecordingClock()
    settings = InformerSettings(backoff_initial=0.01, backoff_cap=0.02, min_watch_duration=0.0)
    informer = Informer(lw, name="cm", clock=clock, settings=settings)
    assert run_until(informer, lambda: len(lw.watched_from) == 5)
    assert lw.list_calls == 5
    assert clock.waits[:3] == [0.01, 0.02, 0.02], "the first 410 re-lists at once, then backoff"
