"""The Kubernetes kinds CAPO reads and writes, and the few calls it makes on them.

``Resource`` names a collection (group/version/plural); ``KubeObjects`` wraps
``CustomObjectsApi``/``CoreV1Api`` with the verbs the controllers need: get, merge-patch of
metadata (finalizers, with the resourceVersion so a stale writer gets 409), merge-patch of
status, delete, list. Errors are translated to ``osk8s_core.errors`` in this one place.
Secrets are read straight from the API server (never from a cache: CAPO #1613).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kubernetes.client import ApiClient, CoreV1Api, CustomObjectsApi

from osk8s_capo.credentials import IdentityError, decode_secret_data
from osk8s_core.errors import KubernetesNotFound
from osk8s_core.k8s.apierrors import translate_api_errors

INFRA_GROUP: Final = "infrastructure.cluster.x-k8s.io"
CAPI_GROUP: Final = "cluster.x-k8s.io"

CLUSTER_NAME_LABEL: Final = "cluster.x-k8s.io/cluster-name"
WATCH_FILTER_LABEL: Final = "cluster.x-k8s.io/watch-filter"
PAUSED_ANNOTATION: Final = "cluster.x-k8s.io/paused"
MANAGED_BY_ANNOTATION: Final = "cluster.x-k8s.io/managed-by"
CONTROL_PLANE_LABEL: Final = "cluster.x-k8s.io/control-plane"

KubeObject = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


OPENSTACK_CLUSTER: Final = Resource(INFRA_GROUP, "v1beta2", "openstackclusters", "OpenStackCluster")
OPENSTACK_MACHINE: Final = Resource(INFRA_GROUP, "v1beta2", "openstackmachines", "OpenStackMachine")
OPENSTACK_SERVER: Final = Resource(INFRA_GROUP, "v1alpha1", "openstackservers", "OpenStackServer")
OPENSTACK_CLUSTER_IDENTITY: Final = Resource(
    INFRA_GROUP, "v1alpha1", "openstackclusteridentities", "OpenStackClusterIdentity", False
)
CLUSTER: Final = Resource(CAPI_GROUP, "v1beta2", "clusters", "Cluster")
MACHINE: Final = Resource(CAPI_GROUP, "v1beta2", "machines", "Machine")


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return meta(obj).get("labels") or {}


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return meta(obj).get("annotations") or {}


class KubeObjects:
    """Verbs on custom objects, Secrets and Namespaces; raw JSON dicts in and out."""

    def __init__(self, api_client: ApiClient) -> None:
        self.api_client = api_client
        # Typed loosely: the generated stubs type namespaces as str and bodies as object.
        self.custom: Any = CustomObjectsApi(api_client)
        self.core: Any = CoreV1Api(api_client)

    def get(self, resource: Resource, namespace: str, name: str) -> KubeObject | None:
        """The object, None when it does not exist."""
        try:
            with translate_api_errors(f"get {resource.plural} {namespace}/{name}"):
                if resource.namespaced:
                    obj = self.custom.get_namespaced_custom_object(
                        resource.group, resource.version, namespace, resource.plural, name
                    )
                else:
                    obj = self.custom.get_cluster_custom_object(
                        resource.group, resource.version, resource.plural, name
                    )
        except KubernetesNotFound:
            return None
        return dict(obj)

    def list(
        self, resource: Resource, namespace: str = "", *, label_selector: str = ""
    ) -> list[KubeObject]:
        kwargs: dict[str, Any] = {}
        if label_selector:
            kwargs["label_selector"] = label_selector
        with translate_api_errors(f"list {resource.plural}"):
            if resource.namespaced and namespace:
                body = self.custom.list_namespaced_custom_object(
                    resource.group, resource.version, namespace, resource.plural, **kwargs
                )
            else:
                body = self.custom.list_cluster_custom_object(
                    resource.group, resource.version, resource.plural, **kwargs
                )
        return [dict(item) for item in body.get("items") or []]

    def patch(
        self, resource: Resource, obj: Mapping[str, Any], body: Mapping[str, Any]
    ) -> KubeObject:
        """Merge-patch the object (metadata/spec); ``resourceVersion`` in ``body.metadata``
        makes it conditional."""
        m = meta(obj)
        with translate_api_errors(f"patch {resource.plural} {m.get('namespace')}/{m.get('name')}"):
            return dict(
                self.custom.patch_namespaced_custom_object(
                    resource.group,
                    resource.version,
                    m.get("namespace"),
                    resource.plural,
                    m.get("name"),
                    dict(body),
                )
            )

    def patch_status(
        self, resource: Resource, obj: Mapping[str, Any], status: Mapping[str, Any]
    ) -> KubeObject:
        """Merge-patch the status subresource with ``status``."""
        m = meta(obj)
        with translate_api_errors(
            f"patch {resource.plural}/status {m.get('namespace')}/{m.get('name')}"
        ):
            return dict(
                self.custom.patch_namespaced_custom_object_status(
                    resource.group,
                    resource.version,
                    m.get("namespace"),
                    resource.plural,
                    m.get("name"),
                    {"status": dict(status)},
                )
            )

    def create(self, resource: Resource, namespace: str, body: Mapping[str, Any]) -> KubeObject:
        with translate_api_errors(f"create {resource.plural} in {namespace}"):
            return dict(
                self.custom.create_namespaced_custom_object(
                    resource.group, resource.version, namespace, resource.plural, dict(body)
                )
            )

    def delete(self, resource: Resource, namespace: str, name: str) -> None:
        """Delete; an object already gone is success."""
        try:
            with translate_api_errors(f"delete {resource.plural} {namespace}/{name}"):
                self.custom.delete_namespaced_custom_object(
                    resource.group, resource.version, namespace, resource.plural, name
                )
        except KubernetesNotFound:
            return

    # SecretReader / IdentityReader for credentials

    def read_secret(self, namespace: str, name: str) -> Mapping[str, str]:
        try:
            with translate_api_errors(f"get secret {namespace}/{name}"):
                secret = self.core.read_namespaced_secret(name, namespace)
        except KubernetesNotFound:
            raise IdentityError(f"secret {namespace}/{name} not found") from None
        return decode_secret_data(secret.data)

    def cluster_identity(self, name: str) -> Mapping[str, Any] | None:
        return self.get(OPENSTACK_CLUSTER_IDENTITY, "", name)

    def namespace_labels(self, namespace: str) -> Mapping[str, str]:
        try:
            with translate_api_errors(f"get namespace {namespace}"):
                ns = self.core.read_namespace(namespace)
        except KubernetesNotFound:
            return {}
        return dict((ns.metadata and ns.metadata.labels) or {})
