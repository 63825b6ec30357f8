"""The in-memory Kubernetes API server behind the fault proxy, driven by the real client:
watch streams pass through event by event, and faults reach the client as API errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from kubernetes import client, watch
from kubernetes.client import ApiException

from osk8s_testing.faultproxy import FaultProxy, error
from osk8s_testing.faultproxy.fixtures import FaultProxyFactory
from osk8s_testing.kubeapi.server import KubeApiServer

KubeBehindProxy = tuple[FaultProxy, client.CoreV1Api]


@pytest.fixture
def kube_behind_proxy(fault_proxy: FaultProxyFactory) -> Iterator[KubeBehindProxy]:
    with KubeApiServer() as server:
        proxy = fault_proxy(server.url)
        configuration = client.Configuration()
        configuration.host = proxy.url
        with client.ApiClient(configuration) as api:
            yield proxy, client.CoreV1Api(api)


def _configmap(name: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"k": "v"})


def _when_watch_open(proxy: FaultProxy, then: threading.Event) -> None:
    # The proxy records a call once the upstream's headers arrived: the watch is established.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not then.is_set():
        if any("watch=" in c.query for c in proxy.calls.all()):
            then.set()
        time.sleep(0.01)


def test_watch_events_stream_through_the_proxy(
    kube_behind_proxy: KubeBehindProxy,
) -> None:
    proxy, core = kube_behind_proxy
    core.create_namespaced_config_map("default", _configmap("before"))
    listed = core.list_namespaced_config_map("default").metadata
    assert listed is not None
    rv = listed.resource_version
    opened = threading.Event()

    def create_after_watch_opens() -> None:
        _when_watch_open(proxy, opened)
        core.create_namespaced_config_map("default", _configmap("during"))

    creator = threading.Thread(target=create_after_watch_opens)
    creator.start()
    watcher = watch.Watch()  # type: ignore[no-untyped-call]
    seen = []
    for event in watcher.stream(  # type: ignore[no-untyped-call]
        core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=10
    ):
        seen.append((event["type"], event["object"].metadata.name))
        watcher.stop()  # type: ignore[no-untyped-call]
        # the first event arrived while the stream is still open: streaming works
    creator.join(timeout=5)
    assert opened.is_set()
    assert seen == [("ADDED", "during")]


def test_api_errors_reach_the_client_and_the_next_call_passes(
    kube_behind_proxy: KubeBehindProxy,
) -> None:
    proxy, core = kube_behind_proxy
    proxy.inject(error(503), method="GET", path="/api/v1/namespaces/default/configmaps$", first=1)
    with pytest.raises(ApiException) as info:
        core.list_namespaced_config_map("default")
    assert info.value.status == 503
    assert core.list_namespaced_config_map("default").items == []
    assert [c.status for c in proxy.calls.matching("GET", "/configmaps$")] == [503, 200]
