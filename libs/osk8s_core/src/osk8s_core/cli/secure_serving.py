"""The secure serving flags of Kubernetes' controller managers, and the server they build.

``add_secure_serving_flags`` registers k8s.io/apiserver's SecureServing and delegating
authentication/authorization flags with upstream's names and defaults (``--secure-port`` is
per binary: OCCM 10258); ``secure_serving_options`` turns the parsed namespace into
``SecureServingOptions`` (``--tls-min-version``/``--tls-cipher-suites`` checked there: a bad
name is a ConfigError); ``build_secure_server`` makes the HTTPS ``/metrics``, ``/healthz``,
``/readyz``, ``/livez`` server guarded by TokenReview/SubjectAccessReview. Kubernetes modules
are imported inside the builder only: this package must stay import-light for ``--help``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from osk8s_core.cli.goflags import add_bool, add_duration, add_string_slice, go_int
from osk8s_core.k8s.secure_serving import (
    DEFAULT_ALWAYS_ALLOW_PATHS,
    OCCM_SECURE_PORT,
    SecureServingOptions,
)
from osk8s_core.k8s.tls_options import CIPHER_SUITES, TLS_VERSIONS, tls_options

if TYPE_CHECKING:
    from kubernetes.client import ApiClient
    from prometheus_client import CollectorRegistry

    from osk8s_core.health import HealthChecks, HealthServer

KubeClientFactory = Callable[[str], "ApiClient"]
"""kubeconfig path ("" = the default source: in-cluster, as upstream) -> an API client."""


def add_secure_serving_flags(container: Any, *, secure_port: int = OCCM_SECURE_PORT) -> None:
    """Register the secure serving and delegated auth flags on a parser or argument group."""
    add = container.add_argument
    add("--bind-address", default="0.0.0.0", help="IP address to listen on for --secure-port")
    add("--secure-port", type=go_int, default=secure_port, help="HTTPS port (0 disables)")
    add("--tls-cert-file", default="", help="x509 certificate for HTTPS (self-signed if unset)")
    add("--tls-private-key-file", default="", help="x509 private key matching --tls-cert-file")
    add(
        "--tls-min-version",
        default="",
        help=f"minimum TLS version ({', '.join(TLS_VERSIONS)}; default VersionTLS12)",
    )
    add_string_slice(
        container,
        "--tls-cipher-suites",
        help="TLS 1.0-1.2 cipher suites, Go names (default: OpenSSL's list); "
        f"one of {', '.join(CIPHER_SUITES)}",
    )
    add(
        "--authentication-kubeconfig",
        default="",
        help="kubeconfig for TokenReviews (empty: in-cluster)",
    )
    add_bool(
        container,
        "--authentication-skip-lookup",
        help="accepted for compatibility (no client-CA lookup is done)",
    )
    add_duration(
        container,
        "--authentication-token-webhook-cache-ttl",
        default="10s",
        help="how long TokenReview answers are cached",
    )
    add(
        "--authorization-kubeconfig",
        default="",
        help="kubeconfig for SubjectAccessReviews (empty: in-cluster)",
    )
    add_string_slice(
        container,
        "--authorization-always-allow-paths",
        default=DEFAULT_ALWAYS_ALLOW_PATHS,
        help="HTTP paths served without authorization",
    )
    add_duration(
        container,
        "--authorization-webhook-cache-authorized-ttl",
        default="10s",
        help="how long allowed SubjectAccessReview answers are cached",
    )
    add_duration(
        container,
        "--authorization-webhook-cache-unauthorized-ttl",
        default="10s",
        help="how long denied SubjectAccessReview answers are cached",
    )


def secure_serving_options(namespace: argparse.Namespace) -> SecureServingOptions:
    """The parsed flags as options (raises ConfigError on an invalid combination)."""
    return SecureServingOptions(
        bind_address=namespace.bind_address,
        secure_port=namespace.secure_port,
        tls_cert_file=namespace.tls_cert_file,
        tls_private_key_file=namespace.tls_private_key_file,
        tls=tls_options(namespace.tls_min_version, namespace.tls_cipher_suites),
        authentication_kubeconfig=namespace.authentication_kubeconfig,
        authorization_kubeconfig=namespace.authorization_kubeconfig,
        authorization_always_allow_paths=tuple(namespace.authorization_always_allow_paths),
        authentication_skip_lookup=namespace.authentication_skip_lookup,
        authentication_cache_ttl=namespace.authentication_token_webhook_cache_ttl.total_seconds(),
        authorization_allow_cache_ttl=(
            namespace.authorization_webhook_cache_authorized_ttl.total_seconds()
        ),
        authorization_deny_cache_ttl=(
            namespace.authorization_webhook_cache_unauthorized_ttl.total_seconds()
        ),
    )


def build_secure_server(
    options: SecureServingOptions,
    *,
    registry: CollectorRegistry,
    kube_client: KubeClientFactory,
    health: HealthChecks | None = None,
    ready: HealthChecks | None = None,
    monotonic: Callable[[], float] | None = None,
    poll_interval: float = 0.5,
) -> HealthServer:
    """The HTTPS server (not started) on bind-address:secure-port, guarded by delegated auth.

    ``kube_client`` is called once with ``--authentication-kubeconfig`` and once with
    ``--authorization-kubeconfig``. ``monotonic`` (tests) drives the decision caches.
    """
    # lazy: the kubernetes client is a slow import, and flag parsing must stay cheap
    from osk8s_core.health import HealthServer  # noqa: PLC0415
    from osk8s_core.k8s.delegated_auth import (  # noqa: PLC0415
        DelegatedAuth,
        SubjectAccessReviewAuthorizer,
        TokenReviewAuthenticator,
    )
    from osk8s_core.k8s.secure_serving import server_ssl_context  # noqa: PLC0415

    clock = monotonic if monotonic is not None else time.monotonic
    guard = DelegatedAuth(
        authenticator=TokenReviewAuthenticator(
            kube_client(options.authentication_kubeconfig),
            cache_ttl=options.authentication_cache_ttl,
            monotonic=clock,
        ),
        authorizer=SubjectAccessReviewAuthorizer(
            kube_client(options.authorization_kubeconfig),
            allow_ttl=options.authorization_allow_cache_ttl,
            deny_ttl=options.authorization_deny_cache_ttl,
            monotonic=clock,
        ),
        always_allow_paths=options.authorization_always_allow_paths,
    )
    return HealthServer(
        registry=registry,
        health=health,
        ready=ready,
        host=options.bind_address,
        port=options.secure_port,
        ssl_context=server_ssl_context(options),
        guard=guard,
        poll_interval=poll_interval,
    )
