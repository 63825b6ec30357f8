"""Secure serving: HTTPS /metrics and probes guarded by TokenReview/SubjectAccessReview.

The component runs the real ``kubernetes`` client against the in-memory API server, whose
TokenReview/SubjectAccessReview passthrough calls the recording webhook below; the webhook's
answers are what a kube-apiserver with a token webhook and RBAC would say.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from prometheus_client import CollectorRegistry, Counter

from osk8s_core.cli import GoFlagParser
from osk8s_core.cli.secure_serving import (
    add_secure_serving_flags,
    build_secure_server,
    secure_serving_options,
)
from osk8s_core.errors import ConfigError
from osk8s_core.health import HealthChecks, HealthServer
from osk8s_core.k8s.secure_serving import SecureServingOptions
from osk8s_testing.kubeapi import KubeApiServer, WebhookConfig
from osk8s_testing.kubeapi.fixtures import KubeApiFactory
from osk8s_testing.kubeapi.review_webhook import ReviewWebhook
from osk8s_testing.tls import self_signed_localhost

GOOD_TOKEN = "tok-alice-5f1e0c2d9b"
BOB_TOKEN = "tok-bob-77aa01c3e4"
UNKNOWN_TOKEN = "tok-nobody-0d9e8f7a6b"
ADMIN_TOKEN = "tok-admin-3c4d5e6f70"
USERS = {GOOD_TOKEN: "alice", BOB_TOKEN: "bob", ADMIN_TOKEN: "admin"}


def _decide(body: dict[str, Any]) -> dict[str, Any]:
    """kube-apiserver's view: tokens -> users; only alice may get /metrics."""
    if body["kind"] == "TokenReview":
        user = USERS.get(body["spec"]["token"])
        if not user:
            return {"authenticated": False}
        groups = ["system:masters" if user == "admin" else "devs"]
        return {"authenticated": True, "user": {"username": user, "groups": groups}}
    spec = body["spec"]
    allowed = spec["user"] == "alice" and spec["nonResourceAttributes"] == {
        "path": "/metrics",
        "verb": "get",
    }
    status: dict[str, Any] = {"allowed": allowed}
    if not allowed and spec["user"] == "bob":
        status["reason"] = "no RBAC policy matched"
    return status


def _review_counts(webhook: ReviewWebhook) -> tuple[int, int]:
    return len(webhook.reviews("TokenReview")), len(webhook.reviews("SubjectAccessReview"))


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def webhook() -> Iterator[ReviewWebhook]:
    hook = ReviewWebhook(_decide)
    yield hook
    hook.close()


@pytest.fixture
def api(kube_api_factory: KubeApiFactory, webhook: ReviewWebhook) -> KubeApiServer:
    config = WebhookConfig(token_review_url=webhook.url, authorization_url=webhook.url)
    return kube_api_factory(webhooks=config)


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("osk8s_demo_requests", "a demo counter", registry=registry).inc()
    return registry


class Serving:
    def __init__(self, server: HealthServer, ca: str) -> None:
        self.server = server
        self.ca = ca
        host, port = server.address
        self.base = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"

    def get(self, path: str, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(self.base + path, headers=headers, verify=self.ca, timeout=10)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Serving]]:
    started: list[HealthServer] = []

    def make(
        kube_client: Callable[[str], Any],
        *,
        clock: Clock | None = None,
        ready: HealthChecks | None = None,
        **overrides: Any,
    ) -> Serving:
        options = SecureServingOptions(
            **{"bind_address": "127.0.0.1", "secure_port": 0, **overrides}
        )
        server = build_secure_server(
            options,
            registry=_registry(),
            kube_client=kube_client,
            ready=ready,
            monotonic=clock,
            poll_interval=0.05,
        ).start()
        started.append(server)
        ca = options.tls_cert_file
        if not ca:  # self-signed: trust what it serves, then verify every request against it
            ca_path = tmp_path / f"served-{len(started)}.crt"
            ca_path.write_text(ssl.get_server_certificate(server.address))
            ca = str(ca_path)
        return Serving(server, ca)

    yield make
    for server in started:
        server.stop()


