"""Informer, controller and events against the in-memory API server (real kubernetes client)."""

from __future__ import annotations

import threading
import time

import pytest
from kubernetes.client import CoreV1Api, V1ConfigMap, V1ObjectMeta

from osk8s_core.k8s.clock import SystemClock
from osk8s_core.k8s.controller import Controller, ControllerSettings
from osk8s_core.k8s.events import EventRecorder, ObjectRef
from osk8s_core.k8s.informer import Handlers, Informer, InformerSettings
from osk8s_core.k8s.listwatch import ApiListWatch
from osk8s_core.k8s.queue import WorkQueue

NS = "default"


@pytest.fixture
def core(kube_api):
    client = kube_api.api_client()
    yield CoreV1Api(client)
    client.close()


def put(core, name, value):
    body = V1ConfigMap(metadata=V1ObjectMeta(name=name, namespace=NS), data={"v": value})
    try:
        existing = core.read_namespaced_config_map(name, NS)
    except Exception:
        return core.create_namespaced_config_map(NS, body)
    existing.data = {"v": value}
    return core.replace_namespaced_config_map(name, NS, existing)


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def values(informer):
    return {o["metadata"]["name"]: o["data"]["v"] for o in informer.store.objects()}


class Running:
    def __init__(self, informer):
        self.stop = threading.Event()
        self.thread = informer.start(self.stop)

    def close(self):
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "informer must stop promptly"


def make_informer(core, lw=None, **settings):
    lw = lw or ApiListWatch(core.list_namespaced_config_map, description="configmaps", namespace=NS)
    return Informer(lw, name="cm", clock=SystemClock(), settings=InformerSettings(**settings))


def test_informer_sees_adds_updates_and_deletes(core):
    put(core, "pre", "0")
    informer = make_informer(core)
    seen: list[tuple[str, str]] = []
    informer.add_handlers(
        Handlers(
            on_add=lambda o: seen.append(("add", o["metadata"]["name"])),
            on_update=lambda old, new: seen.append(("update", new["data"]["v"])),
            on_delete=lambda o: seen.append(("delete", o["metadata"]["name"])),
        )
    )
    running = Running(informer)
    try:
        assert informer.wait_for_sync(10)
        assert values(informer) == {"pre": "0"}
        put(core, "a", "1")
        put(core, "a", "2")
        core.delete_namespaced_config_map("pre", NS)
        assert wait_for(lambda: values(informer) == {"a": "2"})
        assert seen == [("add", "pre"), ("add", "a"), ("update", "2"), ("delete", "pre")]
        cached = informer.store.get(f"{NS}/a")
        assert cached["kind"] == "ConfigMap" and cached["apiVersion"] == "v1"
    finally:
        running.close()
    assert informer.list_count == 1, "no re-list needed while the watch is healthy"


class CompactBeforeFirstWatch:
    """Wraps the real list/watch: between the first list and its watch, history is lost."""

    def __init__(self, inner, on_gap):
        self.inner = inner
        self.on_gap = on_gap
        self.watched_from: list[str] = []
        self.errors: list[int] = []

    def list(self):
        return self.inner.list()

    def watch(self, resource_version, timeout_seconds):
        if not self.watched_from:
            self.on_gap()
        self.watched_from.append(resource_version)
        return RecordingStream(self.inner.watch(resource_version, timeout_seconds), self.errors)


class RecordingStream:
    def __init__(self, inner, errors):
        self.inner = inner
        self.errors = errors

    def __iter__(self):
        for event in self.inner:
            if event.get("type") == "ERROR":
                self.errors.append(event["object"].get("code"))
            yield event

    def close(self):
        self.inner.close()


