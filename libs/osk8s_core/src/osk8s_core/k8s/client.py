"""Build the ``kubernetes.client.ApiClient`` every service uses (client-go's config rules).

Source order, as ``clientcmd.BuildConfigFromFlags``: the ``--kubeconfig`` flag, else the
``KUBECONFIG`` env (a ``:``-separated list is merged), else the in-cluster service account, else
``--master`` alone; ``--master`` always overrides the server address. The environment is read
here only, from the mapping passed in. QPS/burst become a client-side token bucket.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes.client import ApiClient, Configuration
from kubernetes.client.rest import RESTResponse
from kubernetes.config import ConfigException
from kubernetes.config.incluster_config import InClusterConfigLoader
from kubernetes.config.kube_config import load_kube_config

from osk8s_core.errors import ConfigError
from osk8s_core.k8s.clock import Clock, SystemClock
from osk8s_core.k8s.ratelimit import TokenBucket

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@dataclass(frozen=True)
class KubeClientOptions:
    kubeconfig: str = ""
    """``--kubeconfig``: path of a kubeconfig file; empty means ``KUBECONFIG`` or in-cluster."""
    master: str = ""
    """``--master``: API server URL overriding the kubeconfig's (or the only source)."""
    context: str = ""
    """kubeconfig context to use; empty means its current-context."""
    qps: float = 5.0
    """``--kube-api-qps``: steady requests per second; <= 0 disables client-side limiting."""
    burst: int = 10
    """``--kube-api-burst``: requests allowed at once above the steady rate."""
    user_agent: str = ""
    """User-Agent sent to the API server (e.g. "openstack-cloud-controller-manager/1.2")."""
    service_account_dir: str = SERVICE_ACCOUNT_DIR
    """Where the in-cluster token and CA live (changed only by tests)."""


class RateLimitedApiClient(ApiClient):
    """An ``ApiClient`` that waits for a token before each request; records QPS/burst."""

    def __init__(
        self, configuration: Configuration, *, qps: float, burst: int, limiter: TokenBucket | None
    ) -> None:
        super().__init__(configuration)
        self.qps = qps
        self.burst = burst
        self.source = ""
        self._limiter = limiter

    def call_api(
        self,
        method: str,
        url: str,
        header_params: Any = None,
        body: Any = None,
        post_params: Any = None,
        _request_timeout: Any = None,
    ) -> RESTResponse:
        # Every generated API method funnels through here, watches included.
        if self._limiter is not None:
            self._limiter.acquire()
        return super().call_api(method, url, header_params, body, post_params, _request_timeout)


def load_configuration(
    options: KubeClientOptions, environ: Mapping[str, str]
) -> tuple[Configuration, str]:
    """The client configuration and a short description of where it came from."""
    config = Configuration()
    kubeconfig = options.kubeconfig or environ.get("KUBECONFIG", "")
    try:
        if kubeconfig:
            load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig,
                context=options.context or None,
                client_configuration=config,
                persist_config=False,
            )
            source = f"kubeconfig {kubeconfig}"
        elif environ.get("KUBERNETES_SERVICE_HOST") and environ.get("KUBERNETES_SERVICE_PORT"):
            loader = InClusterConfigLoader(  # type: ignore[no-untyped-call]
                token_filename=os.path.join(options.service_account_dir, "token"),
                cert_filename=os.path.join(options.service_account_dir, "ca.crt"),
                environ=environ,
            )
            loader.load_and_set(config)  # type: ignore[no-untyped-call]
            source = "in-cluster service account"
        elif options.master:
            source = "master URL only"
        else:
            raise ConfigError(
                "no Kubernetes API configuration: not running in a cluster",
                key="kubeconfig",
                expected="--kubeconfig, KUBECONFIG, in-cluster service account or --master",
            )
    except ConfigException as exc:
        raise ConfigError(
            str(exc), file=kubeconfig or options.service_account_dir, expected="a valid config"
        ) from exc
    if options.master:
        config.host = options.master.rstrip("/")
    return config, source


def build_api_client(
    options: KubeClientOptions,
    *,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> RateLimitedApiClient:
    """Create the API client. ``environ`` defaults to the process environment."""
    config, source = load_configuration(options, os.environ if environ is None else environ)
    limiter = None
    if options.qps > 0:
        limiter = TokenBucket(
            rate=options.qps, burst=max(options.burst, 1), clock=clock or SystemClock()
        )
    client = RateLimitedApiClient(config, qps=options.qps, burst=options.burst, limiter=limiter)
    client.source = source
    if options.user_agent:
        client.user_agent = options.user_agent
    return client


def describe(client: ApiClient) -> dict[str, Any]:
    """Loggable facts about a client: server, source, limits; never credentials."""
    return {
        "host": client.configuration.host,
        "source": getattr(client, "source", ""),
        "qps": getattr(client, "qps", None),
        "burst": getattr(client, "burst", None),
    }
