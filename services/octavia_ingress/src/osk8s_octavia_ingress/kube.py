"""What the controller reads and writes in Kubernetes, as JSON dicts over the real client.

``KubeView`` is the narrow interface the reconciler consumes; ``ApiKubeView`` implements it
with plain GETs (always the current state, so a reconcile never acts on a stale cache) and
the Ingress ``/status`` subresource for the address. Only this module knows the client.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from kubernetes.client import ApiClient, CoreV1Api, NetworkingV1Api
from kubernetes.client.exceptions import ApiException

JsonObject = Mapping[str, Any]


class KubeView(Protocol):
    def ingress(self, namespace: str, name: str) -> JsonObject | None: ...

    def ingresses(self) -> list[JsonObject]: ...

    def ingress_classes(self) -> list[JsonObject]: ...

    def services(self, namespace: str) -> dict[str, JsonObject]: ...

    def nodes(self) -> list[JsonObject]: ...

    def secret(self, namespace: str, name: str) -> JsonObject | None: ...

    def set_address(self, ingress: JsonObject, ip: str) -> JsonObject: ...


def _json(response: Any) -> Any:
    return json.loads(response.data)


class ApiKubeView:
    """``KubeView`` over a ``kubernetes`` ApiClient."""

    def __init__(self, client: ApiClient) -> None:
        self._core = CoreV1Api(client)
        self._net = NetworkingV1Api(client)

    def ingress(self, namespace: str, name: str) -> JsonObject | None:
        try:
            obj: JsonObject = _json(
                self._net.read_namespaced_ingress(name, namespace, _preload_content=False)
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return obj

    def ingresses(self) -> list[JsonObject]:
        items: list[JsonObject] = _json(
            self._net.list_ingress_for_all_namespaces(_preload_content=False)
        )["items"]
        return items

    def ingress_classes(self) -> list[JsonObject]:
        items: list[JsonObject] = _json(self._net.list_ingress_class(_preload_content=False))[
            "items"
        ]
        return items

    def services(self, namespace: str) -> dict[str, JsonObject]:
        items = _json(self._core.list_namespaced_service(namespace, _preload_content=False))
        return {str(s["metadata"]["name"]): s for s in items["items"]}

    def nodes(self) -> list[JsonObject]:
        items: list[JsonObject] = _json(self._core.list_node(_preload_content=False))["items"]
        return items

    def secret(self, namespace: str, name: str) -> JsonObject | None:
        try:
            obj: JsonObject = _json(
                self._core.read_namespaced_secret(name, namespace, _preload_content=False)
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return obj

    def set_address(self, ingress: JsonObject, ip: str) -> JsonObject:
        """``status.loadBalancer.ingress = [{ip}]`` through ``/status`` (CPO: UpdateStatus);
        returns the Ingress as written (its new resourceVersion)."""
        meta = ingress["metadata"]
        body = {"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}
        obj: JsonObject = _json(
            self._net.patch_namespaced_ingress_status(
                meta["name"], meta["namespace"], body, _preload_content=False
            )
        )
        return obj
