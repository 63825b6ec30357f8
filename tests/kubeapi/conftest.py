"""Client fixtures for the fake kube-apiserver suite: real ``kubernetes`` client APIs."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from osk8s_testing.kubeapi import KubeApiServer


@pytest.fixture
def api_client(kube_api: KubeApiServer) -> Any:
    return kube_api.api_client()


@pytest.fixture
def core(api_client: Any) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def coordination(api_client: Any) -> client.CoordinationV1Api:
    return client.CoordinationV1Api(api_client)


@pytest.fixture
def custom(api_client: Any) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


@pytest.fixture
def extensions(api_client: Any) -> client.ApiextensionsV1Api:
    return client.ApiextensionsV1Api(api_client)


@pytest.fixture
def networking(api_client: Any) -> client.NetworkingV1Api:
    return client.NetworkingV1Api(api_client)


def status_body(exc: client.ApiException) -> dict[str, Any]:
    import json

    body: dict[str, Any] = json.loads(exc.body)
    return body
