"""The webhook end to end: TLS server on 127.0.0.1:0, fake Keystone at the wire, and the
in-memory kube-apiserver calling us through its TokenReview/SubjectAccessReview passthrough."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from kubernetes import client

from osk8s_core.logging import get_logger
from osk8s_keystone_auth.identity import DOMAIN_ID, DOMAIN_NAME, PROJECT_ID, PROJECT_NAME, ROLES
from osk8s_keystone_auth.options import ServerOptions
from osk8s_keystone_auth.service import Webhook, build
from osk8s_testing.kubeapi import WebhookConfig
from osk8s_testing.kubeapi.fixtures import KubeApiFactory

from .conftest import FakeKeystone, FakeUser, SkewedClock, TlsFiles

POLICY = [
    {
        "resource": {
            "verbs": ["get", "list"],
            "resources": ["pods"],
            "version": "*",
            "namespace": "default",
        },
        "match": [{"type": "role", "values": ["member"]}],
    },
    {"nonresource_permissions": {"/healthz": ["get"]}},
]


def options(tls: TlsFiles, keystone: FakeKeystone, **kw: Any) -> ServerOptions:
    base = ServerOptions(
        listen="127.0.0.1:0",
        tls_cert_file=tls.cert,
        tls_private_key_file=tls.key,
        keystone_url=keystone.url,
        keystone_ca_file="",
        keystone_policy_file="",
        policy_configmap_name="",
        sync_config_file="",
        sync_configmap_name="",
        kubeconfig="",
        user_agent=("test",),
        token_cache_ttl=60.0,
        token_cache_size=100,
        threads=4,
        verbosity=2,
        log_format="json",
    )
    return replace(base, **kw)


@pytest.fixture
def policy_file(tmp_path: Path) -> str:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(POLICY))
    return str(path)


@pytest.fixture
def start() -> Iterator[Callable[[ServerOptions], Webhook]]:
    started: list[Webhook] = []

    def run(opts: ServerOptions, **kw: Any) -> Webhook:
        hook = build(opts, logger=get_logger("test"), environ={}, **kw).start()
        started.append(hook)
        return hook

    yield run
    for hook in started:
        hook.stop()


def url(hook: Webhook, path: str = "/webhook") -> str:
    host, port = hook.server.address
    return f"https://{host}:{port}{path}"


def token_review(token: str, version: str = "authentication.k8s.io/v1") -> dict[str, Any]:
    return {"apiVersion": version, "kind": "TokenReview", "spec": {"token": token}}


@pytest.fixture
def alice(fake_keystone: FakeKeystone) -> FakeUser:
    user = FakeUser(user_id="u-alice", name="alice", groups=("devs",), roles=("member", "reader"))
    fake_keystone.tokens["tok-alice"] = user
    return user


def test_keystone_token_review_v1_and_v1beta1(
    start: Any, tls_files: TlsFiles, fake_keystone: FakeKeystone, alice: FakeUser
) -> None:
    hook = start(options(tls_files, fake_keystone))
    for version in ("authentication.k8s.io/v1", "authentication.k8s.io/v1beta1"):
        response = requests.post(
            url(hook), json=token_review("tok-alice", version), verify=tls_files.cert, timeout=10
        )
        assert response.status_code == 200
        body = response.json()
        assert body["apiVersion"] == version
        assert body["kind"] == "TokenReview"
        assert "spec" not in body  # the token is never echoed back
        status = body["status"]
        assert status["authenticated"] is True
        assert status["user"] == {
            "username": "alice",
            "uid": "u-alice",
            "groups": ["devs", "p-1"],
            "extra": {
                ROLES: ["member", "reader"],
                PROJECT_ID: ["p-1"],
                PROJECT_NAME: ["demo"],
                DOMAIN_ID: ["default"],
                DOMAIN_NAME: ["Default"],
            },
        }
    # Version discovery once; two reviews, one validation (token without catalog + groups).
    assert fake_keystone.calls == [
        "/v3",
        "/v3/auth/tokens?nocatalog",
        "/v3/users/u-alice/groups",
    ]


def test_keystone_bad_token_is_401_unauthenticated(
    start: Any, tls_files: TlsFiles, fake_keystone: FakeKeystone, alice: FakeUser
) -> None:
    hook = start(options(tls_files, fake_keystone))
    response = requests.post(
        url(hook), json=token_review("nope"), verify=tls_files.cert, timeout=10
    )
    assert response.status_code == 401
    assert response.json()["status"]["authenticated"] is False
    assert "nope" not in response.text


def test_keystone_unscoped_token_is_refused(
    start: Any, tls_files: TlsFiles, fake_keystone: FakeKeystone
) -> None:
    fake_keystone.tokens["unscoped"] = FakeUser(user_id="u2", name="bob", scoped=False)
    hook = start(options(tls_files, fake_keystone))
    response = requests.post(
        url(hook), json=token_review("unscoped"), verify=tls_files.cert, timeout=10
    )
    assert response.status_code == 401
    assert response.json()["status"]["error"] == "token is not project-scoped"


def test_keystone_down_honours_cache_only_within_ttl(
    start: Any,
    tls_files: TlsFiles,
    fake_keystone: FakeKeystone,
    alice: FakeUser,
    cache_clock: SkewedClock,
) -> None:
    hook = start(options(tls_files, fake_keystone, token_cache_ttl=30.0), clock=cache_clock)
    ok = requests.post(url(hook), json=token_review("tok-alice"), verify=tls_files.cert, timeout=10)
    assert ok.status_code == 200
    fake_keystone.down = True
    fake_keystone.tokens["tok-new"] = alice
    again = requests.post(
        url(hook), json=token_review("tok-alice"), verify=tls_files.cert, timeout=10
    )
    assert again.status_code == 200 and again.json()["status"]["authenticated"] is True
    new = requests.post(url(hook), json=token_review("tok-new"), verify=tls_files.cert, timeout=10)
    assert new.status_code == 401
    cache_clock.advance(31)  # past the TTL, Keystone still down: the token is valid but not trusted
    late = requests.post(
        url(hook), json=token_review("tok-alice"), verify=tls_files.cert, timeout=10
    )
    assert late.status_code == 401
    assert late.json()["status"] == {"authenticated": False, "error": "Keystone is unavailable"}


def test_keystone_subject_access_review_versions(
    start: Any, tls_files: TlsFiles, fake_keystone: FakeKeystone, policy_file: str
) -> None:
    hook = start(options(tls_files, fake_keystone, keystone_policy_file=policy_file))
    extra = {ROLES: ["member"], PROJECT_ID: ["p-1"]}
    for version, groups_key in (
        ("authorization.k8s.io/v1", "groups"),
        ("authorization.k8s.io/v1beta1", "group"),
    ):
        review = {
            "apiVersion": version,
            "kind": "SubjectAccessReview",
            "spec": {
                "user": "alice",
                groups_key: ["devs"],
                "extra": extra,
                "resourceAttributes": {"namespace": "default", "verb": "list", "resource": "pods"},
            },
        }
        response = requests.post(
            url(hook, "/authorize"), json=review, verify=tls_files.cert, timeout=10
        )
        assert response.status_code == 200
        body = response.json()
        assert body["apiVersion"] == version and "spec" not in body
        assert body["status"] == {"allowed": True}
        review["spec"]["resourceAttributes"]["verb"] = "delete"
        denied = requests.post(url(hook), json=review, verify=tls_files.cert, timeout=10).json()
        assert denied["status"] == {"allowed": False, "reason": "No policy matched."}


def test_keystone_no_policy_denies(
    start: Any, tls_files: TlsFiles, fake_keystone: FakeKeystone
) -> None:
    hook = start(options(tls_files, fake_keystone))
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "alice",
            "extra": {ROLES: ["admin"]},
            "nonResourceAttributes": {"path": "/", "verb": "get"},
        },
    }
    body = requests.post(url(hook), json=review, verify=tls_files.cert, timeout=10).json()
    assert body["status"]["allowed"] is False


@pytest.mark.parametrize(
    ("path", "payload", "fragment"),
    [
        ("/webhook", "not json", "JSON object"),
        ("/webhook", {"apiVersion": "v1", "kind": "Pod", "spec": {}}, "unknown kind/apiVersion"),
        (
            "/webhook",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {}},
            "spec.token",
        ),
        (
            "/webhook",
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {"user": "a"},
            },
            "exactly one of",
        ),
        (
            "/webhook",
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {"user": 5, "nonResourceAttributes": {}},
            },
            "spec.user must be a string",
        ),
        ("/authorize", token_review("x"), "accepts AccessReview"),
        (
            "/authenticate",
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {"user": "a", "nonResourceAttributes": {}},
            },
            "accepts TokenReview",
        ),
    ],
)
def test_keystone_malformed_review_is_400(  # noqa: PLR0917 - pytest fixtures
    start: Any,
    tls_files: TlsFiles,
    fake_keystone: FakeKeystone,
    path: str,
    payload: Any,
    fragment: str,
) -> None:
    hook = start(options(tls_files, fake_keystone))
    data = payload if isinstance(payload, str) else json.dumps(payload)
    response = requests.post(url(hook, path), data=data, verify=tls_files.cert, timeout=10)
    assert response.status_code == 400
    assert fragment in response.text


def test_keystone_healthz_and_metrics(
    start: Any, tls_files: TlsFiles, fake_keystone: FakeKeystone, alice: FakeUser
) -> None:
    hook = start(options(tls_files, fake_keystone))
    requests.post(url(hook), json=token_review("tok-alice"), verify=tls_files.cert, timeout=10)
    requests.post(url(hook), json=token_review("tok-alice"), verify=tls_files.cert, timeout=10)
    assert requests.get(url(hook, "/healthz"), verify=tls_files.cert, timeout=10).text == "ok\n"
    metrics = requests.get(url(hook, "/metrics"), verify=tls_files.cert, timeout=10).text
    assert 'keystone_auth_token_cache_lookups_total{result="hit"} 1.0' in metrics
    assert 'openstack_api_requests_total{request="token_validate"} 1.0' in metrics
    assert (
        'keystone_auth_review_duration_seconds_count{kind="TokenReview",result="authenticated"} 2.0'
        in metrics
    )


def test_keystone_plain_http_is_refused(
    start: Any, tls_files: TlsFiles, fake_keystone: FakeKeystone
) -> None:
    hook = start(options(tls_files, fake_keystone))
    host, port = hook.server.address
    with pytest.raises(requests.RequestException):
        requests.post(
            f"http://{host}:{port}/webhook", json=token_review("x"), timeout=5
        ).raise_for_status()


def test_keystone_kube_apiserver_passthrough(  # noqa: PLR0917 - pytest fixtures
    start: Any,
    tls_files: TlsFiles,
    fake_keystone: FakeKeystone,
    alice: FakeUser,
    policy_file: str,
    kube_api_factory: KubeApiFactory,
) -> None:
    hook = start(options(tls_files, fake_keystone, keystone_policy_file=policy_file))
    server = kube_api_factory(
        webhooks=WebhookConfig(
            token_review_url=url(hook, "/webhook"),
            authorization_url=url(hook, "/webhook"),
            verify=tls_files.cert,
        )
    )
    api = server.api_client()
    review = client.AuthenticationV1Api(api).create_token_review({"spec": {"token": "tok-alice"}})
    assert review.status.authenticated is True
    assert review.status.user.username == "alice"
    assert review.status.user.groups == ["devs", "p-1"]
    user = review.status.user
    sar = client.AuthorizationV1Api(api).create_subject_access_review(
        {
            "spec": {
                "user": user.username,
                "uid": user.uid,
                "groups": user.groups,
                "extra": user.extra,
                "resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"},
            }
        }
    )
    assert sar.status.allowed is True
    sar = client.AuthorizationV1Api(api).create_subject_access_review(
        {
            "spec": {
                "user": "alice",
                "extra": user.extra,
                "resourceAttributes": {
                    "namespace": "kube-system",
                    "verb": "get",
                    "resource": "secrets",
                },
            }
        }
    )
    assert sar.status.allowed is False
    bad = client.AuthenticationV1Api(api).create_token_review({"spec": {"token": "wrong"}})
    assert bad.status.authenticated is False
