"""Wire the webhook from ``ServerOptions``: Keystone client, cache, policies, informer, server.

``build`` creates every collaborator and passes them by keyword (no module state); ``Webhook``
runs the ConfigMap informer and the TLS server until ``stop``. Start-up failures (bad policy or
sync file, unreadable ConfigMap) raise ``ConfigError`` so ``main`` exits non-zero, as CPO.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from osk8s_core import __version__
from osk8s_core.errors import ConfigError, Osk8sError
from osk8s_core.health import HealthChecks
from osk8s_core.metrics import ApiMetrics
from osk8s_core.retry import RetryPolicy
from osk8s_keystone_auth.app import AppConfig, create_app
from osk8s_keystone_auth.authenticator import Authenticator
from osk8s_keystone_auth.keystone import KeystoneTokens
from osk8s_keystone_auth.live_config import LiveConfig, Snapshot
from osk8s_keystone_auth.options import SERVER_PROG, ServerOptions
from osk8s_keystone_auth.policy import parse_policies
from osk8s_keystone_auth.server import ServeOptions, WebhookServer, split_listen
from osk8s_keystone_auth.sync_config import SyncConfig, parse_sync_config
from osk8s_keystone_auth.token_cache import Clock, TokenCache, TokenCacheSettings

# A review waits on Keystone: kube-apiserver's webhook timeout is 30 s, so keep well inside it.
KEYSTONE_TIMEOUT = 10.0
KEYSTONE_RETRY = RetryPolicy(max_attempts=2, max_elapsed=5.0, backoff_base=0.2)
CONFIGMAP_RESYNC = 300.0  # matches CPO's informer resync (5 min)


def keystone_client(
    options: ServerOptions, *, registry: CollectorRegistry, logger: Any
) -> KeystoneTokens:
    """Token validation; its HTTP stack (keystoneauth, requests) is imported on first use,
    which ``Webhook.start`` triggers in the background once the server listens."""
    verify: bool | str = options.keystone_ca_file or True
    if options.keystone_ca_file and not Path(options.keystone_ca_file).is_file():
        raise ConfigError("file not found", key="keystone-ca-file", file=options.keystone_ca_file)
    metrics = ApiMetrics(registry)

    def connect() -> Any:
        from keystoneauth1.session import Session  # noqa: PLC0415 - slow import, load on use

        from osk8s_core.credentials import ClientSettings  # noqa: PLC0415
        from osk8s_core.openstack.client import OpenStackClient  # noqa: PLC0415

        settings = ClientSettings(
            component=SERVER_PROG,
            version=__version__,
            user_agent_extras=options.user_agent,
            timeout=KEYSTONE_TIMEOUT,
        )
        session = Session(verify=verify, timeout=settings.timeout, user_agent=settings.user_agent)
        return OpenStackClient(session, metrics=metrics, retry_policy=KEYSTONE_RETRY, logger=logger)

    return KeystoneTokens(auth_url=options.keystone_url, connect=connect, logger=logger)


def initial_snapshot(options: ServerOptions) -> Snapshot:
    policies: tuple[Any, ...] = ()
    sync: SyncConfig | None = None
    source = ""
    if options.keystone_policy_file:
        path = options.keystone_policy_file
        policies = parse_policies(_read(path, "keystone-policy-file"), source=path)
        source = path
    if options.sync_config_file:
        path = options.sync_config_file
        sync = parse_sync_config(_read(path, "sync-config-file"), source=path)
    return Snapshot(policies=policies, sync=sync, policy_source=source)


def _read(path: str, key: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=path, key=key) from exc


@dataclass
class Webhook:
    """The running pieces; ``run`` blocks until ``stop``."""

    server: WebhookServer
    live: LiveConfig
    authenticator: Authenticator
    keystone: KeystoneTokens
    informer: Any = None
    stop_event: threading.Event | None = None
    logger: Any = None

    def start(self) -> Webhook:
        if self.informer is not None and self.stop_event is not None:
            self.informer.start(self.stop_event)
        self.server.start()
        # Serving already; load the Keystone client and discover v3 meanwhile, so the first
        # review does not wait for it (a review arriving earlier waits, and then is answered).
        threading.Thread(target=self._warm_up, name="keystone-warm-up", daemon=True).start()
        return self

    def _warm_up(self) -> None:
        try:
            self.keystone.prepare()
        except Osk8sError as exc:  # retried at the first review; deny until then
            if self.logger is not None:
                self.logger.warning("keystone not reachable yet", error=str(exc))

    def stop(self) -> None:
        if self.stop_event is not None:
            self.stop_event.set()
        self.server.stop()


def build(
    options: ServerOptions,
    *,
    logger: Any,
    environ: Mapping[str, str],
    registry: CollectorRegistry | None = None,
    api_client: Any = None,
    clock: Clock = time.time,
) -> Webhook:
    """Everything the webhook needs; ``api_client`` overrides the kubeconfig and ``clock`` the
    token cache's time (tests: TTL expiry without sleeping)."""
    registry = registry if registry is not None else CollectorRegistry()
    live = LiveConfig(initial_snapshot(options))
    keystone = keystone_client(options, registry=registry, logger=logger)
    cache = TokenCache(
        settings=TokenCacheSettings(
            ttl=options.token_cache_ttl, max_entries=options.token_cache_size
        ),
        clock=clock,
    )
    authenticator = Authenticator(validator=keystone, cache=cache, registry=registry, logger=logger)
    informer = None
    stop_event = threading.Event()
    syncer = None
    health = HealthChecks()
    if not options.keystone_policy_file and not options.policy_configmap_name:
        logger.warning(
            "no --keystone-policy-file or --policy-configmap-name: only authentication works; "
            "use RBAC for authorization"
        )
    if options.needs_kubernetes:
        if api_client is None:
            from osk8s_core.k8s.client import KubeClientOptions, build_api_client  # noqa: PLC0415

            api_client = build_api_client(
                KubeClientOptions(kubeconfig=options.kubeconfig, qps=20, burst=40), environ=environ
            )
        if options.sync_configmap_name or options.sync_config_file:
            from osk8s_keystone_auth.kube_rbac import KubeRbacApi  # noqa: PLC0415
            from osk8s_keystone_auth.sync import Syncer  # noqa: PLC0415

            syncer = Syncer(api=KubeRbacApi(api_client), logger=logger)
        if options.policy_configmap_name or options.sync_configmap_name:
            informer = _configmap_informer(options, api_client=api_client, live=live, logger=logger)
            health.add(
                "configmap-informer", lambda: None if informer.has_synced() else "not synced"
            )
    app = create_app(
        AppConfig(
            authenticator=authenticator,
            live=live,
            registry=registry,
            logger=logger,
            syncer=syncer,
            health=health,
        )
    )
    host, port = split_listen(options.listen)
    server = WebhookServer(
        app,
        options=ServeOptions(
            host=host,
            port=port,
            cert_file=options.tls_cert_file,
            key_file=options.tls_private_key_file,
            threads=options.threads,
        ),
    )
    return Webhook(
        server=server,
        live=live,
        authenticator=authenticator,
        keystone=keystone,
        informer=informer,
        stop_event=stop_event,
        logger=logger,
    )


