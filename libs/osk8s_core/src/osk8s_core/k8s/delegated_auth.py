"""Delegated authentication and authorization, as k8s.io/apiserver's delegating options do it.

A request's bearer token is checked with a TokenReview (``authentication.k8s.io/v1``) and the
user's access with a SubjectAccessReview (``authorization.k8s.io/v1``, ``nonResourceAttributes``
with the path and the lower-cased HTTP method as verb), both created on the API server this
process is pointed at. Upstream's chain, kept here:

* no ``Authorization: Bearer`` header: the user is ``system:anonymous`` (group
  ``system:unauthenticated``) and is authorized like anyone else (so usually 403, not 401);
* a token the review rejects, or a review that cannot be made: 401 ``Unauthorized``;
* paths in the always-allow list (``*`` suffix = prefix) and users in ``system:masters`` skip
  the SubjectAccessReview; an allowed review passes; a denied one is 403 with
  ``forbidden: User "u" cannot get path "/p"`` (``: reason`` appended when given);
* a SubjectAccessReview that cannot be made, for a request not otherwise allowed: 500.

Decisions are cached as upstream does (tokens 10 s, allowed 10 s, denied 10 s by default);
review failures are not cached. Tokens are kept only as SHA-256 digests and never logged.
Client certificates (``--client-ca-file``) are not supported: such requests are anonymous.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

from kubernetes.client import (
    ApiClient,
    AuthenticationV1Api,
    AuthorizationV1Api,
    V1NonResourceAttributes,
    V1SubjectAccessReview,
    V1SubjectAccessReviewSpec,
    V1TokenReview,
    V1TokenReviewSpec,
)

_log = logging.getLogger(__name__)

ANONYMOUS_USER: Final = "system:anonymous"
UNAUTHENTICATED_GROUP: Final = "system:unauthenticated"
AUTHENTICATED_GROUP: Final = "system:authenticated"
PRIVILEGED_GROUP: Final = "system:masters"
_CACHE_LIMIT: Final = 4096

K = TypeVar("K")
V = TypeVar("V")


class ReviewUnavailable(Exception):
    """A TokenReview or SubjectAccessReview could not be made (API unreachable, error answer)."""


@dataclass(frozen=True)
class UserInfo:
    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Sorted (key, values) pairs, so a UserInfo is hashable and a cache key."""


ANONYMOUS: Final = UserInfo(username=ANONYMOUS_USER, groups=(UNAUTHENTICATED_GROUP,))


@dataclass(frozen=True)
class Refusal:
    """An HTTP answer that ends a request before its handler runs."""

    status: int
    body: bytes
    content_type: str


