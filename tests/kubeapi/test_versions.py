"""Several served versions of one CRD: each version's schema applies to objects written and
read in that version; ``conversion.strategy: None`` only rewrites apiVersion; a ``Webhook``
strategy (we never call a conversion webhook) answers 500 for non-storage versions."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from kubernetes import client

from osk8s_testing.kubeapi import KubeApiServer

from .conftest import status_body
from .schema_crds import install

GROUP, PLURAL = "versions.osk8s.io", "dials"


def _version(name: str, storage: bool, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "served": True,
        "storage": storage,
        "schema": {
            "openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "properties": spec}},
            }
        },
    }


def _crd(strategy: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "kind": "Dial"},
        "versions": [
            _version(
                "v2",
                True,
                {"size": {"type": "integer"}, "color": {"type": "string", "default": "red"}},
            ),
            _version(
                "v1",
                False,
                {"size": {"type": "integer", "maximum": 5}, "legacy": {"type": "string"}},
            ),
        ],
    }
    if strategy:
        spec["conversion"] = {"strategy": strategy}
        if strategy == "Webhook":
            spec["conversion"]["webhook"] = {
                "conversionReviewVersions": ["v1"],
                "clientConfig": {"url": "https://127.0.0.1:1/convert"},
            }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": spec,
    }


def _dial(version: str, name: str = "d", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{version}",
        "kind": "Dial",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_each_version_validates_with_its_own_schema(
    extensions: client.ApiextensionsV1Api, custom: client.CustomObjectsApi
) -> None:
    install(extensions, _crd())
    with pytest.raises(client.ApiException) as caught:
        custom.create_namespaced_custom_object(GROUP, "v1", "default", PLURAL, _dial("v1", size=7))
    assert status_body(caught.value)["details"]["causes"][0]["message"] == (
        "Invalid value: 7: spec.size in body should be less than or equal to 5"
    )
    made = custom.create_namespaced_custom_object(
        GROUP, "v2", "default", PLURAL, _dial("v2", size=7)
    )
    assert made["spec"] == {"size": 7, "color": "red"}


def test_strategy_none_stores_one_object_served_in_every_version(
    extensions: client.ApiextensionsV1Api, custom: client.CustomObjectsApi
) -> None:
    install(extensions, _crd("None"))
    made = custom.create_namespaced_custom_object(
        GROUP, "v1", "default", PLURAL, _dial("v1", size=2, legacy="x")
    )
    # written in v1: v1's schema knows no color, so no default there
    assert made["apiVersion"] == f"{GROUP}/v1"
    assert made["spec"] == {"size": 2, "legacy": "x"}
    v2 = custom.get_namespaced_custom_object(GROUP, "v2", "default", PLURAL, "d")
    # read in v2: only apiVersion changes, then v2's schema prunes and defaults
    assert v2["apiVersion"] == f"{GROUP}/v2"
    assert v2["spec"] == {"size": 2, "color": "red"}
    v1 = custom.get_namespaced_custom_object(GROUP, "v1", "default", PLURAL, "d")
    assert v1["spec"] == {"size": 2, "legacy": "x"}
    listed = custom.list_namespaced_custom_object(GROUP, "v2", "default", PLURAL)
    assert [i["apiVersion"] for i in listed["items"]] == [f"{GROUP}/v2"]
    # an update in v2 writes v2's view (legacy pruned) back
    v2["spec"]["size"] = 3
    custom.replace_namespaced_custom_object(GROUP, "v2", "default", PLURAL, "d", v2)
    # read back in v1: v1's schema prunes color (stored) and knows no legacy any more
    again = custom.get_namespaced_custom_object(GROUP, "v1", "default", PLURAL, "d")
    assert again["spec"] == {"size": 3}


def test_webhook_conversion_is_an_honest_500(
    kube_api: KubeApiServer,
    extensions: client.ApiextensionsV1Api,
    custom: client.CustomObjectsApi,
) -> None:
    install(extensions, _crd("Webhook"))
    made = custom.create_namespaced_custom_object(GROUP, "v2", "default", PLURAL, _dial("v2"))
    assert made["spec"] == {"color": "red"}
    for call in (
        lambda: custom.get_namespaced_custom_object(GROUP, "v1", "default", PLURAL, "d"),
        lambda: custom.list_namespaced_custom_object(GROUP, "v1", "default", PLURAL),
        lambda: custom.create_namespaced_custom_object(
            GROUP, "v1", "default", PLURAL, _dial("v1", "e")
        ),
    ):
        with pytest.raises(client.ApiException) as caught:
            call()
        assert caught.value.status == 500
        status = status_body(caught.value)
        assert status["reason"] == "InternalError"
        assert status["message"].startswith(
            "Internal error occurred: conversion webhook for versions.osk8s.io/v2, Kind=Dial failed"
        )
    watch = requests.get(
        f"{kube_api.url}/apis/{GROUP}/v1/namespaces/default/{PLURAL}?watch=true", timeout=5
    )
    assert watch.status_code == 500
    # the storage version needs no conversion and still works
    assert custom.get_namespaced_custom_object(GROUP, "v2", "default", PLURAL, "d")["spec"]


def test_watch_serves_events_in_the_requested_version(
    kube_api: KubeApiServer,
    extensions: client.ApiextensionsV1Api,
    custom: client.CustomObjectsApi,
) -> None:
    install(extensions, _crd("None"))
    custom.create_namespaced_custom_object(GROUP, "v2", "default", PLURAL, _dial("v2", size=1))
    reply = requests.get(
        f"{kube_api.url}/apis/{GROUP}/v1/namespaces/default/{PLURAL}",
        params={"watch": "true", "timeoutSeconds": "1"},
        timeout=10,
    )
    events = [json.loads(line) for line in reply.text.splitlines() if line.strip()]
    assert [e["type"] for e in events] == ["ADDED"]
    seen = events[0]["object"]
    assert seen["apiVersion"] == f"{GROUP}/v1"
    assert seen["spec"] == {"size": 1}  # v1's schema prunes v2's defaulted color