def _configmap_informer(
    options: ServerOptions, *, api_client: Any, live: LiveConfig, logger: Any
) -> Any:
    from kubernetes import client  # noqa: PLC0415

    from osk8s_core.k8s.clock import SystemClock  # noqa: PLC0415
    from osk8s_core.k8s.informer import Informer, InformerSettings  # noqa: PLC0415
    from osk8s_core.k8s.listwatch import ApiListWatch  # noqa: PLC0415
    from osk8s_keystone_auth.configmaps import (  # noqa: PLC0415 - imports the k8s client
        NAMESPACE,
        ConfigMapNames,
        ConfigMapReloader,
    )

    reloader = ConfigMapReloader(
        names=ConfigMapNames(
            policy=options.policy_configmap_name,
            sync=options.sync_configmap_name,
            policy_file_given=bool(options.keystone_policy_file),
            sync_file_given=bool(options.sync_config_file),
        ),
        live=live,
        logger=logger,
    )
    list_watch = ApiListWatch(
        client.CoreV1Api(api_client).list_namespaced_config_map,
        description=f"configmaps in {NAMESPACE}",
        namespace=NAMESPACE,
    )
    # Start-up load, strict as CPO: an unreadable or invalid ConfigMap stops the process.
    objects, _rv = list_watch.list()
    found = set()
    for obj in objects:
        reloader.apply(obj, strict=True)
        found.add(str((obj.get("metadata") or {}).get("name")))
    for name in (options.policy_configmap_name, options.sync_configmap_name):
        if name and name not in found:
            logger.warning("configmap not found; waiting for it", configmap=f"{NAMESPACE}/{name}")
    informer = Informer(
        list_watch,
        name="keystone-configmaps",
        clock=SystemClock(),
        settings=InformerSettings(resync_period=CONFIGMAP_RESYNC),
        logger=logger,
    )
    informer.add_handlers(reloader.handlers())
    return informer