class _TtlCache(Generic[K, V]):
    """A small thread-safe map whose entries expire; oldest dropped beyond the limit."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._monotonic():
                del self._entries[key]
                return None
            return entry[1]

    def put(self, key: K, value: V, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (self._monotonic() + ttl, value)
            while len(self._entries) > _CACHE_LIMIT:
                del self._entries[next(iter(self._entries))]


def _user_from_status(user: Any) -> UserInfo:
    extra = getattr(user, "extra", None) or {}
    return UserInfo(
        username=str(getattr(user, "username", "") or ""),
        uid=str(getattr(user, "uid", "") or ""),
        groups=tuple(getattr(user, "groups", None) or ()),
        extra=tuple(sorted((str(k), tuple(v or ())) for k, v in extra.items())),
    )


class TokenReviewAuthenticator:
    """Bearer token -> user via TokenReview; answers cached by token digest for ``cache_ttl``."""

    def __init__(
        self,
        api: ApiClient,
        *,
        cache_ttl: float = 10.0,
        timeout: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = AuthenticationV1Api(api)
        self._cache_ttl = cache_ttl
        self._timeout = timeout
        # the value is a 1-tuple so that a cached rejection (None) differs from a miss
        self._cache: _TtlCache[str, tuple[UserInfo | None]] = _TtlCache(monotonic)
        self.reviews = 0
        """TokenReviews created (for tests and metrics)."""

    def authenticate(self, token: str) -> UserInfo | None:
        """The user, or None when the token is not valid. Raises ReviewUnavailable."""
        key = hashlib.sha256(token.encode()).hexdigest()
        cached = self._cache.get(key)
        if cached is not None:
            return cached[0]
        self.reviews += 1
        try:
            review = self._api.create_token_review(
                V1TokenReview(
                    api_version="authentication.k8s.io/v1",
                    kind="TokenReview",
                    spec=V1TokenReviewSpec(token=token),
                ),
                _request_timeout=self._timeout,
            )
        except Exception as exc:  # any client failure is "cannot authenticate", never a crash
            _log.warning("TokenReview failed: %s", type(exc).__name__)
            raise ReviewUnavailable(f"TokenReview failed: {type(exc).__name__}") from None
        status = review.status
        if status is None or not status.authenticated or status.user is None:
            if status is not None and status.error:
                _log.info("token rejected by TokenReview (review error reported)")
            self._cache.put(key, (None,), self._cache_ttl)
            return None
        user = _user_from_status(status.user)
        self._cache.put(key, (user,), self._cache_ttl)
        return user


@dataclass(frozen=True)
class _Decision:
    allowed: bool
    reason: str


class SubjectAccessReviewAuthorizer:
    """(user, verb, path) -> allowed? via SubjectAccessReview; cached per attributes."""

    def __init__(
        self,
        api: ApiClient,
        *,
        allow_ttl: float = 10.0,
        deny_ttl: float = 10.0,
        timeout: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = AuthorizationV1Api(api)
        self._allow_ttl = allow_ttl
        self._deny_ttl = deny_ttl
        self._timeout = timeout
        self._cache: _TtlCache[tuple[UserInfo, str, str], _Decision] = _TtlCache(monotonic)
        self.reviews = 0
        """SubjectAccessReviews created (for tests and metrics)."""

    def authorize(self, user: UserInfo, verb: str, path: str) -> tuple[bool, str]:
        """(allowed, reason). Raises ReviewUnavailable."""
        key = (user, verb, path)
        cached = self._cache.get(key)
        if cached is not None:
            return cached.allowed, cached.reason
        spec = V1SubjectAccessReviewSpec(
            user=user.username,
            groups=list(user.groups),
            uid=user.uid or None,
            extra={k: list(v) for k, v in user.extra} or None,
            non_resource_attributes=V1NonResourceAttributes(path=path, verb=verb),
        )
        self.reviews += 1
        try:
            review = self._api.create_subject_access_review(
                V1SubjectAccessReview(
                    api_version="authorization.k8s.io/v1", kind="SubjectAccessReview", spec=spec
                ),
                _request_timeout=self._timeout,
            )
        except Exception as exc:  # any client failure is an authorizer error (500 upstream)
            _log.warning("SubjectAccessReview failed: %s", type(exc).__name__)
            raise ReviewUnavailable(f"SubjectAccessReview failed: {type(exc).__name__}") from None
        status = review.status
        allowed = bool(status is not None and status.allowed)
        reason = str((status.reason if status is not None else "") or "")
        decision = _Decision(allowed=allowed, reason=reason)
        self._cache.put(key, decision, self._allow_ttl if allowed else self._deny_ttl)
        return allowed, reason


def _status_body(code: int, reason: str, message: str) -> bytes:
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": {},
        "code": code,
    }
    return (json.dumps(status) + "\n").encode()


def path_always_allowed(path: str, always_allow: Sequence[str]) -> bool:
    """Upstream's path authorizer: exact match, or prefix match for an entry ending in ``*``."""
    for allowed in always_allow:
        if allowed.endswith("*") and path.startswith(allowed[:-1]):
            return True
        if path == allowed:
            return True
    return False


@dataclass
class DelegatedAuth:
    """The request guard: authenticate, then authorize, as upstream's handler chain."""

    authenticator: TokenReviewAuthenticator | None
    """None (no authentication kubeconfig): every request is anonymous, as upstream."""
    authorizer: SubjectAccessReviewAuthorizer | None
    """None (no authorization kubeconfig): only always-allowed paths/groups pass."""
    always_allow_paths: tuple[str, ...] = ("/healthz", "/readyz", "/livez")
    always_allow_groups: tuple[str, ...] = (PRIVILEGED_GROUP,)
    _unauthorized: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._unauthorized = _status_body(401, "Unauthorized", "Unauthorized")

    def check(self, method: str, path: str, authorization: str) -> Refusal | None:
        """None when the request may go on; else the answer to send.

        ``authorization`` is the request's Authorization header ("" when absent)."""
        user = self._authenticate(authorization)
        if user is None:
            return Refusal(401, self._unauthorized, "application/json")
        verb = method.lower()
        if path_always_allowed(path, self.always_allow_paths):
            return None
        if any(group in self.always_allow_groups for group in user.groups):
            return None
        reason = ""
        if self.authorizer is not None:
            try:
                allowed, reason = self.authorizer.authorize(user, verb, path)
            except ReviewUnavailable as exc:
                text = f"Internal Server Error: {json.dumps(path)}: {exc}\n"
                return Refusal(500, text.encode(), "text/plain; charset=utf-8")
            if allowed:
                return None
        message = f"User {json.dumps(user.username)} cannot {verb} path {json.dumps(path)}"
        if reason:
            message += f": {reason}"
        body = _status_body(403, "Forbidden", f"forbidden: {message}")
        return Refusal(403, body, "application/json")

    def _authenticate(self, authorization: str) -> UserInfo | None:
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or self.authenticator is None:
            # upstream: no bearer token (or no token reviewer) -> the anonymous authenticator
            return ANONYMOUS
        try:
            user = self.authenticator.authenticate(token)
        except ReviewUnavailable:
            return None
        if user is None:
            return None
        if AUTHENTICATED_GROUP not in user.groups:
            # upstream's delegating authenticator adds system:authenticated to every user
            user = UserInfo(
                user.username, user.uid, (*user.groups, AUTHENTICATED_GROUP), user.extra
            )
        return user