@pytest.mark.parametrize("history", ["compacted", "overflowed"])
def test_informer_relists_after_410_and_converges(kube_api_factory, history):
    # "compacted": the server forgets all history; "overflowed": a 3-event history overflows.
    server = kube_api_factory(history_limit=3 if history == "overflowed" else 5000)
    client = server.api_client()
    core = CoreV1Api(client)
    put(core, "keep", "0")
    put(core, "drop", "0")

    def changes_in_the_gap():
        put(core, "keep", "1")
        core.delete_namespaced_config_map("drop", NS)
        for i in range(4):
            put(core, "new", str(i))
        if history == "compacted":
            server.store.compact()

    inner = ApiListWatch(core.list_namespaced_config_map, description="configmaps", namespace=NS)
    lw = CompactBeforeFirstWatch(inner, changes_in_the_gap)
    informer = make_informer(core, lw)
    deleted: list[str] = []
    informer.add_handlers(Handlers(on_delete=lambda o: deleted.append(o["metadata"]["name"])))
    running = Running(informer)
    try:
        assert wait_for(lambda: len(lw.watched_from) >= 2)
        assert wait_for(lambda: values(informer) == {"keep": "1", "new": "3"})
    finally:
        running.close()
        client.close()
    assert lw.errors == [410], "the server answered the first watch with 410 Gone"
    assert informer.list_count == 2, "the 410 made the informer list again"
    assert int(lw.watched_from[1]) > int(lw.watched_from[0])
    assert deleted == ["drop"]


def test_informer_relists_when_the_watch_stream_ends(core):
    informer = make_informer(core, watch_timeout=(1, 1), min_watch_duration=0.0)
    running = Running(informer)
    try:
        assert informer.wait_for_sync(10)
        put(core, "x", "1")
        assert wait_for(lambda: informer.list_count >= 2)
        assert wait_for(lambda: values(informer).get("x") == "1")
    finally:
        running.close()


def test_controller_reconciles_each_changed_object(core):
    reconciled: list[str] = []
    informer = make_informer(core)

    def reconcile(key: str) -> None:
        _namespace, _, name = key.partition("/")
        obj = informer.store.get(key)
        reconciled.append(f"{name}={obj['data']['v'] if obj else 'gone'}")

    queue = WorkQueue(clock=SystemClock())
    controller = Controller(
        name="cm",
        reconcile=reconcile,
        queue=queue,
        informers=[informer],
        settings=ControllerSettings(workers=2),
    )
    informer.add_handlers(controller.handlers())
    stop = threading.Event()
    thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    thread.start()
    try:
        put(core, "c1", "1")
        put(core, "c2", "1")
        assert wait_for(lambda: {"c1=1", "c2=1"} <= set(reconciled))
        core.delete_namespaced_config_map("c1", NS)
        assert wait_for(lambda: "c1=gone" in reconciled)
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()


def test_events_are_recorded_and_deduplicated(core):
    cm = put(core, "evt", "1")
    recorder = EventRecorder(core, component="osk8s-test", host="node-1", clock=SystemClock())
    ref = ObjectRef(kind="ConfigMap", name="evt", namespace=NS, uid=cm.metadata.uid or "")
    for _ in range(3):
        recorder.warning(ref, "SomethingOdd", "it happened")
    recorder.normal(ref, "Fine", "all good")
    events = core.list_namespaced_event(NS).items
    mine = {e.reason: e for e in events if e.involved_object.name == "evt"}
    assert set(mine) == {"SomethingOdd", "Fine"}
    odd = mine["SomethingOdd"]
    assert (odd.count, odd.type, odd.message) == (3, "Warning", "it happened")
    assert odd.source.component == "osk8s-test"
    assert odd.last_timestamp >= odd.first_timestamp
    assert mine["Fine"].count == 1


GROUP = "example.osk8s.io"


def test_informer_works_on_custom_resources(kube_api):
    from kubernetes.client import ApiextensionsV1Api, CustomObjectsApi

    client = kube_api.api_client()
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    ApiextensionsV1Api(client).create_custom_resource_definition(crd)
    custom = CustomObjectsApi(client)
    lw = ApiListWatch(
        custom.list_namespaced_custom_object,
        description="widgets",
        group=GROUP,
        version="v1",
        namespace=NS,
        plural="widgets",
    )
    informer = Informer(lw, name="widgets", clock=SystemClock())
    running = Running(informer)
    try:
        assert informer.wait_for_sync(10)
        body = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w1"}}
        custom.create_namespaced_custom_object(GROUP, "v1", NS, "widgets", body)
        assert wait_for(lambda: informer.store.get(f"{NS}/w1") is not None)
        assert informer.store.get(f"{NS}/w1")["kind"] == "Widget"
    finally:
        running.close()