def _status(response: requests.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    return body


def test_valid_token_allowed_on_metrics(
    api: KubeApiServer, webhook: ReviewWebhook, serve: Callable[..., Serving]
) -> None:
    serving = serve(lambda _path: api.api_client())
    response = serving.get("/metrics", GOOD_TOKEN)
    assert response.status_code == 200
    assert "osk8s_demo_requests_total 1.0" in response.text
    review = webhook.reviews("SubjectAccessReview")[0]["spec"]
    assert review["user"] == "alice"
    assert review["nonResourceAttributes"] == {"path": "/metrics", "verb": "get"}
    assert set(review["groups"]) == {"devs", "system:authenticated"}
    assert webhook.reviews("TokenReview")[0]["spec"]["token"] == GOOD_TOKEN


def test_unknown_token_is_401(
    api: KubeApiServer, webhook: ReviewWebhook, serve: Callable[..., Serving]
) -> None:
    serving = serve(lambda _path: api.api_client())
    response = serving.get("/metrics", UNKNOWN_TOKEN)
    assert response.status_code == 401
    assert _status(response)["reason"] == "Unauthorized"
    assert webhook.reviews("SubjectAccessReview") == []  # never authorized
    # upstream authenticates before the path check: a bad token is 401 on /healthz too
    assert serving.get("/healthz", UNKNOWN_TOKEN).status_code == 401


def test_authenticated_but_denied_is_403_with_upstream_message(
    api: KubeApiServer, serve: Callable[..., Serving]
) -> None:
    serving = serve(lambda _path: api.api_client())
    response = serving.get("/metrics", BOB_TOKEN)
    assert response.status_code == 403
    status = _status(response)
    assert status["reason"] == "Forbidden"
    assert status["code"] == 403
    assert status["message"] == (
        'forbidden: User "bob" cannot get path "/metrics": no RBAC policy matched'
    )


def test_probes_always_allowed_and_anonymous_is_authorized_not_401(
    api: KubeApiServer, webhook: ReviewWebhook, serve: Callable[..., Serving]
) -> None:
    ready = HealthChecks()
    ready.add("informers", lambda: "not synced")
    serving = serve(lambda _path: api.api_client(), ready=ready)
    healthz = serving.get("/healthz")
    assert (healthz.status_code, healthz.text) == (200, "ok\n")
    assert serving.get("/livez").status_code == 200
    assert serving.get("/readyz").status_code == 500  # the check ran: served, not refused
    assert webhook.reviews("TokenReview") == [] and webhook.reviews("SubjectAccessReview") == []
    # no token at all: upstream's anonymous user, authorized like anyone (RBAC says no)
    response = serving.get("/metrics")
    assert response.status_code == 403
    assert _status(response)["message"] == (
        'forbidden: User "system:anonymous" cannot get path "/metrics"'
    )
    assert webhook.reviews("SubjectAccessReview")[0]["spec"]["user"] == "system:anonymous"
    assert webhook.reviews("SubjectAccessReview")[0]["spec"]["groups"] == ["system:unauthenticated"]


def test_system_masters_skip_the_access_review(
    api: KubeApiServer, webhook: ReviewWebhook, serve: Callable[..., Serving]
) -> None:
    serving = serve(lambda _path: api.api_client())
    # upstream's default AlwaysAllowGroups: system:masters is never sent to a review
    assert serving.get("/metrics", ADMIN_TOKEN).status_code == 200
    assert len(webhook.reviews("TokenReview")) == 1
    assert webhook.reviews("SubjectAccessReview") == []


def test_always_allow_paths_option_replaces_the_default(
    api: KubeApiServer, serve: Callable[..., Serving]
) -> None:
    serving = serve(lambda _path: api.api_client(), authorization_always_allow_paths=("/met*",))
    assert serving.get("/metrics").status_code == 200
    assert serving.get("/healthz").status_code == 403


def test_self_signed_certificate_when_none_given(
    api: KubeApiServer, serve: Callable[..., Serving]
) -> None:
    serving = serve(lambda _path: api.api_client())
    # a client that verifies nothing still sees a certificate, for localhost and 127.0.0.1
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(serving.server.address, timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    cert = x509.load_der_x509_certificate(der)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    # and it verifies as itself (the fixture's CA is the served certificate)
    assert serving.get("/healthz").status_code == 200


def test_given_certificate_is_served(
    api: KubeApiServer, serve: Callable[..., Serving], tmp_path: Path
) -> None:
    (tmp_path / "pki").mkdir()
    pair = self_signed_localhost(tmp_path / "pki")
    serving = serve(
        lambda _path: api.api_client(), tls_cert_file=pair.cert, tls_private_key_file=pair.key
    )
    assert serving.get("/metrics", GOOD_TOKEN).status_code == 200  # verified with pair.cert
    served = ssl.get_server_certificate(serving.server.address)
    assert x509.load_pem_x509_certificate(served.encode()) == x509.load_pem_x509_certificate(
        Path(pair.cert).read_bytes()
    )


def test_decisions_cached_within_ttl(
    api: KubeApiServer, webhook: ReviewWebhook, serve: Callable[..., Serving]
) -> None:
    clock = Clock()
    serving = serve(lambda _path: api.api_client(), clock=clock)
    assert serving.get("/metrics", GOOD_TOKEN).status_code == 200
    assert serving.get("/metrics", BOB_TOKEN).status_code == 403
    assert serving.get("/metrics", UNKNOWN_TOKEN).status_code == 401
    clock.t += 9.5
    assert serving.get("/metrics", GOOD_TOKEN).status_code == 200
    assert serving.get("/metrics", BOB_TOKEN).status_code == 403  # denials cached too
    assert serving.get("/metrics", UNKNOWN_TOKEN).status_code == 401
    assert (len(webhook.reviews("TokenReview")), len(webhook.reviews("SubjectAccessReview"))) == (
        3,
        2,
    )
    clock.t += 1.0  # past upstream's 10 s
    assert serving.get("/metrics", GOOD_TOKEN).status_code == 200
    assert (len(webhook.reviews("TokenReview")), len(webhook.reviews("SubjectAccessReview"))) == (
        4,
        3,
    )


def test_ipv6_bind_address(api: KubeApiServer, serve: Callable[..., Serving]) -> None:
    serving = serve(lambda _path: api.api_client(), bind_address="::1")
    assert serving.server.address[0] == "::1"
    # verified: the self-signed certificate names the bind address too
    assert serving.get("/metrics", GOOD_TOKEN).status_code == 200


def test_api_server_down(api: KubeApiServer, serve: Callable[..., Serving]) -> None:
    def unreachable(_path: str) -> Any:
        client = api.api_client()
        client.configuration.host = "http://127.0.0.1:1"  # nothing listens on port 1
        return client

    serving = serve(unreachable)
    # the token cannot be reviewed: upstream's authentication fails -> 401
    assert serving.get("/metrics", GOOD_TOKEN).status_code == 401
    # anonymous, but the SubjectAccessReview cannot be made: upstream's authorizer error -> 500
    response = serving.get("/metrics")
    assert response.status_code == 500
    assert response.text.startswith('Internal Server Error: "/metrics": SubjectAccessReview failed')
    # probes do not depend on the API server
    assert serving.get("/healthz").status_code == 200


def test_no_token_in_logs(
    api: KubeApiServer, serve: Callable[..., Serving], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    serving = serve(lambda _path: api.api_client())
    for token in (GOOD_TOKEN, BOB_TOKEN, UNKNOWN_TOKEN):
        serving.get("/metrics", token)

    def unreachable(_path: str) -> Any:
        client = api.api_client()
        client.configuration.host = "http://127.0.0.1:1"
        return client

    down = serve(unreachable)
    down.get("/metrics", GOOD_TOKEN)
    assert "TokenReview failed" in caplog.text  # the failure was logged...
    for token in (GOOD_TOKEN, BOB_TOKEN, UNKNOWN_TOKEN):
        assert token not in caplog.text  # ...without the token (kubernetes' debug lines too)


def test_flags_parse_into_options_with_upstream_defaults(tmp_path: Path) -> None:
    parser = GoFlagParser(prog="openstack-cloud-controller-manager")
    add_secure_serving_flags(parser)
    defaults = secure_serving_options(parser.parse_args([]))
    assert defaults == SecureServingOptions()
    assert (defaults.bind_address, defaults.secure_port) == ("0.0.0.0", 10258)
    assert defaults.authorization_always_allow_paths == ("/healthz", "/readyz", "/livez")
    assert defaults.authentication_cache_ttl == 10.0
    assert defaults.authorization_deny_cache_ttl == 10.0
    given = secure_serving_options(
        parser.parse_args(
            [
                "--bind-address=127.0.0.1",
                "--secure-port",
                "10300",
                "--tls-cert-file=/etc/pki/tls.crt",
                "--tls-private-key-file=/etc/pki/tls.key",
                "--authentication-kubeconfig=/etc/kubernetes/authn.conf",
                "--authorization-kubeconfig=/etc/kubernetes/authz.conf",
                "--authorization-always-allow-paths=/healthz,/metrics",
                "--authentication-skip-lookup",
                "--authorization-webhook-cache-authorized-ttl=1m",
            ]
        )
    )
    assert given.secure_port == 10300
    assert given.authorization_always_allow_paths == ("/healthz", "/metrics")
    assert given.authentication_skip_lookup is True
    assert given.authorization_allow_cache_ttl == 60.0
    assert given.authentication_kubeconfig == "/etc/kubernetes/authn.conf"
    other = GoFlagParser(prog="x")
    add_secure_serving_flags(other, secure_port=10257)
    assert other.parse_args([]).secure_port == 10257


def test_options_reject_half_a_pair_and_bad_values() -> None:
    with pytest.raises(ConfigError, match="given together"):
        SecureServingOptions(tls_cert_file="/a.crt")
    with pytest.raises(ConfigError, match="--secure-port"):
        SecureServingOptions(secure_port=70000)
    with pytest.raises(ConfigError, match="not an IP"):
        SecureServingOptions(bind_address="localhost")


def test_unreadable_certificate_is_a_config_error(tmp_path: Path) -> None:
    from osk8s_core.k8s.secure_serving import server_ssl_context

    options = SecureServingOptions(
        tls_cert_file=str(tmp_path / "missing.crt"),
        tls_private_key_file=str(tmp_path / "missing.key"),
    )
    with pytest.raises(ConfigError, match="--tls-cert-file"):
        server_ssl_context(options)
