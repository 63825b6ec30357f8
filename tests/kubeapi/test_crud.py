"""Create/get/list/update/delete through the real client: codes, Status bodies, versions."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from kubernetes import client

from osk8s_testing.kubeapi import KubeApiServer

from .conftest import status_body


def test_create_returns_201_with_server_fields(kube_api: KubeApiServer) -> None:
    response = requests.post(
        f"{kube_api.url}/api/v1/namespaces/default/configmaps",
        json={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "a"},
            "data": {"k": "v"},
        },
        timeout=30,
    )
    assert response.status_code == 201
    meta = response.json()["metadata"]
    assert meta["namespace"] == "default"
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) == kube_api.store.resource_version


def test_resource_version_is_one_global_counter(core: client.CoreV1Api) -> None:
    a = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    s = core.create_namespaced_secret("default", {"metadata": {"name": "s"}})
    n = core.create_node({"metadata": {"name": "n1"}})
    versions = [int(o.metadata.resource_version) for o in (a, s, n)]
    assert versions == [versions[0], versions[0] + 1, versions[0] + 2]


def test_get_list_and_cluster_scope(core: client.CoreV1Api) -> None:
    core.create_node({"metadata": {"name": "n1", "labels": {"zone": "a"}}})
    core.create_namespaced_service(
        "kube-system", {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}
    )
    assert core.read_node("n1").metadata.labels == {"zone": "a"}
    assert [n.metadata.name for n in core.list_node().items] == ["n1"]
    everywhere = core.list_service_for_all_namespaces()
    assert [(s.metadata.namespace, s.metadata.name) for s in everywhere.items] == [
        ("kube-system", "svc")
    ]
    assert core.list_namespaced_service("default").items == []


def test_already_exists_and_not_found_status(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    with pytest.raises(client.ApiException) as exists:
        core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    assert exists.value.status == 409
    body = status_body(exists.value)
    assert body["kind"] == "Status"
    assert body["reason"] == "AlreadyExists"
    assert body["details"] == {"name": "a", "kind": "configmaps"}
    with pytest.raises(client.ApiException) as missing:
        core.read_namespaced_config_map("nope", "default")
    assert missing.value.status == 404
    assert status_body(missing.value)["reason"] == "NotFound"
    assert status_body(missing.value)["message"] == 'configmaps "nope" not found'


def test_namespace_must_exist(core: client.CoreV1Api) -> None:
    with pytest.raises(client.ApiException) as exc:
        core.create_namespaced_config_map("ghost", {"metadata": {"name": "a"}})
    assert exc.value.status == 404
    assert status_body(exc.value)["message"] == 'namespaces "ghost" not found'


def test_generate_name(core: client.CoreV1Api) -> None:
    made = core.create_namespaced_config_map("default", {"metadata": {"generateName": "cm-"}})
    assert made.metadata.name.startswith("cm-")
    assert len(made.metadata.name) == 8


def test_invalid_name_is_422(core: client.CoreV1Api) -> None:
    with pytest.raises(client.ApiException) as exc:
        core.create_namespaced_config_map("default", {"metadata": {"name": "Bad_Name"}})
    assert exc.value.status == 422
    assert status_body(exc.value)["reason"] == "Invalid"


def test_stale_update_conflicts(coordination: client.CoordinationV1Api) -> None:
    lease = coordination.create_namespaced_lease(
        "kube-system", {"metadata": {"name": "leader"}, "spec": {"holderIdentity": "a"}}
    )
    lease.spec.holder_identity = "b"
    updated = coordination.replace_namespaced_lease("leader", "kube-system", lease)
    assert updated.spec.holder_identity == "b"
    assert int(updated.metadata.resource_version) > int(lease.metadata.resource_version)
    lease.spec.holder_identity = "c"  # still carries the old resourceVersion
    with pytest.raises(client.ApiException) as exc:
        coordination.replace_namespaced_lease("leader", "kube-system", lease)
    assert exc.value.status == 409
    body = status_body(exc.value)
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on leases.coordination.k8s.io "leader": the object has '
        "been modified; please apply your changes to the latest version and try again"
    )
    assert coordination.read_namespaced_lease("leader", "kube-system").spec.holder_identity == "b"


def test_patch_with_stale_resource_version_conflicts(core: client.CoreV1Api) -> None:
    cm = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    core.patch_namespaced_config_map("a", "default", {"data": {"x": "1"}})
    with pytest.raises(client.ApiException) as exc:
        core.patch_namespaced_config_map(
            "a", "default", {"metadata": {"resourceVersion": cm.metadata.resource_version}}
        )
    assert exc.value.status == 409


def test_unconditional_update_of_builtin_is_allowed(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}, "data": {"k": "1"}})
    replaced = core.replace_namespaced_config_map(
        "a", "default", {"metadata": {"name": "a"}, "data": {"k": "2"}}
    )
    assert replaced.data == {"k": "2"}


def test_update_keeps_immutable_metadata(core: client.CoreV1Api) -> None:
    cm = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    replaced = core.replace_namespaced_config_map(
        "a",
        "default",
        {
            "metadata": {"name": "a", "creationTimestamp": "2000-01-01T00:00:00Z"},
            "data": {"k": "v"},
        },
    )
    assert replaced.metadata.uid == cm.metadata.uid
    assert replaced.metadata.creation_timestamp == cm.metadata.creation_timestamp


def test_noop_update_keeps_resource_version(
    kube_api: KubeApiServer, core: client.CoreV1Api
) -> None:
    cm = core.create_namespaced_config_map(
        "default", {"metadata": {"name": "a"}, "data": {"k": "v"}}
    )
    before = kube_api.store.resource_version
    same = core.patch_namespaced_config_map("a", "default", {"data": {"k": "v"}})
    assert same.metadata.resource_version == cm.metadata.resource_version
    assert kube_api.store.resource_version == before


def test_put_to_missing_object_is_404(core: client.CoreV1Api) -> None:
    with pytest.raises(client.ApiException) as exc:
        core.replace_namespaced_config_map("a", "default", {"metadata": {"name": "a"}})
    assert exc.value.status == 404


def test_name_mismatch_is_400(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    with pytest.raises(client.ApiException) as exc:
        core.replace_namespaced_config_map("a", "default", {"metadata": {"name": "b"}})
    assert exc.value.status == 400


def test_delete_returns_status_and_removes(core: client.CoreV1Api) -> None:
    cm = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    status = core.delete_namespaced_config_map("a", "default")
    assert status["status"] == "Success"
    assert status["details"]["uid"] == cm.metadata.uid
    with pytest.raises(client.ApiException) as exc:
        core.delete_namespaced_config_map("a", "default")
    assert exc.value.status == 404


def test_delete_precondition_conflicts(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    body = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="other"))
    with pytest.raises(client.ApiException) as exc:
        core.delete_namespaced_config_map("a", "default", body=body)
    assert exc.value.status == 409
    assert "Precondition failed: UID" in status_body(exc.value)["message"]


def test_delete_collection_with_selector(core: client.CoreV1Api) -> None:
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        core.create_namespaced_config_map(
            "default", {"metadata": {"name": name, "labels": {"team": team}}}
        )
    core.delete_collection_namespaced_config_map("default", label_selector="team=x")
    assert [c.metadata.name for c in core.list_namespaced_config_map("default").items] == ["c"]


def test_dry_run_does_not_persist(kube_api: KubeApiServer, core: client.CoreV1Api) -> None:
    before = kube_api.store.resource_version
    made = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}}, dry_run="All")
    assert made.metadata.name == "a"
    assert kube_api.store.resource_version == before
    assert core.list_namespaced_config_map("default").items == []


def test_secret_string_data_becomes_data(core: client.CoreV1Api) -> None:
    secret = core.create_namespaced_secret(
        "default", {"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}}
    )
    assert secret.data == {"password": "aHVudGVyMg=="}
    assert secret.type == "Opaque"
    assert secret.string_data is None


def test_immutable_configmap_rejects_data_change(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "a"}, "data": {"k": "v"}, "immutable": True}
    )
    with pytest.raises(client.ApiException) as exc:
        core.patch_namespaced_config_map("a", "default", {"data": {"k": "w"}})
    assert exc.value.status == 422


def test_service_defaults(core: client.CoreV1Api) -> None:
    svc = core.create_namespaced_service(
        "default",
        {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}},
    )
    port = svc.spec.ports[0]
    assert port.protocol == "TCP"
    assert port.target_port == 80
    assert 30000 <= port.node_port <= 32767
    assert svc.spec.cluster_ip.startswith("10.96.")
    replaced = core.replace_namespaced_service(
        "lb",
        "default",
        {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}},
    )
    assert replaced.spec.cluster_ip == svc.spec.cluster_ip
    assert replaced.spec.ports[0].node_port == port.node_port


def test_unknown_path_is_404_status(kube_api: KubeApiServer) -> None:
    response = requests.get(f"{kube_api.url}/apis/nope.example.com/v1/things", timeout=30)
    assert response.status_code == 404
    assert response.json()["kind"] == "Status"


def test_bad_json_is_400(kube_api: KubeApiServer) -> None:
    response = requests.post(
        f"{kube_api.url}/api/v1/namespaces/default/configmaps",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["reason"] == "BadRequest"


def test_list_items_omit_kind_for_builtins(kube_api: KubeApiServer, core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    listed: dict[str, Any] = json.loads(
        requests.get(f"{kube_api.url}/api/v1/namespaces/default/configmaps", timeout=30).text
    )
    assert listed["kind"] == "ConfigMapList"
    assert "kind" not in listed["items"][0]


def test_put_creates_lease_but_not_configmap(kube_api: KubeApiServer) -> None:
    lease = requests.put(
        f"{kube_api.url}/apis/coordination.k8s.io/v1/namespaces/default/leases/l",
        json={"metadata": {"name": "l"}, "spec": {"holderIdentity": "a"}},
        timeout=30,
    )
    assert lease.status_code == 201
    assert lease.json()["metadata"]["uid"]
    again = requests.put(
        f"{kube_api.url}/apis/coordination.k8s.io/v1/namespaces/default/leases/l",
        json={"metadata": {"name": "l"}, "spec": {"holderIdentity": "b"}},
        timeout=30,
    )
    assert again.status_code == 200
    assert again.json()["spec"]["holderIdentity"] == "b"
    cm = requests.put(
        f"{kube_api.url}/api/v1/namespaces/default/configmaps/c",
        json={"metadata": {"name": "c"}},
        timeout=30,
    )
    assert cm.status_code == 404


def test_dry_run_patch_and_delete(kube_api: KubeApiServer, core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}, "data": {"k": "1"}})
    before = kube_api.store.resource_version
    preview = core.patch_namespaced_config_map("a", "default", {"data": {"k": "2"}}, dry_run="All")
    assert preview.data == {"k": "2"}
    core.delete_namespaced_config_map("a", "default", dry_run="All")
    assert kube_api.store.resource_version == before
    assert core.read_namespaced_config_map("a", "default").data == {"k": "1"}
