"""Optimistic concurrency under contention: one writer wins per resourceVersion."""

from __future__ import annotations

import threading

from kubernetes import client

from osk8s_testing.kubeapi import KubeApiServer


def test_racing_updates_from_one_version_have_one_winner(kube_api: KubeApiServer) -> None:
    setup = client.CoordinationV1Api(kube_api.api_client())
    lease = setup.create_namespaced_lease(
        "kube-system", {"metadata": {"name": "race"}, "spec": {"holderIdentity": "nobody"}}
    )
    results: list[int] = []
    lock = threading.Lock()

    def contender(name: str) -> None:
        api = client.CoordinationV1Api(kube_api.api_client())
        body = {
            "metadata": {"name": "race", "resourceVersion": lease.metadata.resource_version},
            "spec": {"holderIdentity": name},
        }
        try:
            api.replace_namespaced_lease("race", "kube-system", body)
            code = 200
        except client.ApiException as exc:
            code = exc.status
        with lock:
            results.append(code)

    threads = [threading.Thread(target=contender, args=(f"c{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 409, 409, 409, 409, 409]
    holder = setup.read_namespaced_lease("race", "kube-system").spec.holder_identity
    assert holder != "nobody"
