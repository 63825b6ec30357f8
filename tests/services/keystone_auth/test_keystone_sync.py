"""Keystone → Kubernetes sync (namespaces, RoleBindings).

The RoleBinding decision logic is table-tested on a narrow in-memory ``RbacApi`` fake; the same
Syncer then writes real RoleBindings (CPO's ``<uid>_<role>`` names) and namespaces through
``KubeRbacApi`` into the in-memory kube-apiserver, and the TokenReview → sync path runs there.
"""

from __future__ import annotations

from typing import Any

import requests
from kubernetes import client

from osk8s_core.errors import KubernetesConflict
from osk8s_core.logging import get_logger
from osk8s_keystone_auth.identity import DOMAIN_ID, PROJECT_ID, PROJECT_NAME, ROLES, UserInfo
from osk8s_keystone_auth.kube_rbac import KubeRbacApi
from osk8s_keystone_auth.service import build
from osk8s_keystone_auth.sync import Syncer
from osk8s_keystone_auth.sync_config import parse_sync_config
from osk8s_testing.kubeapi import KubeApiServer

from .conftest import FakeKeystone, FakeUser, TlsFiles
from .test_keystone_webhook import options, token_review


class FakeRbac:
    """``RbacApi`` in memory: namespaces and RoleBindings (user, role) per namespace."""

    def __init__(self) -> None:
        self.namespaces: set[str] = set()
        self.bindings: dict[str, dict[str, tuple[str, str]]] = {}

    def namespace_exists(self, name: str) -> bool:
        return name in self.namespaces

    def create_namespace(self, name: str) -> None:
        if name in self.namespaces:
            raise KubernetesConflict("exists", status=409)
        self.namespaces.add(name)

    def role_binding_names(self, namespace: str) -> list[str]:
        return list(self.bindings.get(namespace, {}))

    def create_role_binding(self, namespace: str, name: str, *, user: str, role: str) -> None:
        self.bindings.setdefault(namespace, {})[name] = (user, role)

    def delete_role_binding(self, namespace: str, name: str) -> None:
        del self.bindings[namespace][name]


def user(roles: tuple[str, ...], uid: str = "u1", project: str = "p1") -> UserInfo:
    return UserInfo(
        username="alice",
        uid=uid,
        groups=(project,),
        extra={
            ROLES: roles,
            PROJECT_ID: (project,),
            PROJECT_NAME: ("demo",),
            DOMAIN_ID: ("default",),
        },
    )


def test_keystone_sync_creates_namespace_and_role_bindings() -> None:
    rbac = FakeRbac()
    syncer = Syncer(api=rbac, logger=get_logger("test"))
    config = parse_sync_config(
        "data-types-to-sync: [projects, role_assignments]\nnamespace-format: '%n-%i'"
    )
    assert syncer.sync(user(("member", "viewer")), config) == "demo-p1"
    assert rbac.namespaces == {"demo-p1"}
    assert rbac.bindings["demo-p1"] == {
        "u1_member": ("alice", "member"),
        "u1_viewer": ("alice", "viewer"),
    }
    # An admin's binding and another user's stay; this user's stale one goes.
    rbac.bindings["demo-p1"].update({"adminmade": ("x", "y"), "u2_member": ("bob", "member")})
    syncer.sync(user(("member",)), config)
    assert set(rbac.bindings["demo-p1"]) == {"u1_member", "adminmade", "u2_member"}
    syncer.sync(user(("member",)), config)  # idempotent
    assert set(rbac.bindings["demo-p1"]) == {"u1_member", "adminmade", "u2_member"}


def test_keystone_sync_role_assignments_only_and_blacklists() -> None:
    rbac = FakeRbac()
    syncer = Syncer(api=rbac, logger=get_logger("test"))
    config = parse_sync_config(
        "data-types-to-sync: [role_assignments]\n"
        "projects-blacklist: [p-bad]\n"
        "projects-name-blacklist: [admin]"
    )
    assert syncer.sync(user(("member",), project="p-bad"), config) is None
    assert syncer.sync(user(("member",), project="p-ok"), config) == "p-ok"
    assert rbac.namespaces == set()  # projects not requested
    assert rbac.bindings == {"p-ok": {"u1_member": ("alice", "member")}}
    by_name = parse_sync_config("data-types-to-sync: [projects]\nprojects-name-blacklist: [demo]")
    assert syncer.sync(user(("member",), project="p-2"), by_name) is None
    assert syncer.sync(user(("member",)), parse_sync_config("")) is None  # nothing to sync


def test_keystone_token_review_triggers_sync(
    kube_api: KubeApiServer, tls_files: TlsFiles, fake_keystone: FakeKeystone, tmp_path: Any
) -> None:
    api = kube_api.api_client()
    fake_keystone.tokens["tok"] = FakeUser(
        user_id="u9", name="carol", project_id="p9", roles=("member",)
    )
    sync_file = tmp_path / "sync.yaml"
    sync_file.write_text(
        "data-types-to-sync: [projects]\nnamespace-format: 'kp-%i'\n"
        "role-mappings:\n"
        "  - keystone-role: member\n    username: mapped-carol\n    groups: [extra-group]\n"
    )
    hook = build(
        options(tls_files, fake_keystone, sync_config_file=str(sync_file)),
        logger=get_logger("test"),
        environ={},
        api_client=api,
    ).start()
    try:
        host, port = hook.server.address
        response = requests.post(
            f"https://{host}:{port}/webhook",
            json=token_review("tok"),
            verify=tls_files.cert,
            timeout=10,
        )
        status = response.json()["status"]
        assert status["user"]["username"] == "mapped-carol"
        assert status["user"]["groups"] == ["p9", "extra-group"]
        assert client.CoreV1Api(api).read_namespace("kp-p9").metadata.name == "kp-p9"
    finally:
        hook.stop()


def test_keystone_sync_writes_real_role_bindings(kube_api: KubeApiServer) -> None:
    # The same Syncer over the real client and the in-memory API server (RBAC types served).
    api = kube_api.api_client()
    syncer = Syncer(api=KubeRbacApi(api), logger=get_logger("test"))
    config = parse_sync_config(
        "data-types-to-sync: [projects, role_assignments]\nnamespace-format: '%n-%i'"
    )
    assert syncer.sync(user(("member", "viewer")), config) == "demo-p1"
    rbac = client.RbacAuthorizationV1Api(api)
    bindings = {
        b.metadata.name: (b.subjects[0].name, b.role_ref.name)
        for b in rbac.list_namespaced_role_binding("demo-p1").items
    }
    assert bindings == {"u1_member": ("alice", "member"), "u1_viewer": ("alice", "viewer")}
    syncer.sync(user(("member",)), config)  # the viewer role was taken away in Keystone
    names = [b.metadata.name for b in rbac.list_namespaced_role_binding("demo-p1").items]
    assert names == ["u1_member"]
