"""Event recorder: event shape, count-bump de-duplication, best-effort failures."""

from __future__ import annotations

from osk8s_core.errors import KubernetesError, KubernetesNotFound
from osk8s_core.k8s.events import MAX_MESSAGE, EventRecorder, ObjectRef


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
