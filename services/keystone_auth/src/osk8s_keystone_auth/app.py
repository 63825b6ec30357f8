"""The webhook's Flask app, built by ``create_app(config)``: reviews, /healthz, /metrics.

``POST /webhook`` dispatches on ``kind`` (TokenReview or SubjectAccessReview, v1 and v1beta1);
``/authenticate`` and ``/authorize`` accept only their own kind. Our errors map to HTTP status
in one error handler: a malformed review is 400 with a message (invalid JSON, nesting deeper than
``MAX_DEPTH``, wrong fields), a body over ``MAX_BODY_BYTES`` is 413, a failed token 401 (as
CPO). It never logs a token, and never allows a request when something fails.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask, Response, request
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import choose_encoder
from werkzeug.exceptions import RequestEntityTooLarge

from osk8s_core.health import HealthChecks
from osk8s_core.logging import unit_of_work
from osk8s_core.secrets import SecretStr
from osk8s_keystone_auth.authenticator import Outcome
from osk8s_keystone_auth.authorizer import authorize
from osk8s_keystone_auth.identity import UserInfo
from osk8s_keystone_auth.live_config import LiveConfig
from osk8s_keystone_auth.reviews import (
    AccessReviewRequest,
    ReviewError,
    TokenReviewRequest,
    access_review_response,
    decode_body,
    parse_review,
    token_review_response,
)
from osk8s_keystone_auth.sync_config import apply_role_mappings


class TokenAuthenticator(Protocol):
    def authenticate(self, token: SecretStr) -> Outcome: ...


class DataSyncer(Protocol):
    def sync(self, user: UserInfo, config: Any) -> str | None: ...


@dataclass(frozen=True)
class AppConfig:
    """Collaborators of the app, built in ``service.build``."""

    authenticator: TokenAuthenticator
    live: LiveConfig
    registry: CollectorRegistry
    logger: Any
    syncer: DataSyncer | None = None
    """None when no Kubernetes client is configured (no data sync)."""
    health: HealthChecks | None = None
    ready: HealthChecks | None = None


MAX_BODY_BYTES = 1024 * 1024
"""A review is a few KiB (a token, or a user with groups and extras); 1 MiB is generous."""


DRAIN_BYTES = 8 * MAX_BODY_BYTES
"""Of a refused body, read and dropped at most this much so the client, still sending, gets
the 413 instead of a reset; a longer one is cut off by closing the connection."""


def _drain(stream: Any) -> None:
    left = DRAIN_BYTES
    try:
        while stream is not None and left > 0:
            chunk = stream.read(min(65536, left))
            if not chunk:
                return
            left -= len(chunk)
    except (OSError, ValueError):
        return


def _read_body() -> bytes:
    """The request body, at most ``MAX_BODY_BYTES`` (else ``RequestEntityTooLarge``).

    Werkzeug enforces the cap on a declared Content-Length; a chunked body (no length) it
    would treat as empty behind cheroot, so that one is read here, chunk by chunk, to the cap.
    """
    if "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
        return request.get_data(cache=False)
    stream = request.environ["wsgi.input"]
    data = bytearray()
    while chunk := stream.read(65536):
        data += chunk
        if len(data) > MAX_BODY_BYTES:
            raise RequestEntityTooLarge()
    return bytes(data)


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def create_app(config: AppConfig) -> Flask:
    app = Flask("osk8s_keystone_auth")
    # Werkzeug refuses a longer body (declared or streamed) with 413 before it is read whole.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    log = config.logger
    health = config.health or HealthChecks()
    ready = config.ready or HealthChecks()
    duration = Histogram(
        "keystone_auth_review_duration_seconds",
        "Time to answer one review",
        ["kind", "result"],
        registry=config.registry,
    )

    def token_review(review: TokenReviewRequest) -> Response:
        start = time.perf_counter()
        outcome = config.authenticator.authenticate(review.token)
        if outcome.info is None:
            log.info("token review denied", reason=outcome.reason)
            duration.labels("TokenReview", "denied").observe(time.perf_counter() - start)
            return _json(token_review_response(review, None, error=outcome.reason), 401)
        snapshot = config.live.snapshot
        user = apply_role_mappings(outcome.info.user_info(), snapshot.sync)
        # Sync only after a Keystone validation: cache hits change nothing in Keystone's data.
        if outcome.source == "keystone" and config.syncer is not None:
            try:
                config.syncer.sync(user, snapshot.sync)
            except Exception as exc:  # matches CPO: a sync failure never fails the review
                log.error("data synchronisation failed", error=str(exc), user_id=user.uid)
        duration.labels("TokenReview", "authenticated").observe(time.perf_counter() - start)
        return _json(token_review_response(review, user), 200)

    def access_review(review: AccessReviewRequest) -> Response:
        start = time.perf_counter()
        snapshot = config.live.snapshot
        allowed = authorize(snapshot.policies, review.attributes)
        reason = "" if allowed else "No policy matched."
        if not snapshot.policies:
            reason = "no authorization policy loaded"
        result = "allowed" if allowed else "denied"
        duration.labels("SubjectAccessReview", result).observe(time.perf_counter() - start)
        return _json(access_review_response(review, allowed=allowed, reason=reason), 200)

    def handle(expected: type | None) -> Response:
        review = parse_review(decode_body(_read_body()))
        if expected is not None and not isinstance(review, expected):
            raise ReviewError(f"this endpoint accepts {expected.__name__.removesuffix('Request')}")
        with unit_of_work(kind=type(review).__name__):
            if isinstance(review, TokenReviewRequest):
                return token_review(review)
            return access_review(review)

    @app.post("/webhook")
    def webhook() -> Response:
        return handle(None)

    @app.post("/authenticate")
    def authenticate() -> Response:
        return handle(TokenReviewRequest)

    @app.post("/authorize")
    def authorize_route() -> Response:
        return handle(AccessReviewRequest)

    @app.errorhandler(ReviewError)
    def bad_review(exc: ReviewError) -> Response:
        return Response(f"{exc}\n", status=400, mimetype="text/plain")

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc: RequestEntityTooLarge) -> Response:
        _drain(request.environ.get("wsgi.input"))
        message = f"request body is larger than {MAX_BODY_BYTES} bytes\n"
        return Response(message, status=413, mimetype="text/plain")

    @app.get("/metrics")
    def metrics() -> Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return Response(encoder(config.registry), status=200, content_type=content_type)

    def probe(checks: HealthChecks) -> Response:
        healthy, body = checks.run(verbose="verbose" in request.args)
        return Response(body, status=200 if healthy else 500, mimetype="text/plain")

    app.add_url_rule("/healthz", "healthz", lambda: probe(health))
    app.add_url_rule("/livez", "livez", lambda: probe(health))
    app.add_url_rule("/readyz", "readyz", lambda: probe(ready))
    return app
