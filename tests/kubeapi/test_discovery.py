"""Discovery documents and the dynamic client (which relies on them)."""

from __future__ import annotations

import requests
from kubernetes import client, config, dynamic

from osk8s_testing.kubeapi import KubeApiServer


def test_core_and_group_discovery(kube_api: KubeApiServer) -> None:
    api = requests.get(f"{kube_api.url}/api", timeout=30).json()
    assert api["kind"] == "APIVersions" and api["versions"] == ["v1"]
    groups = {g["name"] for g in requests.get(f"{kube_api.url}/apis", timeout=30).json()["groups"]}
    assert {
        "coordination.k8s.io",
        "events.k8s.io",
        "networking.k8s.io",
        "apiextensions.k8s.io",
    } <= groups
    core = requests.get(f"{kube_api.url}/api/v1", timeout=30).json()
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["nodes"]["namespaced"] is False
    assert by_name["nodes/status"]["verbs"] == ["get", "patch", "update"]
    assert by_name["configmaps"]["shortNames"] == ["cm"]
    assert "watch" in by_name["configmaps"]["verbs"]


def test_version_endpoint(kube_api: KubeApiServer, api_client: client.ApiClient) -> None:
    info = client.VersionApi(api_client).get_code()
    assert info.major == "1"


def test_kubeconfig_and_dynamic_client(kube_api: KubeApiServer) -> None:
    assert kube_api.kubeconfig_path is not None
    api_client = config.new_client_from_config(config_file=str(kube_api.kubeconfig_path))
    try:
        dyn = dynamic.DynamicClient(api_client)
        leases = dyn.resources.get(api_version="coordination.k8s.io/v1", kind="Lease")
        leases.create(
            body={"metadata": {"name": "l"}, "spec": {"holderIdentity": "x"}}, namespace="default"
        )
        got = leases.get(name="l", namespace="default")
        assert got.spec.holderIdentity == "x"
    finally:
        api_client.close()
