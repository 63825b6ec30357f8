"""Watch and list-at-version behaviour through ``kubernetes.watch.Watch``."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests
from kubernetes import client, watch

from osk8s_testing.kubeapi import KubeApiServer
from osk8s_testing.kubeapi.fixtures import KubeApiFactory


def _events(stream: Any, count: int) -> list[dict[str, Any]]:
    out = []
    for event in stream:
        out.append(event)
        if len(out) == count:
            break
    return out


def test_watch_from_resource_version_sees_later_changes(core: client.CoreV1Api) -> None:
    first = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    core.patch_namespaced_config_map("a", "default", {"data": {"k": "v"}})
    core.delete_namespaced_config_map("a", "default")
    w = watch.Watch()
    stream = w.stream(
        core.list_namespaced_config_map,
        "default",
        resource_version=first.metadata.resource_version,
        timeout_seconds=30,
    )
    events = _events(stream, 2)
    w.stop()
    assert [e["type"] for e in events] == ["MODIFIED", "DELETED"]
    assert events[0]["object"].data == {"k": "v"}
    # the DELETED object carries the deletion's own resourceVersion
    assert int(events[1]["object"].metadata.resource_version) > int(
        events[0]["object"].metadata.resource_version
    )


def test_watch_without_version_starts_with_current_state(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    core.create_namespaced_config_map("kube-system", {"metadata": {"name": "other-ns"}})
    w = watch.Watch()
    seen: list[tuple[str, str]] = []

    def writer() -> None:
        time.sleep(0.2)
        core.create_namespaced_config_map("default", {"metadata": {"name": "b"}})

    thread = threading.Thread(target=writer)
    thread.start()
    for event in w.stream(core.list_namespaced_config_map, "default", timeout_seconds=30):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 2:
            w.stop()
    thread.join()
    assert seen == [("ADDED", "a"), ("ADDED", "b")]


def test_watch_timeout_ends_stream(core: client.CoreV1Api) -> None:
    start = time.monotonic()
    events = list(
        watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=1)
    )
    assert events == []
    assert 0.9 <= time.monotonic() - start < 10  # ended by the server at ~1 s; slack for load


def test_bookmarks_carry_latest_version(kube_api_factory: KubeApiFactory) -> None:
    server = kube_api_factory(bookmark_interval=0.2)
    core = client.CoreV1Api(server.api_client())
    core.create_namespaced_config_map("kube-system", {"metadata": {"name": "elsewhere"}})
    head = server.store.resource_version
    w = watch.Watch()
    bookmark = None
    for event in w.stream(
        core.list_namespaced_config_map,
        "default",
        resource_version="1",
        allow_watch_bookmarks=True,
        timeout_seconds=30,
    ):
        if event["type"] == "BOOKMARK":
            bookmark = event["raw_object"]
            w.stop()
    assert bookmark is not None
    assert bookmark["kind"] == "ConfigMap"
    assert bookmark["metadata"]["resourceVersion"] == str(head)
    assert w.resource_version == str(head)


def test_too_old_version_gives_410(kube_api_factory: KubeApiFactory) -> None:
    server = kube_api_factory(history_limit=3)
    core = client.CoreV1Api(server.api_client())
    old = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    for i in range(5):
        core.patch_namespaced_config_map("a", "default", {"data": {"i": str(i)}})
    with pytest.raises(client.ApiException) as exc:
        list(
            watch.Watch().stream(
                core.list_namespaced_config_map,
                "default",
                resource_version=old.metadata.resource_version,
                timeout_seconds=2,
            )
        )
    assert exc.value.status == 410


def test_410_arrives_as_error_event_in_a_200_stream(kube_api: KubeApiServer) -> None:
    kube_api.store.compact()
    response = requests.get(
        f"{kube_api.url}/api/v1/namespaces/default/configmaps",
        params={"watch": "true", "resourceVersion": "1", "timeoutSeconds": "2"},
        stream=True,
        timeout=30,
    )
    assert response.status_code == 200
    line = next(response.iter_lines())
    response.close()
    import json

    event = json.loads(line)
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410
    assert event["object"]["reason"] == "Expired"


def test_relist_after_410_then_watch_continues(
    kube_api: KubeApiServer, core: client.CoreV1Api
) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    kube_api.store.compact()
    listed = core.list_namespaced_config_map("default")
    core.create_namespaced_config_map("default", {"metadata": {"name": "b"}})
    w = watch.Watch()
    events = _events(
        w.stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=listed.metadata.resource_version,
            timeout_seconds=30,
        ),
        1,
    )
    w.stop()
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "b")]


def test_selector_transitions_become_added_and_deleted(core: client.CoreV1Api) -> None:
    start = core.create_namespaced_config_map(
        "default", {"metadata": {"name": "a", "labels": {"app": "x"}}}
    )
    core.patch_namespaced_config_map("a", "default", {"metadata": {"labels": {"app": "y"}}})
    core.patch_namespaced_config_map("a", "default", {"metadata": {"labels": {"app": "x"}}})
    w = watch.Watch()
    events = _events(
        w.stream(
            core.list_namespaced_config_map,
            "default",
            label_selector="app=x",
            resource_version=start.metadata.resource_version,
            timeout_seconds=30,
        ),
        2,
    )
    w.stop()
    assert [e["type"] for e in events] == ["DELETED", "ADDED"]


def test_send_initial_events_ends_with_marked_bookmark(kube_api: KubeApiServer) -> None:
    core = client.CoreV1Api(kube_api.api_client())
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    response = requests.get(
        f"{kube_api.url}/api/v1/namespaces/default/configmaps",
        params={
            "watch": "1",
            "sendInitialEvents": "true",
            "allowWatchBookmarks": "true",
            "resourceVersionMatch": "NotOlderThan",
            "timeoutSeconds": "1",
        },
        stream=True,
        timeout=30,
    )
    import json

    lines = [json.loads(line) for line in response.iter_lines() if line]
    assert lines[0]["type"] == "ADDED"
    assert lines[1]["type"] == "BOOKMARK"
    assert lines[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_list_exact_version_rebuilds_old_state(core: client.CoreV1Api) -> None:
    a = core.create_namespaced_config_map(
        "default", {"metadata": {"name": "a"}, "data": {"v": "1"}}
    )
    core.patch_namespaced_config_map("a", "default", {"data": {"v": "2"}})
    core.create_namespaced_config_map("default", {"metadata": {"name": "b"}})
    old = core.list_namespaced_config_map(
        "default", resource_version=a.metadata.resource_version, resource_version_match="Exact"
    )
    assert [(c.metadata.name, c.data) for c in old.items] == [("a", {"v": "1"})]
    assert old.metadata.resource_version == a.metadata.resource_version


def test_list_exact_too_old_is_410(kube_api: KubeApiServer, core: client.CoreV1Api) -> None:
    a = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    core.patch_namespaced_config_map("a", "default", {"data": {"v": "2"}})
    kube_api.store.compact()
    with pytest.raises(client.ApiException) as exc:
        core.list_namespaced_config_map(
            "default", resource_version=a.metadata.resource_version, resource_version_match="Exact"
        )
    assert exc.value.status == 410


def test_list_future_version_is_504(core: client.CoreV1Api) -> None:
    with pytest.raises(client.ApiException) as exc:
        core.list_namespaced_config_map("default", resource_version="999999")
    assert exc.value.status == 504


def test_list_pagination_is_consistent(core: client.CoreV1Api) -> None:
    for name in ("a", "b", "c"):
        core.create_namespaced_config_map("default", {"metadata": {"name": name}})
    page1 = core.list_namespaced_config_map("default", limit=2)
    assert [c.metadata.name for c in page1.items] == ["a", "b"]
    assert page1.metadata.remaining_item_count == 1
    core.create_namespaced_config_map("default", {"metadata": {"name": "d"}})
    page2 = core.list_namespaced_config_map("default", limit=2, _continue=page1.metadata._continue)
    assert [c.metadata.name for c in page2.items] == ["c"]
    assert page2.metadata._continue is None


def test_stop_ends_open_watches(kube_api_factory: KubeApiFactory) -> None:
    server = kube_api_factory()
    core = client.CoreV1Api(server.api_client())
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    watching = threading.Event()
    done = threading.Event()

    def run() -> None:
        stream = watch.Watch().stream(
            core.list_namespaced_config_map, "default", timeout_seconds=300
        )
        for _event in stream:
            watching.set()  # the initial ADDED arrived: the watch is open on the server
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert watching.wait(30)  # not a fixed sleep: a loaded machine may take longer to connect
    server.stop()
    assert done.wait(15)


def test_watch_across_namespaces_and_cluster_scope(core: client.CoreV1Api) -> None:
    start = core.list_config_map_for_all_namespaces().metadata.resource_version
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    core.create_namespaced_config_map("kube-system", {"metadata": {"name": "b"}})
    core.create_node({"metadata": {"name": "n1"}})
    w = watch.Watch()
    seen = [
        (e["object"].metadata.namespace, e["object"].metadata.name)
        for e in _events(
            w.stream(
                core.list_config_map_for_all_namespaces, resource_version=start, timeout_seconds=30
            ),
            2,
        )
    ]
    w.stop()
    assert seen == [("default", "a"), ("kube-system", "b")]
    nodes = watch.Watch()
    added = _events(nodes.stream(core.list_node, resource_version=start, timeout_seconds=30), 1)
    nodes.stop()
    assert added[0]["object"].metadata.name == "n1"
