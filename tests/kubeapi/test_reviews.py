"""TokenReview / SubjectAccessReview forwarded to a webhook as kube-apiserver calls it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from kubernetes import client

from osk8s_testing.kubeapi import KubeApiServer, WebhookConfig
from osk8s_testing.kubeapi.fixtures import KubeApiFactory
from osk8s_testing.kubeapi.review_webhook import ReviewWebhook


@pytest.fixture
def webhook() -> Iterator[ReviewWebhook]:
    hook = ReviewWebhook()
    yield hook
    hook.close()


def test_token_review_passthrough(kube_api_factory: KubeApiFactory, webhook: ReviewWebhook) -> None:
    server = kube_api_factory(webhooks=WebhookConfig(token_review_url=webhook.url))
    webhook.status = {
        "authenticated": True,
        "user": {
            "username": "alice",
            "uid": "u1",
            "groups": ["devs"],
            "extra": {"alpha.kubernetes.io/identity/project/id": ["p1"]},
        },
    }
    review = client.AuthenticationV1Api(server.api_client()).create_token_review(
        {"spec": {"token": "keystone-token", "audiences": ["api"]}}
    )
    assert review.status.authenticated is True
    assert review.status.user.username == "alice"
    assert review.status.user.groups == ["devs"]
    sent = webhook.requests[0]
    assert sent["path"] == "/webhook"
    assert sent["body"]["apiVersion"] == "authentication.k8s.io/v1"
    assert sent["body"]["kind"] == "TokenReview"
    assert sent["body"]["spec"] == {"token": "keystone-token", "audiences": ["api"]}


def test_subject_access_review_passthrough(
    kube_api_factory: KubeApiFactory, webhook: ReviewWebhook
) -> None:
    server = kube_api_factory(webhooks=WebhookConfig(authorization_url=webhook.url))
    webhook.status = {"allowed": False, "denied": True, "reason": "policy says no"}
    spec = {
        "user": "alice",
        "groups": ["devs"],
        "resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"},
    }
    review = client.AuthorizationV1Api(server.api_client()).create_subject_access_review(
        {"spec": spec}
    )
    assert review.status.allowed is False
    assert review.status.denied is True
    assert review.status.reason == "policy says no"
    sent = webhook.requests[0]["body"]
    assert sent["kind"] == "SubjectAccessReview"
    assert sent["apiVersion"] == "authorization.k8s.io/v1"
    assert sent["spec"] == spec


def test_unreachable_webhook_reports_error(kube_api_factory: KubeApiFactory) -> None:
    server = kube_api_factory(
        webhooks=WebhookConfig(token_review_url="http://127.0.0.1:9/none", timeout=2)
    )
    review = client.AuthenticationV1Api(server.api_client()).create_token_review(
        {"spec": {"token": "t"}}
    )
    assert review.status.authenticated is False
    assert "webhook call failed" in review.status.error


def test_no_webhook_denies(api_client: client.ApiClient) -> None:
    review = client.AuthorizationV1Api(api_client).create_subject_access_review(
        {"spec": {"user": "bob", "nonResourceAttributes": {"path": "/healthz", "verb": "get"}}}
    )
    assert review.status.allowed is False


def test_invalid_review_is_422(kube_api: KubeApiServer) -> None:
    # the typed client refuses these bodies itself, so send them raw
    token = requests.post(
        f"{kube_api.url}/apis/authentication.k8s.io/v1/tokenreviews",
        json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {}},
        timeout=30,
    )
    assert token.status_code == 422
    access = requests.post(
        f"{kube_api.url}/apis/authorization.k8s.io/v1/subjectaccessreviews",
        json={"spec": {"user": "x"}},
        timeout=30,
    )
    assert access.status_code == 422
    assert access.json()["reason"] == "Invalid"


def _keystone_like(body: dict[str, Any]) -> dict[str, Any]:
    """alice (token 'good') may read configmaps in default, nothing else."""
    if body["kind"] == "TokenReview":
        if body["spec"]["token"] == "good":
            return {"authenticated": True, "user": {"username": "alice", "groups": ["devs"]}}
        return {"authenticated": False}
    attrs = body["spec"].get("resourceAttributes") or {}
    allowed = (
        body["spec"]["user"] == "alice"
        and attrs.get("resource") == "configmaps"
        and attrs.get("verb") in ("get", "list", "watch")
        and attrs.get("namespace") == "default"
    )
    return {"allowed": allowed, **({} if allowed else {"reason": "not in policy"})}


def test_guarded_requests_go_through_both_webhooks(
    kube_api_factory: KubeApiFactory, webhook: ReviewWebhook
) -> None:
    server = kube_api_factory(
        webhooks=WebhookConfig(
            token_review_url=webhook.url, authorization_url=webhook.url, guard_requests=True
        )
    )
    webhook.decide = _keystone_like
    alice = client.CoreV1Api(server.api_client(token="good"))
    assert alice.list_namespaced_config_map("default").items == []
    with pytest.raises(client.ApiException) as denied:
        alice.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    assert denied.value.status == 403
    body = json.loads(denied.value.body)
    assert body["reason"] == "Forbidden"
    assert 'User "alice" cannot create resource "configmaps"' in body["message"]
    stranger = client.CoreV1Api(server.api_client(token="bad"))
    with pytest.raises(client.ApiException) as unauthorized:
        stranger.list_namespaced_config_map("default")
    assert unauthorized.value.status == 401
    reviews = [r["body"] for r in webhook.requests if r["body"]["kind"] == "SubjectAccessReview"]
    assert reviews[0]["spec"]["resourceAttributes"] == {
        "verb": "list",
        "group": "",
        "version": "v1",
        "resource": "configmaps",
        "namespace": "default",
    }
    assert reviews[0]["spec"]["groups"] == ["devs"]
    health = requests.get(f"{server.url}/healthz", timeout=30)
    assert health.status_code == 200
