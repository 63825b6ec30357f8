"""Against the real Keystone of the test cloud: users, projects, roles, groups and application
credentials created here; tokens from client-keystone-auth's real login; the webhook validates
them and the in-memory kube-apiserver calls it. Skipped when the test cloud is not up."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from kubernetes import client

from osk8s_core.logging import get_logger
from osk8s_core.secrets import SecretStr
from osk8s_keystone_auth.client_options import ClientOptions
from osk8s_keystone_auth.identity import PROJECT_ID, PROJECT_NAME, ROLES
from osk8s_keystone_auth.keystone_login import issue_token as keystone_issuer
from osk8s_keystone_auth.service import Webhook, build
from osk8s_testing.cloudgate import cloud_unavailable
from osk8s_testing.kubeapi import WebhookConfig
from osk8s_testing.kubeapi.fixtures import KubeApiFactory
from osk8s_testing.testcloud.layout import Layout, resolve_dir

from .conftest import FakeKeystone, SkewedClock, TlsFiles
from .test_keystone_webhook import options, token_review

pytestmark = pytest.mark.contract
KEYSTONE = "http://127.0.0.1:5000/v3"


@pytest.fixture(scope="module")
def admin() -> Iterator[Any]:
    layout = Layout(resolve_dir(None, os.environ))
    if not layout.clouds_yaml.exists():
        cloud_unavailable(
            f"OpenStack test cloud not set up: no {layout.clouds_yaml} (osk8s-testcloud up)"
        )
    try:
        socket.create_connection(("127.0.0.1", 5000), timeout=2).close()
    except OSError:
        cloud_unavailable(
            "OpenStack test cloud not running: Keystone does not answer on 127.0.0.1:5000"
        )
    import openstack
    from openstack.config.loader import OpenStackConfig

    config = OpenStackConfig(config_files=[str(layout.clouds_yaml)], load_envvars=False)
    conn = openstack.connection.Connection(config=config.get_one(cloud="osk8s-admin"))
    yield conn
    conn.close()


class World:
    """A project, a user in a group with the member role on it, made for one test module."""

    def __init__(self, admin: Any) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.admin = admin
        self.password = f"pw-{uuid.uuid4().hex}"
        identity = admin.identity
        self.domain = identity.find_domain("default") or identity.find_domain("Default")
        self.project = identity.create_project(name=f"osk8s-ka-{suffix}", domain_id=self.domain.id)
        self.user = identity.create_user(
            name=f"osk8s-ka-user-{suffix}", password=self.password, domain_id=self.domain.id
        )
        self.group = identity.create_group(
            name=f"osk8s-ka-group-{suffix}", domain_id=self.domain.id
        )
        identity.add_user_to_group(self.user, self.group)
        self.role = identity.find_role("member")
        identity.assign_project_role_to_user(self.project, self.user, self.role)

    def login(self) -> ClientOptions:
        return ClientOptions(
            keystone_url=KEYSTONE,
            user_name=self.user.name,
            project_name=self.project.name,
            domain_name="Default",
            password=SecretStr(self.password),
        )

    def close(self) -> None:
        identity = self.admin.identity
        identity.delete_user(self.user, ignore_missing=True)
        identity.delete_group(self.group, ignore_missing=True)
        identity.delete_project(self.project, ignore_missing=True)


@pytest.fixture(scope="module")
def world(admin: Any) -> Iterator[World]:
    made = World(admin)
    yield made
    made.close()


@pytest.fixture
def webhook(
    tls_files: TlsFiles, tmp_path: Path, world: World, cache_clock: SkewedClock
) -> Iterator[Webhook]:
    policy = tmp_path / "policy.json"
    gate = {"roles": ["member"], "projects": [world.project.name]}
    policy.write_text(json.dumps([{"users": gate, "resource_permissions": {"*/pods": ["get"]}}]))
    hook = build(
        replace(
            options(tls_files, FakeKeystone(url=KEYSTONE)),
            keystone_policy_file=str(policy),
            token_cache_ttl=30.0,
        ),
        logger=get_logger("contract"),
        environ={},
        clock=cache_clock,
    ).start()
    yield hook
    hook.stop()


def post(hook: Webhook, tls: TlsFiles, body: dict[str, Any]) -> requests.Response:
    host, port = hook.server.address
    return requests.post(f"https://{host}:{port}/webhook", json=body, verify=tls.cert, timeout=30)


def test_keystone_contract_password_login_and_token_review(
    world: World, webhook: Webhook, tls_files: TlsFiles
) -> None:
    token, expires = keystone_issuer(world.login())
    assert expires.timestamp() > time.time()
    response = post(webhook, tls_files, token_review(token.reveal()))
    assert response.status_code == 200, response.text
    user = response.json()["status"]["user"]
    assert user["username"] == world.user.name
    assert user["uid"] == world.user.id
    assert user["groups"] == [world.group.name, world.project.id]
    assert "member" in user["extra"][ROLES]
    assert user["extra"][PROJECT_ID] == [world.project.id]
    assert user["extra"][PROJECT_NAME] == [world.project.name]
    calls = webhook.keystone.calls
    assert post(webhook, tls_files, token_review(token.reveal())).status_code == 200
    assert webhook.keystone.calls == calls  # within the TTL: no Keystone call


def test_keystone_contract_application_credential(
    world: World, webhook: Webhook, tls_files: TlsFiles
) -> None:
    token, _ = keystone_issuer(world.login())
    # The user creates its own application credential with its own token.
    body = {"application_credential": {"name": f"ac-{uuid.uuid4().hex[:6]}"}}
    created = requests.post(
        f"{KEYSTONE}/users/{world.user.id}/application_credentials",
        json=body,
        headers={"X-Auth-Token": token.reveal()},
        timeout=30,
    )
    if created.status_code == 409 and "Duplicate entry" in created.text:
        # The test cloud's sqlite Keystone leaves application_credential_role rows behind when a
        # user is deleted with its credentials (no FK cascade in sqlite); the next credential
        # reuses the internal id and every create fails. Not ours: reported to the lead.
        pytest.skip("test cloud Keystone cannot store application credentials (orphan role rows)")
    assert created.status_code == 201, created.text
    cred = created.json()["application_credential"]
    try:
        app_token, _ = keystone_issuer(
            ClientOptions(
                keystone_url=KEYSTONE,
                application_credential_id=cred["id"],
                application_credential_secret=SecretStr(cred["secret"]),
            )
        )
        response = post(webhook, tls_files, token_review(app_token.reveal()))
        assert response.status_code == 200
        assert response.json()["status"]["user"]["extra"][PROJECT_ID] == [world.project.id]
    finally:
        # Deleted through the API, so Keystone removes its role rows too (see the skip above).
        requests.delete(
            f"{KEYSTONE}/users/{world.user.id}/application_credentials/{cred['id']}",
            headers={"X-Auth-Token": token.reveal()},
            timeout=30,
        )


def test_keystone_contract_revoked_token_denied_after_ttl(
    world: World, webhook: Webhook, tls_files: TlsFiles, admin: Any, cache_clock: SkewedClock
) -> None:
    token, _ = keystone_issuer(world.login())
    assert post(webhook, tls_files, token_review(token.reveal())).status_code == 200
    revoke = requests.delete(
        f"{KEYSTONE}/auth/tokens",
        headers={"X-Auth-Token": admin.session.get_token(), "X-Subject-Token": token.reveal()},
        timeout=30,
    )
    assert revoke.status_code == 204
    cache_clock.advance(31)  # past the webhook's TTL in this module
    assert post(webhook, tls_files, token_review(token.reveal())).status_code == 401


def test_keystone_contract_exec_plugin_binary(
    world: World, webhook: Webhook, tls_files: TlsFiles, tmp_path: Path
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "OS_AUTH_URL": KEYSTONE,
        "OS_USERNAME": world.user.name,
        "OS_PROJECT_NAME": world.project.name,
        "OS_DOMAIN_NAME": "Default",
        "OS_PASSWORD": world.password,
        "KUBERNETES_EXEC_INFO": json.dumps(
            {
                "apiVersion": "client.authentication.k8s.io/v1",
                "kind": "ExecCredential",
                "spec": {"interactive": False},
            }
        ),
    }
    binary = str(Path(sys.executable).parent / "client-keystone-auth")
    result = run_plugin([binary], env)
    assert result.returncode == 0, result.stderr
    credential = json.loads(result.stdout)
    assert credential["apiVersion"] == "client.authentication.k8s.io/v1"
    assert credential["status"]["expirationTimestamp"].endswith("Z")
    assert world.password not in result.stderr
    response = post(webhook, tls_files, token_review(credential["status"]["token"]))
    assert response.json()["status"]["user"]["username"] == world.user.name
    # Wrong password: an empty ExecCredential, exit 0 (as CPO).
    bad = run_plugin([binary, "--password", "wrong", "--no-token-cache"], env)
    assert bad.returncode == 0, bad.stderr
    assert json.loads(bad.stdout)["status"] == {}
    assert "Invalid user credentials" in bad.stderr


def test_keystone_contract_bad_password_gives_empty_credential(world: World) -> None:
    from osk8s_core import errors

    with pytest.raises(errors.Unauthorized):
        keystone_issuer(replace(world.login(), password=SecretStr("wrong")))


def test_keystone_contract_through_kube_apiserver(
    world: World, webhook: Webhook, tls_files: TlsFiles, kube_api_factory: KubeApiFactory
) -> None:
    host, port = webhook.server.address
    hook_url = f"https://{host}:{port}/webhook"
    server = kube_api_factory(
        webhooks=WebhookConfig(
            token_review_url=hook_url, authorization_url=hook_url, verify=tls_files.cert
        )
    )
    api = server.api_client()
    token, _ = keystone_issuer(world.login())
    review = client.AuthenticationV1Api(api).create_token_review(
        {"spec": {"token": token.reveal()}}
    )
    assert review.status.authenticated is True
    u = review.status.user
    spec = {"user": u.username, "uid": u.uid, "groups": u.groups, "extra": u.extra}
    sar = client.AuthorizationV1Api(api).create_subject_access_review(
        {
            "spec": {
                **spec,
                "resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"},
            }
        }
    )
    assert sar.status.allowed is True
    sar = client.AuthorizationV1Api(api).create_subject_access_review(
        {
            "spec": {
                **spec,
                "resourceAttributes": {
                    "namespace": "default",
                    "verb": "get",
                    "resource": "secrets",
                },
            }
        }
    )
    assert sar.status.allowed is False


@pytest.mark.parametrize(
    "auth_url", ["http://127.0.0.1:5000", "http://127.0.0.1:5000/", f"{KEYSTONE}/", KEYSTONE]
)
def test_keystone_contract_v3_discovered_from_the_auth_url(
    world: World, tls_files: TlsFiles, auth_url: str
) -> None:
    hook = build(
        replace(options(tls_files, FakeKeystone(url=auth_url)), token_cache_ttl=0.0),
        logger=get_logger("contract"),
        environ={},
    ).start()
    try:
        assert hook.keystone.prepare() == KEYSTONE
        token, _ = keystone_issuer(world.login())
        response = post(hook, tls_files, token_review(token.reveal()))
        assert response.status_code == 200, response.text
        assert response.json()["status"]["user"]["uid"] == world.user.id
    finally:
        hook.stop()


def test_keystone_contract_user_in_many_groups(
    world: World, webhook: Webhook, tls_files: TlsFiles, admin: Any
) -> None:
    identity = admin.identity
    suffix = uuid.uuid4().hex[:8]
    user = identity.create_user(
        name=f"osk8s-ka-many-{suffix}", password=world.password, domain_id=world.domain.id
    )
    groups = [
        identity.create_group(name=f"osk8s-ka-many-{i}-{suffix}", domain_id=world.domain.id)
        for i in range(3)
    ]
    try:
        for group in groups:
            identity.add_user_to_group(user, group)
        identity.assign_project_role_to_user(world.project, user, world.role)
        token, _ = keystone_issuer(replace(world.login(), user_name=user.name))
        response = post(webhook, tls_files, token_review(token.reveal()))
        assert response.status_code == 200, response.text
        got = response.json()["status"]["user"]["groups"]
        assert sorted(got) == sorted([*(g.name for g in groups), world.project.id])
        # Keystone pins (29.0): asked for a page of a user's groups smaller than the list, it
        # fails building the next link (500), which is why the webhook never sends `limit`.
        limited = requests.get(
            f"{KEYSTONE}/users/{user.id}/groups?limit=2",
            headers={"X-Auth-Token": token.reveal()},
            timeout=30,
        )
        assert limited.status_code == 500
    finally:
        identity.delete_user(user, ignore_missing=True)
        for group in groups:
            identity.delete_group(group, ignore_missing=True)


def test_keystone_contract_pages_followed_along_links_next(
    world: World, webhook: Webhook, admin: Any
) -> None:
    """Real Keystone pages /v3/groups (limit + marker, links.next): the walker gets them all."""
    identity = admin.identity
    suffix = uuid.uuid4().hex[:8]
    made = [
        identity.create_group(name=f"osk8s-ka-page-{i}-{suffix}", domain_id=world.domain.id)
        for i in range(3)
    ]
    try:
        token = SecretStr(admin.session.get_token())
        calls = webhook.keystone.calls
        paged = webhook.keystone.list_all(f"{KEYSTONE}/groups?limit=1", "groups", token)
        ids = [g["id"] for g in paged]
        assert {g.id for g in made} <= set(ids)
        assert len(ids) == len(set(ids))  # no page twice
        assert webhook.keystone.calls - calls >= len(ids)  # one page per group
    finally:
        for group in made:
            identity.delete_group(group, ignore_missing=True)


@pytest.fixture(scope="module")
def zipapp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .test_keystone_zipapp import builder

    return Path(builder.build(tmp_path_factory.mktemp("zipapp") / "client-keystone-auth.pyz"))


@pytest.fixture(scope="module")
def app_credential(world: World) -> Iterator[dict[str, str]]:
    """An application credential of the world's user, made with the user's own token."""
    token, _ = keystone_issuer(world.login())
    headers = {"X-Auth-Token": token.reveal()}
    created = requests.post(
        f"{KEYSTONE}/users/{world.user.id}/application_credentials",
        json={"application_credential": {"name": f"ac-zip-{uuid.uuid4().hex[:6]}"}},
        headers=headers,
        timeout=30,
    )
    if created.status_code == 409 and "Duplicate entry" in created.text:
        pytest.skip("test cloud Keystone cannot store application credentials (orphan role rows)")
    assert created.status_code == 201, created.text
    cred = created.json()["application_credential"]
    yield {"id": cred["id"], "name": cred["name"], "secret": cred["secret"]}
    requests.delete(
        f"{KEYSTONE}/users/{world.user.id}/application_credentials/{cred['id']}",
        headers=headers,
        timeout=30,
    )


def run_plugin(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The exec plugin as kubectl runs it: no terminal, the environment given, output kept."""
    return subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def run_zipapp(pyz: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """As on a laptop: the bare interpreter, isolated (-I) and without site-packages (-S)."""
    from .test_keystone_zipapp import bare_python

    return run_plugin([bare_python(), "-I", "-S", str(pyz), *args], env)


def exec_info(version: str) -> str:
    return json.dumps(
        {"apiVersion": version, "kind": "ExecCredential", "spec": {"interactive": False}}
    )


@pytest.mark.parametrize(
    "version", ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"]
)
@pytest.mark.parametrize("method", ["password", "application-credential"])
def test_keystone_contract_zipapp_on_bare_python(  # noqa: PLR0917 - fixtures
    world: World,
    webhook: Webhook,
    tls_files: TlsFiles,
    zipapp: Path,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    version: str,
    method: str,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "KUBERNETES_EXEC_INFO": exec_info(version)}
    if method == "password":
        env |= {
            "OS_AUTH_URL": "http://127.0.0.1:5000",  # discovered, not "/v3" appended
            "OS_USERNAME": world.user.name,
            "OS_PROJECT_NAME": world.project.name,
            "OS_DOMAIN_NAME": "Default",
            "OS_PASSWORD": world.password,
        }
        secret = world.password
    else:
        cred = request.getfixturevalue("app_credential")
        env |= {
            "OS_AUTH_URL": KEYSTONE,
            "OS_APPLICATION_CREDENTIAL_ID": cred["id"],
            "OS_APPLICATION_CREDENTIAL_SECRET": cred["secret"],
        }
        secret = cred["secret"]
    result = run_zipapp(zipapp, env)
    assert result.returncode == 0, result.stderr
    credential = json.loads(result.stdout)
    assert credential["apiVersion"] == version
    assert credential["kind"] == "ExecCredential"
    assert credential["status"]["expirationTimestamp"].endswith("Z")
    assert secret not in result.stderr
    response = post(webhook, tls_files, token_review(credential["status"]["token"]))
    assert response.status_code == 200, response.text
    user = response.json()["status"]["user"]
    assert user["uid"] == world.user.id
    assert user["extra"][PROJECT_ID] == [world.project.id]
    assert list(home.iterdir()) == []  # nothing written to disk by default


def test_keystone_contract_zipapp_cache_opt_in_and_bad_password(
    world: World, zipapp: Path, tmp_path: Path
) -> None:
    cache_dir = tmp_path / "tokens"
    env = {
        "HOME": str(tmp_path),
        "OS_AUTH_URL": KEYSTONE,
        "OS_USERNAME": world.user.name,
        "OS_PROJECT_NAME": world.project.name,
        "OS_DOMAIN_NAME": "Default",
        "OS_PASSWORD": world.password,
        "OSK8S_KEYSTONE_TOKEN_CACHE_DIR": str(cache_dir),
    }
    first = json.loads(run_zipapp(zipapp, env).stdout)["status"]["token"]
    second = json.loads(run_zipapp(zipapp, env).stdout)["status"]["token"]
    assert first == second  # reused from the cache
    (cached,) = cache_dir.iterdir()
    assert cached.stat().st_mode & 0o777 == 0o600
    assert world.password not in cached.read_text()
    bad = run_zipapp(zipapp, {**env, "OS_PASSWORD": "wrong"}, "--no-token-cache")
    assert bad.returncode == 0, bad.stderr
    assert json.loads(bad.stdout)["status"] == {}
    assert "Invalid user credentials were provided" in bad.stderr
