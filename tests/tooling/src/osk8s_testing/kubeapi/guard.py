"""Optional request guard: every API call authenticated and authorized through the webhooks.

Mirrors kube-apiserver with ``--authentication-token-webhook-config-file`` and
``--authorization-mode=Webhook``: the bearer token goes out as a TokenReview (401 unless
authenticated), then the request's attributes as a SubjectAccessReview (403 unless allowed).
Health endpoints stay open. Builds review bodies only; the HTTP calls are the forwarder's.
"""

from __future__ import annotations

from typing import Any, Protocol

from osk8s_testing.kubeapi import routing
from osk8s_testing.kubeapi.errors import ApiError

_OPEN_PATHS = ("/healthz", "/livez", "/readyz")
_WRITE_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


class Reviewer(Protocol):
    def token_review(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def subject_access_review(self, body: dict[str, Any]) -> dict[str, Any]: ...


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def verb_for(method: str, target: routing.ResourcePath, watching: bool) -> str:
    """The authorization verb kube-apiserver derives from a resource request."""
    if method == "GET":
        if target.name is not None:
            return "get"
        return "watch" if watching else "list"
    if method == "DELETE":
        return "delete" if target.name is not None else "deletecollection"
    return _WRITE_VERBS.get(method, method.lower())


def attributes(method: str, path: str, watching: bool) -> dict[str, Any]:
    """``resourceAttributes`` or ``nonResourceAttributes`` for a SubjectAccessReview spec."""
    target = routing.parse(path)
    if not isinstance(target, routing.ResourcePath):
        return {"nonResourceAttributes": {"path": path, "verb": method.lower()}}
    resource: dict[str, Any] = {
        "verb": verb_for(method, target, watching),
        "group": target.group,
        "version": target.version,
        "resource": target.plural,
    }
    if target.namespace:
        resource["namespace"] = target.namespace
    if target.name:
        resource["name"] = target.name
    if target.subresource:
        resource["subresource"] = target.subresource
    return {"resourceAttributes": resource}


class RequestGuard:
    def __init__(self, *, reviewer: Reviewer) -> None:
        self._reviewer = reviewer

    def check(
        self, method: str, path: str, *, authorization: str, watching: bool
    ) -> dict[str, Any] | None:
        """Authenticate and authorize; returns the reviewed user (None on open paths)."""
        if path.rstrip("/") in _OPEN_PATHS:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized()
        review = self._reviewer.token_review({"spec": {"token": token.strip()}})
        status = review.get("status") or {}
        if not status.get("authenticated"):
            raise unauthorized()
        user = status.get("user") or {}
        spec: dict[str, Any] = {
            "user": user.get("username", ""),
            "groups": user.get("groups") or [],
            **attributes(method, path, watching),
        }
        for field in ("uid", "extra"):
            if user.get(field):
                spec[field] = user[field]
        decision = self._reviewer.subject_access_review({"spec": spec}).get("status") or {}
        if not decision.get("allowed"):
            raise _forbidden(spec, str(decision.get("reason") or ""))
        return dict(user)


def _forbidden(spec: dict[str, Any], reason: str) -> ApiError:
    user = spec["user"]
    if "resourceAttributes" in spec:
        attrs = spec["resourceAttributes"]
        where = f' in the namespace "{attrs["namespace"]}"' if attrs.get("namespace") else ""
        qualified = f"{attrs['resource']}.{attrs['group']}" if attrs["group"] else attrs["resource"]
        named = f' "{attrs["name"]}"' if attrs.get("name") else ""
        message = (
            f'{qualified}{named} is forbidden: User "{user}" cannot {attrs["verb"]} resource '
            f'"{attrs["resource"]}" in API group "{attrs["group"]}"{where}'
        )
    else:
        attrs = spec["nonResourceAttributes"]
        message = f'forbidden: User "{user}" cannot {attrs["verb"]} path "{attrs["path"]}"'
    if reason:
        message = f"{message}: {reason}"
    return ApiError(403, "Forbidden", message)
