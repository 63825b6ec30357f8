"""The serving loop's informers on the in-memory API server (no OpenStack): an IngressClass
that appears after a class-less Ingress, or becomes default later, queues that Ingress at once
(beyond CPO, which has no IngressClass support), and the reconciler then finds it ours.

The reconciler is a small recording fake of the narrow ``Syncer`` interface; selection runs
the real ``is_ours`` on the classes the API server holds at the time of the sync.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes.client import NetworkingV1Api

from osk8s_core.k8s.clock import SystemClock
from osk8s_core.logging import get_logger
from osk8s_octavia_ingress.app import _serve
from osk8s_octavia_ingress.kube import ApiKubeView
from osk8s_octavia_ingress.selection import CONTROLLER_NAME, DEFAULT_CLASS_ANNOTATION, is_ours
from osk8s_testing.kubeapi.server import KubeApiServer


class RecordingSyncer:
    """Records each synced key with whether selection would take it then."""

    def __init__(self, view: ApiKubeView) -> None:
        self._view = view
        self.synced: list[tuple[str, bool]] = []
        self._lock = threading.Lock()
        self.member_syncs = 0

    def sync(self, key: str) -> object:
        namespace, name = key.split("/", 1)
        ingress = self._view.ingress(namespace, name)
        ours = ingress is not None and is_ours(ingress, self._view.ingress_classes())
        with self._lock:
            self.synced.append((key, ours))
        return None

    def remember(self, ingress: Any) -> None:
        del ingress

    def sync_members(self) -> int:
        with self._lock:
            self.member_syncs += 1
            rounds = self.member_syncs
        if rounds == 1:
            raise RuntimeError("the first node sync fails")  # the loop must go on
        return 0

    def seen(self) -> list[tuple[str, bool]]:
        with self._lock:
            return list(self.synced)


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def served() -> Iterator[tuple[Any, RecordingSyncer]]:
    server = KubeApiServer().start()
    client = server.api_client()
    syncer = RecordingSyncer(ApiKubeView(client))
    stop = threading.Event()
    thread = threading.Thread(
        target=_serve,
        args=(syncer, client),
        kwargs={
            "clock": SystemClock(),
            "stop": stop,
            "log": get_logger("test.ingress"),
            "node_sync_seconds": 0.1,
        },
        daemon=True,
    )
    thread.start()
    try:
        yield NetworkingV1Api(client), syncer
    finally:
        stop.set()
        thread.join(timeout=10)
        client.close()
        server.stop()


def _ingress(name: str, **metadata: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, **metadata},
        "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}},
    }


def test_an_ingress_class_change_queues_class_less_ingresses(
    served: tuple[Any, RecordingSyncer],
) -> None:
    net, syncer = served
    net.create_namespaced_ingress("default", _ingress("plain"))
    legacy = {"kubernetes.io/ingress.class": "nginx"}
    net.create_namespaced_ingress("default", _ingress("other", annotations=legacy))
    wait_for(lambda: {k for k, _ in syncer.seen()} == {"default/plain", "default/other"})
    assert set(syncer.seen()) == {("default/plain", False), ("default/other", False)}

    # A class of ours created after the Ingress, not yet default: queued, still not ours.
    net.create_ingress_class(
        {"metadata": {"name": "octavia"}, "spec": {"controller": CONTROLLER_NAME}}
    )
    wait_for(lambda: len(syncer.seen()) >= 3)
    # The class becomes default: the class-less Ingress is queued again and now ours.
    net.patch_ingress_class(
        "octavia", {"metadata": {"annotations": {DEFAULT_CLASS_ANNOTATION: "true"}}}
    )
    wait_for(lambda: ("default/plain", True) in syncer.seen())
    # The annotation decides "other" (not ours): a class change never queues it.
    assert [k for k, _ in syncer.seen()].count("default/other") == 1
    # And the class deleted: queued again, no longer ours (its LB would be removed).
    net.delete_ingress_class("octavia")
    wait_for(lambda: syncer.seen()[-1] == ("default/plain", False))


def test_the_node_sync_runs_periodically_and_outlives_a_failed_round(
    served: tuple[Any, RecordingSyncer],
) -> None:
    """The 60 s loop (0.1 s here) calls sync_members again and again; the first round's
    error is logged and the next round still comes."""
    _, syncer = served
    wait_for(lambda: syncer.member_syncs >= 3)
