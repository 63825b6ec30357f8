"""events.k8s.io/v1 and core/v1 Events share storage with field conversion, as upstream."""

from __future__ import annotations

from kubernetes import client


def test_events_api_and_core_api_see_the_same_event(api_client: client.ApiClient) -> None:
    events = client.EventsV1Api(api_client)
    core = client.CoreV1Api(api_client)
    created = events.create_namespaced_event(
        "default",
        {
            "metadata": {"name": "n1.abc"},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "osk8s/ccm",
            "reportingInstance": "ccm-1",
            "action": "Sync",
            "reason": "LoadBalancerReady",
            "type": "Normal",
            "note": "ready",
            "regarding": {"kind": "Service", "namespace": "default", "name": "svc"},
        },
    )
    assert created.note == "ready"
    legacy = core.read_namespaced_event("n1.abc", "default")
    assert legacy.message == "ready"
    assert legacy.involved_object.name == "svc"
    assert legacy.reporting_component == "osk8s/ccm"
    core.patch_namespaced_event("n1.abc", "default", {"message": "still ready"})
    assert events.read_namespaced_event("n1.abc", "default").note == "still ready"
    listed = events.list_namespaced_event("default", field_selector="regarding.name=svc")
    assert [e.metadata.name for e in listed.items] == ["n1.abc"]
