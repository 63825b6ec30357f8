"""``sync.RbacApi`` over the ``kubernetes`` client: namespaces and RoleBindings.

Every call is wrapped by the core's ``translate_api_errors``, so the syncer sees only
``osk8s_core.errors.Kubernetes*``. Imported only when data sync is configured (the client is
heavy); it holds no state beyond the API objects.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from osk8s_core.errors import KubernetesNotFound
from osk8s_core.k8s.apierrors import translate_api_errors


class KubeRbacApi:
    """``RbacApi`` over a ``kubernetes.client.ApiClient``; errors mapped by the core."""

    def __init__(self, api_client: Any) -> None:
        self._core = client.CoreV1Api(api_client)
        self._rbac = client.RbacAuthorizationV1Api(api_client)

    def namespace_exists(self, name: str) -> bool:
        try:
            with translate_api_errors(f"get namespace {name}"):
                self._core.read_namespace(name)
        except KubernetesNotFound:
            return False
        return True

    def create_namespace(self, name: str) -> None:
        with translate_api_errors(f"create namespace {name}"):
            self._core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))

    def role_binding_names(self, namespace: str) -> list[str]:
        with translate_api_errors(f"list rolebindings in {namespace}"):
            items = self._rbac.list_namespaced_role_binding(namespace).items
        return [str(item.metadata.name) for item in items if item.metadata is not None]

    def create_role_binding(self, namespace: str, name: str, *, user: str, role: str) -> None:
        group = "rbac.authorization.k8s.io"
        body = client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name=name),
            subjects=[client.RbacV1Subject(api_group=group, kind="User", name=user)],
            role_ref=client.V1RoleRef(api_group=group, kind="ClusterRole", name=role),
        )
        with translate_api_errors(f"create rolebinding {namespace}/{name}"):
            self._rbac.create_namespaced_role_binding(namespace, body)

    def delete_role_binding(self, namespace: str, name: str) -> None:
        with translate_api_errors(f"delete rolebinding {namespace}/{name}"):
            self._rbac.delete_namespaced_role_binding(name, namespace)
