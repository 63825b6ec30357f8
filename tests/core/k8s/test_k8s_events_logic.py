"""Event recorder: event shape, count-bump de-duplication, best-effort failures."""

from __future__ import annotations

from osk8s_core.errors import KubernetesError, KubernetesNotFound
from osk8s_core.k8s.events import MAX_MESSAGE, RETELL_AFTER, EventRecorder, ObjectRef


class FakeEventApi:
    """Records calls; ``fail`` raises on every call; ``lose`` makes patches 404."""

    def __init__(self) -> None:
        self.created = []
        self.patched = []
        self.fail = False
        self.lose = False

    def create_namespaced_event(self, namespace, body):
        if self.fail:
            raise KubernetesError("down", status=503)
        self.created.append((namespace, body))
        return body

    def patch_namespaced_event(self, name, namespace, body):
        if self.lose:
            raise KubernetesNotFound("gone", status=404)
        self.patched.append((name, namespace, body))
        return body


SVC = ObjectRef(kind="Service", name="web", namespace="shop", uid="u-1", api_version="v1")


def test_first_event_has_the_client_go_shape(clock):
    api = FakeEventApi()
    rec = EventRecorder(api, component="cloud-provider-openstack", host="node-1", clock=clock)
    rec.warning(SVC, "LoadBalancerForcedInternal", "no floating network")
    namespace, ev = api.created[0]
    assert namespace == "shop"
    assert ev.metadata.name.startswith("web.")
    assert (ev.type, ev.reason, ev.count) == ("Warning", "LoadBalancerForcedInternal", 1)
    assert ev.involved_object.kind == "Service" and ev.involved_object.uid == "u-1"
    assert ev.source.component == "cloud-provider-openstack" and ev.source.host == "node-1"
    assert ev.first_timestamp == ev.last_timestamp == clock.now()


def test_repeats_bump_the_count_instead_of_creating(clock):
    api = FakeEventApi()
    rec = EventRecorder(api, component="c", clock=clock)
    for _ in range(3):
        clock.advance(1)
        rec.normal(SVC, "Synced", "ok")
    rec.normal(SVC, "Synced", "different message")
    assert len(api.created) == 2
    name = api.created[0][1].metadata.name
    assert [(n, body["count"]) for n, _, body in api.patched] == [(name, 2), (name, 3)]
    assert api.patched[-1][2]["lastTimestamp"] == api.created[1][1].last_timestamp.isoformat()


def test_a_vanished_event_is_created_again(clock):
    api = FakeEventApi()
    rec = EventRecorder(api, component="c", clock=clock)
    rec.normal(SVC, "Synced", "ok")
    api.lose = True
    clock.advance(1)
    rec.normal(SVC, "Synced", "ok")
    assert len(api.created) == 2


def test_failures_are_swallowed_and_messages_truncated(clock):
    api = FakeEventApi()
    rec = EventRecorder(api, component="c", clock=clock)
    api.fail = True
    rec.normal(SVC, "Synced", "ok")  # must not raise into the reconcile
    api.fail = False
    rec.normal(SVC, "Long", "x" * 5000)
    assert len(api.created[0][1].message) == MAX_MESSAGE


def test_cluster_scoped_objects_get_events_in_default(clock):
    api = FakeEventApi()
    rec = EventRecorder(api, component="c", clock=clock)
    node = {"kind": "Node", "apiVersion": "v1", "metadata": {"name": "n1", "uid": "u"}}
    rec.normal(ObjectRef.of(node), "Ready", "node ok")
    assert api.created[0][0] == "default"
    assert api.created[0][1].involved_object.namespace is None


# --- event_once: a finding every reconcile makes again ------------------------------------


def test_event_once_is_quiet_within_the_window_and_tells_again_after_it(clock):
    """kube-apiserver expires Events after --event-ttl (1 h): a warning still true must be
    written again before that, while idle reconciles in between write nothing."""
    api = FakeEventApi()
    rec = EventRecorder(api, component="c", clock=clock)
    assert rec.event_once(SVC, "Warning", "Invalid", "bad entry") is True
    for _ in range(29):
        clock.advance(60)
        assert rec.event_once(SVC, "Warning", "Invalid", "bad entry") is False
    assert (len(api.created), api.patched) == (1, [])  # 29 minutes of passes: no API call
    clock.advance(60)
    assert RETELL_AFTER == 30 * 60 < 3600  # told again well inside the default event TTL
    assert rec.event_once(SVC, "Warning", "Invalid", "bad entry") is True
    name = api.created[0][1].metadata.name
    assert [(n, body["count"]) for n, _, body in api.patched] == [(name, 2)]
    assert api.patched[0][2]["lastTimestamp"] == clock.now().isoformat()
    # the window starts again from that write
    clock.advance(RETELL_AFTER - 1)
    assert rec.event_once(SVC, "Warning", "Invalid", "bad entry") is False
    assert len(api.patched) == 1


def test_event_once_after_the_event_expired_creates_it_again(clock):
    api = FakeEventApi()
    rec = EventRecorder(api, component="c", clock=clock)
    rec.event_once(SVC, "Warning", "Invalid", "bad entry")
    clock.advance(2 * 3600)
    api.lose = True  # the API server dropped it (event TTL)
    assert rec.event_once(SVC, "Warning", "Invalid", "bad entry") is True
    assert len(api.created) == 2 and api.created[1][1].count == 1


def test_event_once_reports_a_failed_write_and_tries_again_next_pass(clock):
    api = FakeEventApi()
    rec = EventRecorder(api, component="c", clock=clock)
    api.fail = True
    assert rec.event_once(SVC, "Warning", "Invalid", "bad entry") is False
    assert api.created == []
    api.fail = False
    clock.advance(1)  # the next reconcile, well within the window
    assert rec.event_once(SVC, "Warning", "Invalid", "bad entry") is True
    assert len(api.created) == 1


def test_event_once_reports_a_failed_count_bump(clock):
    class Refusing(FakeEventApi):
        def patch_namespaced_event(self, name, namespace, body):
            raise KubernetesError("down", status=503)

    api = Refusing()
    rec = EventRecorder(api, component="c", clock=clock)
    assert rec.event_once(SVC, "Warning", "Invalid", "bad entry") is True
    clock.advance(RETELL_AFTER)
    assert rec.event_once(SVC, "Warning", "Invalid", "bad entry") is False  # patch refused
    assert len(api.created) == 1
