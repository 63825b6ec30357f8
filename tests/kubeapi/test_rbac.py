"""RBAC types are served, and their names follow the path-segment rule (not DNS subdomains),
so the Keystone sync's ``<userID>_<role>`` RoleBindings can be created as on a real cluster."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException


def _binding(name: str) -> client.V1RoleBinding:
    return client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name=name),
        role_ref=client.V1RoleRef(
            api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="edit"
        ),
        subjects=[
            client.RbacV1Subject(kind="User", name="alice", api_group="rbac.authorization.k8s.io")
        ],
    )


def test_role_binding_with_underscore_name_round_trips(kube_api) -> None:
    rbac = client.RbacAuthorizationV1Api(kube_api.api_client())
    created = rbac.create_namespaced_role_binding("default", _binding("0f3a_member"))
    assert created.metadata.name == "0f3a_member"
    assert created.metadata.resource_version
    listed = rbac.list_namespaced_role_binding("default")
    assert [b.metadata.name for b in listed.items] == ["0f3a_member"]
    assert listed.items[0].role_ref.name == "edit"
    rbac.delete_namespaced_role_binding("0f3a_member", "default")
    assert rbac.list_namespaced_role_binding("default").items == []


@pytest.mark.parametrize("bad", ["a/b", "50%", ".."])
def test_path_segment_rule_rejects_bad_names(kube_api, bad: str) -> None:
    rbac = client.RbacAuthorizationV1Api(kube_api.api_client())
    with pytest.raises(ApiException) as caught:
        rbac.create_cluster_role(client.V1ClusterRole(metadata=client.V1ObjectMeta(name=bad)))
    assert caught.value.status == 422


def test_cluster_role_is_cluster_scoped(kube_api) -> None:
    rbac = client.RbacAuthorizationV1Api(kube_api.api_client())
    rbac.create_cluster_role(client.V1ClusterRole(metadata=client.V1ObjectMeta(name="viewer")))
    role = rbac.read_cluster_role("viewer")
    assert role.metadata.namespace is None
