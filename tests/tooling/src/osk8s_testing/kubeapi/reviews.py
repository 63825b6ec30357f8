"""TokenReview and SubjectAccessReview, answered by a configurable webhook as kube-apiserver does.

A created review is POSTed to the webhook the way kube-apiserver's webhook token authenticator
and webhook authorizer call it (``authentication.k8s.io/v1`` TokenReview with spec.token and
audiences; ``authorization.k8s.io/v1`` SubjectAccessReview with the spec), and the webhook's
``status`` is returned in the created object. Without a webhook, or when it fails, the status
reports the failure (unauthenticated / not allowed with an error). Tokens are never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests

from osk8s_testing.kubeapi.errors import invalid

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookConfig:
    token_review_url: str | None = None
    """Where TokenReviews go (the Keystone webhook's /webhook), or None to reject all tokens."""
    authorization_url: str | None = None
    """Where SubjectAccessReviews go, or None to deny everything."""
    verify: bool | str = True
    """requests' verify: a CA bundle path for a self-signed webhook, or False."""
    timeout: float = 10.0
    """Seconds per webhook call."""
    guard_requests: bool = False
    """Also authenticate and authorize every API request through these webhooks (401/403), as
    kube-apiserver does with a token webhook and ``--authorization-mode=Webhook``."""


class ReviewForwarder:
    def __init__(self, *, config: WebhookConfig) -> None:
        self._config = config

    def token_review(self, body: dict[str, Any]) -> dict[str, Any]:
        spec = dict(body.get("spec") or {})
        if not spec.get("token"):
            raise invalid(
                "TokenReview", "authentication.k8s.io", "", "spec.token", "Required value"
            )
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "metadata": {"creationTimestamp": None},
            "spec": {k: v for k, v in spec.items() if k in ("token", "audiences")},
        }
        url = self._config.token_review_url
        status = (
            self._call(url, request, failed={"authenticated": False})
            if url
            else {"authenticated": False, "error": "no token review webhook configured"}
        )
        return {**request, "metadata": dict(body.get("metadata") or {}), "status": status}

    def subject_access_review(self, body: dict[str, Any]) -> dict[str, Any]:
        spec = dict(body.get("spec") or {})
        has_resource = "resourceAttributes" in spec
        has_nonresource = "nonResourceAttributes" in spec
        if has_resource == has_nonresource:
            raise invalid(
                "SubjectAccessReview",
                "authorization.k8s.io",
                "",
                "spec",
                "Invalid value: exactly one of nonResourceAttributes or resourceAttributes "
                "must be specified",
            )
        if not spec.get("user") and not spec.get("groups"):
            raise invalid(
                "SubjectAccessReview",
                "authorization.k8s.io",
                "",
                "spec.user",
                "Invalid value: at least one of user or group must be specified",
            )
        request = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
        }
        url = self._config.authorization_url
        status = (
            self._call(url, request, failed={"allowed": False})
            if url
            else {"allowed": False, "reason": "no authorization webhook configured"}
        )
        return {**request, "metadata": dict(body.get("metadata") or {}), "status": status}

    def _call(self, url: str, request: dict[str, Any], *, failed: dict[str, Any]) -> dict[str, Any]:
        error_field = "error" if "authenticated" in failed else "evaluationError"
        try:
            # one connection per call: a shared Session is not thread-safe, and a lock could
            # deadlock when the webhook itself calls back into this (guarded) server
            response = requests.post(
                url, json=request, timeout=self._config.timeout, verify=self._config.verify
            )
        except requests.RequestException as exc:
            _log.warning("review webhook %s unreachable: %s", url, type(exc).__name__)
            return {**failed, error_field: f"webhook call failed: {type(exc).__name__}"}
        if response.status_code != 200:
            return {**failed, error_field: f"webhook returned HTTP {response.status_code}"}
        try:
            status = response.json().get("status")
        except ValueError:
            status = None
        if not isinstance(status, dict):
            return {**failed, error_field: "webhook response has no status"}
        return status
