"""CRDs registered at run time, status subresource semantics, generation, discovery."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from kubernetes import client

from osk8s_testing.kubeapi import KubeApiServer

from .conftest import status_body

GROUP, PLURAL = "example.osk8s.io", "widgets"


def _crd(*, status: bool = True, scope: str = "Namespaced") -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {
            "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        },
    }
    if status:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": scope,
            "names": {
                "plural": PLURAL,
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wd"],
            },
            "versions": [
                version,
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": False,
                    **({"subresources": {"status": {}}} if status else {}),
                },
            ],
        },
    }


def _widget(name: str = "w", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


def test_crd_is_established_and_served(
    extensions: client.ApiextensionsV1Api, custom: client.CustomObjectsApi
) -> None:
    extensions.create_custom_resource_definition(_crd())
    crd = extensions.read_custom_resource_definition(f"{PLURAL}.{GROUP}")
    conditions = {c.type: c.status for c in crd.status.conditions}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd.status.stored_versions == ["v1"]
    made = custom.create_namespaced_custom_object(GROUP, "v1", "default", PLURAL, _widget(size=1))
    assert made["kind"] == "Widget"
    assert made["metadata"]["generation"] == 1
    # every served version sees the same stored object
    old = custom.get_namespaced_custom_object(GROUP, "v1beta1", "default", PLURAL, "w")
    assert old["apiVersion"] == f"{GROUP}/v1beta1"
    assert old["spec"] == {"size": 1}


def test_discovery_lists_crd_resources(
    kube_api: KubeApiServer, extensions: client.ApiextensionsV1Api
) -> None:
    extensions.create_custom_resource_definition(_crd())
    group = requests.get(f"{kube_api.url}/apis/{GROUP}", timeout=30).json()
    assert group["preferredVersion"]["version"] == "v1"
    resources = requests.get(f"{kube_api.url}/apis/{GROUP}/v1", timeout=30).json()["resources"]
    names = {r["name"]: r for r in resources}
    assert set(names) == {"widgets", "widgets/status"}
    assert names["widgets"]["shortNames"] == ["wd"]
    assert names["widgets"]["namespaced"] is True


def test_invalid_crd_name_is_422(extensions: client.ApiextensionsV1Api) -> None:
    body = _crd()
    body["metadata"]["name"] = "wrong.example.osk8s.io"
    with pytest.raises(client.ApiException) as exc:
        extensions.create_custom_resource_definition(body)
    assert exc.value.status == 422


def test_status_subresource_split_both_ways(
    extensions: client.ApiextensionsV1Api, custom: client.CustomObjectsApi
) -> None:
    extensions.create_custom_resource_definition(_crd())
    created = custom.create_namespaced_custom_object(
        GROUP, "v1", "default", PLURAL, {**_widget(size=1), "status": {"ready": True}}
    )
    assert "status" not in created  # dropped on create when the subresource is on
    # a main-resource write cannot set status
    main = custom.patch_namespaced_custom_object(
        GROUP, "v1", "default", PLURAL, "w", {"spec": {"size": 2}, "status": {"ready": True}}
    )
    assert main["spec"] == {"size": 2}
    assert "status" not in main
    assert main["metadata"]["generation"] == 2
    # a status write cannot change spec, and does not bump generation
    status = custom.patch_namespaced_custom_object_status(
        GROUP, "v1", "default", PLURAL, "w", {"spec": {"size": 9}, "status": {"ready": True}}
    )
    assert status["status"] == {"ready": True}
    assert status["spec"] == {"size": 2}
    assert status["metadata"]["generation"] == 2
    # metadata-only change: no generation bump either
    labelled = custom.patch_namespaced_custom_object(
        GROUP, "v1", "default", PLURAL, "w", {"metadata": {"labels": {"a": "b"}}}
    )
    assert labelled["metadata"]["generation"] == 2
    assert labelled["status"] == {"ready": True}


# kube-apiserver, custom resources: "PUT requests to the /status subresource take a custom
# resource object and ignore changes to anything except the status stanza" (kubernetes.io,
# Extend the Kubernetes API with CustomResourceDefinitions, "Status subresource"; the same words
# in the CustomResourceSubresourceStatus API reference). Metadata, finalizers included, is
# therefore kept as stored on PUT and PATCH to /status: a controller that drops its finalizer in
# a status write leaves the object stuck in deletion. (Some early built-in types, e.g. Pods,
# still take label/annotation changes through /status -- kubernetes/kubernetes#92022, where
# liggitt notes custom resources restrict it; this server ignores metadata there too.)
def test_status_writes_ignore_metadata_including_finalizers(
    extensions: client.ApiextensionsV1Api, custom: client.CustomObjectsApi
) -> None:
    extensions.create_custom_resource_definition(_crd())
    keep = "example.osk8s.io/keep"
    custom.create_namespaced_custom_object(
        GROUP, "v1", "default", PLURAL, {**_widget(size=1), "metadata": {"name": "w",
                                                                         "finalizers": [keep]}}
    )  # fmt: skip
    patched = custom.patch_namespaced_custom_object_status(
        GROUP, "v1", "default", PLURAL, "w",
        {"metadata": {"finalizers": [], "labels": {"a": "b"}, "annotations": {"c": "d"}},
         "status": {"ready": True}},
    )  # fmt: skip
    assert patched["status"] == {"ready": True}
    assert patched["metadata"]["finalizers"] == [keep]
    assert "labels" not in patched["metadata"] and "annotations" not in patched["metadata"]
    body = custom.get_namespaced_custom_object(GROUP, "v1", "default", PLURAL, "w")
    body["metadata"]["finalizers"] = [keep, "example.osk8s.io/other"]
    body["status"] = {"ready": False}
    replaced = custom.replace_namespaced_custom_object_status(
        GROUP, "v1", "default", PLURAL, "w", body
    )
    assert replaced["status"] == {"ready": False}
    assert replaced["metadata"]["finalizers"] == [keep]
    # while deleting: a status write cannot release the object, a main-resource write can
    custom.delete_namespaced_custom_object(GROUP, "v1", "default", PLURAL, "w")
    custom.patch_namespaced_custom_object_status(
        GROUP, "v1", "default", PLURAL, "w", {"metadata": {"finalizers": None}}
    )
    stuck = custom.get_namespaced_custom_object(GROUP, "v1", "default", PLURAL, "w")
    assert stuck["metadata"]["finalizers"] == [keep]
    assert stuck["metadata"]["deletionTimestamp"]
    custom.patch_namespaced_custom_object(
        GROUP, "v1", "default", PLURAL, "w", {"metadata": {"finalizers": None}}
    )
    with pytest.raises(client.ApiException) as exc:
        custom.get_namespaced_custom_object(GROUP, "v1", "default", PLURAL, "w")
    assert exc.value.status == 404


def test_without_status_subresource_status_is_plain_data(
    extensions: client.ApiextensionsV1Api, custom: client.CustomObjectsApi
) -> None:
    extensions.create_custom_resource_definition(_crd(status=False))
    made = custom.create_namespaced_custom_object(
        GROUP, "v1", "default", PLURAL, {**_widget(), "status": {"x": 1}}
    )
    assert made["status"] == {"x": 1}
    changed = custom.patch_namespaced_custom_object(
        GROUP, "v1", "default", PLURAL, "w", {"status": {"x": 2}}
    )
    assert changed["metadata"]["generation"] == 2  # anything but metadata counts
    with pytest.raises(client.ApiException) as exc:
        custom.get_namespaced_custom_object_status(GROUP, "v1", "default", PLURAL, "w")
    assert exc.value.status == 404


def test_custom_put_requires_resource_version(
    extensions: client.ApiextensionsV1Api, custom: client.CustomObjectsApi
) -> None:
    extensions.create_custom_resource_definition(_crd())
    made = custom.create_namespaced_custom_object(GROUP, "v1", "default", PLURAL, _widget(size=1))
    with pytest.raises(client.ApiException) as exc:
        custom.replace_namespaced_custom_object(
            GROUP, "v1", "default", PLURAL, "w", _widget(size=2)
        )
    assert exc.value.status == 422
    made["spec"] = {"size": 2}
    replaced = custom.replace_namespaced_custom_object(GROUP, "v1", "default", PLURAL, "w", made)
    assert replaced["spec"] == {"size": 2}
    with pytest.raises(client.ApiException) as stale:
        custom.replace_namespaced_custom_object(GROUP, "v1", "default", PLURAL, "w", made)
    assert stale.value.status == 409


def test_custom_resources_refuse_strategic_merge(
    extensions: client.ApiextensionsV1Api, custom: client.CustomObjectsApi
) -> None:
    extensions.create_custom_resource_definition(_crd())
    custom.create_namespaced_custom_object(GROUP, "v1", "default", PLURAL, _widget())
    with pytest.raises(client.ApiException) as exc:
        custom.patch_namespaced_custom_object(
            GROUP,
            "v1",
            "default",
            PLURAL,
            "w",
            {"spec": {}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert exc.value.status == 415
    assert status_body(exc.value)["reason"] == "UnsupportedMediaType"


def test_cluster_scoped_crd(
    extensions: client.ApiextensionsV1Api, custom: client.CustomObjectsApi
) -> None:
    extensions.create_custom_resource_definition(_crd(scope="Cluster"))
    custom.create_cluster_custom_object(GROUP, "v1", PLURAL, _widget("c1"))
    listed = custom.list_cluster_custom_object(GROUP, "v1", PLURAL)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["c1"]
    assert "namespace" not in listed["items"][0]["metadata"]


def test_deleting_crd_removes_its_resources(
    kube_api: KubeApiServer, extensions: client.ApiextensionsV1Api, custom: client.CustomObjectsApi
) -> None:
    extensions.create_custom_resource_definition(_crd())
    custom.create_namespaced_custom_object(GROUP, "v1", "default", PLURAL, _widget("a"))
    extensions.delete_custom_resource_definition(f"{PLURAL}.{GROUP}")
    assert kube_api.store.items(GROUP, PLURAL) == []
    with pytest.raises(client.ApiException) as exc:
        custom.list_namespaced_custom_object(GROUP, "v1", "default", PLURAL)
    assert exc.value.status == 404


def test_ingress_generation_tracks_spec_only(networking: client.NetworkingV1Api) -> None:
    networking.create_namespaced_ingress(
        "default", {"metadata": {"name": "i"}, "spec": {"rules": [{"host": "a.example"}]}}
    )
    status = networking.patch_namespaced_ingress_status(
        "i", "default", {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}
    )
    assert status.metadata.generation == 1
    labelled = networking.patch_namespaced_ingress(
        "i", "default", {"metadata": {"labels": {"a": "b"}}}
    )
    assert labelled.metadata.generation == 1
    spec = networking.patch_namespaced_ingress(
        "i", "default", {"spec": {"rules": [{"host": "b.example"}]}}
    )
    assert spec.metadata.generation == 2
    assert spec.status.load_balancer.ingress[0].ip == "192.0.2.1"


def test_service_status_update_keeps_spec(core: client.CoreV1Api) -> None:
    core.create_namespaced_service(
        "default",
        {"metadata": {"name": "s"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}},
    )
    current = core.read_namespaced_service("s", "default")
    current.spec.type = "ClusterIP"
    current.status = client.V1ServiceStatus(
        load_balancer=client.V1LoadBalancerStatus(
            ingress=[client.V1LoadBalancerIngress(ip="192.0.2.5")]
        )
    )
    updated = core.replace_namespaced_service_status("s", "default", current)
    assert updated.spec.type == "LoadBalancer"
    assert updated.status.load_balancer.ingress[0].ip == "192.0.2.5"


def test_invalid_crd_update_is_rejected_before_storing(
    extensions: client.ApiextensionsV1Api,
) -> None:
    extensions.create_custom_resource_definition(_crd())
    with pytest.raises(client.ApiException) as exc:
        extensions.patch_custom_resource_definition(
            f"{PLURAL}.{GROUP}", {"spec": {"scope": "Cluster"}}
        )
    assert exc.value.status == 422
    assert (
        extensions.read_custom_resource_definition(f"{PLURAL}.{GROUP}").spec.scope == "Namespaced"
    )


def test_crd_update_adds_a_served_version(
    extensions: client.ApiextensionsV1Api, custom: client.CustomObjectsApi
) -> None:
    extensions.create_custom_resource_definition(_crd())
    crd = extensions.read_custom_resource_definition(f"{PLURAL}.{GROUP}")
    versions = [v.to_dict() for v in crd.spec.versions]
    body = [
        {
            "op": "add",
            "path": "/spec/versions/-",
            "value": {"name": "v2", "served": True, "storage": False},
        }
    ]
    extensions.patch_custom_resource_definition(
        f"{PLURAL}.{GROUP}", body, _content_type="application/json-patch+json"
    )
    assert len(versions) == 2
    custom.create_namespaced_custom_object(
        GROUP, "v2", "default", PLURAL, {**_widget(), "apiVersion": f"{GROUP}/v2"}
    )
    assert (
        custom.get_namespaced_custom_object(GROUP, "v1", "default", PLURAL, "w")["apiVersion"]
        == f"{GROUP}/v1"
    )
