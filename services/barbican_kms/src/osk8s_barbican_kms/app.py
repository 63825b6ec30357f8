"""Builds the plugin's object graph from ``KmsOptions`` and serves until SIGTERM/SIGINT.

Order: logging, config (key ids), Barbican client, first key load (a permanent failure such
as a wrong key size exits 1; an unreachable Keystone or Barbican does not: the plugin serves
and reports "not loaded" until a retry succeeds), then the HTTP endpoint, the gRPC server on
the unix socket (cannot listen: exit 255, as CPO's klog.Fatalf), the refresher and SIGHUP.
The README's "Start-up and exit codes" compares each case with CPO. No module state:
everything is built here and passed on.
"""

from __future__ import annotations

import gc
import os
import signal
from types import FrameType
from typing import Any, Final, cast

from prometheus_client import CollectorRegistry

from osk8s_barbican_kms import service_v1, service_v2
from osk8s_barbican_kms.barbican import BarbicanSecretReader
from osk8s_barbican_kms.cipher import MAX_REPLY, KmsCipher
from osk8s_barbican_kms.errors import STATUS_MAPPER
from osk8s_barbican_kms.keyconfig import KeyIdsFromConfig
from osk8s_barbican_kms.keystore import KeyStore
from osk8s_barbican_kms.kms_metrics import KeyMetrics
from osk8s_barbican_kms.options import KmsOptions
from osk8s_barbican_kms.refresher import Refresher
from osk8s_core import __version__
from osk8s_core.config import load_cloud_config
from osk8s_core.credentials import (
    ClientSettings,
    ConnectionCache,
    ConnectionFactory,
    build_session,
)
from osk8s_core.credentials.factory import ConnectionBuilder
from osk8s_core.errors import ConfigError
from osk8s_core.grpc.endpoint import Endpoint
from osk8s_core.grpc.interceptors import (
    ErrorMappingInterceptor,
    LoggingInterceptor,
    MetricsInterceptor,
)
from osk8s_core.grpc.server import GrpcServer, ServerOptions, build_server
from osk8s_core.health import HealthServer
from osk8s_core.logging import DEBUG_VERBOSITY, bind_component, configure_logging, get_logger
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.retry import RetryPolicy

COMPONENT: Final = "barbican-kms-plugin"
# A few quick attempts: a refresh that fails is simply tried again later.
_FETCH_POLICY: Final = RetryPolicy(max_attempts=3, max_elapsed=15.0, backoff_cap=5.0)
# Requests somewhat over the reply limit still arrive, to be refused with a clear message
# (grpc's own RESOURCE_EXHAUSTED says nothing about the plaintext limit); answers stay below
# MAX_REPLY by construction (see cipher).
_MAX_MESSAGE: Final = MAX_REPLY + (1 << 20)
EXIT_CONFIG: Final = 1
"""Bad or incomplete configuration, a key that can never load: CPO's cobra RunE error."""
EXIT_LISTEN: Final = 255
"""The socket cannot be listened on: CPO's ``klog.Fatalf("Failed to Listen")``."""


def run(options: KmsOptions) -> int:
    if options.log is not None:  # from the command line: klog's flags as given
        configure_logging(**options.log.logging_kwargs())
    else:
        configure_logging(
            fmt="console" if options.log_format == "console" else "json",
            verbosity=options.verbosity,
        )
    bind_component(COMPONENT)
    log = get_logger("osk8s.barbican_kms")
    registry = CollectorRegistry()
    settings = ClientSettings(
        component=COMPONENT, version=__version__, timeout=options.openstack_timeout
    )
    # The factory hands out keystoneauth sessions, not SDK connections (see barbican.py): it
    # still follows credential rotation in the cloud.conf and caches per credential set.
    sessions = ConnectionCache(settings=settings, builder=cast(ConnectionBuilder, build_session))
    connections = ConnectionFactory(
        [options.cloud_config], settings=settings, cache=sessions, logger=log
    )
    try:
        return _serve(options, registry=registry, connections=connections, log=log)
    except ConfigError as exc:
        log.error("startup_failed", error=str(exc))
        return EXIT_CONFIG
    finally:
        connections.close()


def _serve(
    options: KmsOptions, *, registry: CollectorRegistry, connections: ConnectionFactory, log: Any
) -> int:
    # SIGHUP's default action kills the process: ignore it until the refresher can take it.
    previous_hup = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        return _start_and_serve(options, registry=registry, connections=connections, log=log)
    finally:
        signal.signal(signal.SIGHUP, previous_hup)


def _start_and_serve(
    options: KmsOptions, *, registry: CollectorRegistry, connections: ConnectionFactory, log: Any
) -> int:
    key_ids = KeyIdsFromConfig([options.cloud_config], loader=load_cloud_config)
    key_ids()  # a config without [KeyManager] key-id fails here, before any network call
    client = OpenStackClient(
        connections, metrics=ApiMetrics(registry), retry_policy=_FETCH_POLICY, logger=log
    )
    store = KeyStore(
        reader=BarbicanSecretReader(client=client, sessions=connections),
        key_ids=key_ids,
        logger=log,
        observer=KeyMetrics(registry).observe,
    )
    first = store.refresh()
    fatal = first.fatal_at_start()
    if fatal is not None:
        log.error("key_load_failed", key_id=first.ring.current_id, error=str(fatal))
        return EXIT_CONFIG
    http = _start_http(options, store=store, registry=registry)  # fails before the socket
    try:
        server = build_grpc_server(options, store=store, registry=registry, log=log)
    except (ConfigError, OSError) as exc:
        log.error("listen_failed", socket=options.socket_path, error=str(exc))
        if http is not None:
            http.stop()
        return EXIT_LISTEN
    refresher = Refresher(store=store, interval=options.key_refresh_interval, logger=log)
    loaded = first.ring.current_problem() is None
    refresher.start(loaded=loaded)
    signal.signal(signal.SIGHUP, _on_hup(refresher))
    # Everything built so far lives for the whole process: keep it out of the cyclic GC's
    # full collections, which otherwise rescan ~60 MiB of start-up objects while RPCs wait.
    gc.freeze()
    log.info(
        "serving",
        socket=options.socket_path,
        key_id=first.ring.current_id,
        write_format=first.ring.write_format.value,
        key_loaded=loaded,
        keys=len(first.ring.keys),
    )
    try:
        server.serve()
    finally:
        refresher.stop()
        if http is not None:
            http.stop()
    log.info("stopped")
    return 0


class CallLogger:
    """The logger handed to the gRPC interceptors, which log every successful call at debug.

    That is on the path of every Encrypt/Decrypt: below ``-v4`` the debug call is dropped here,
    before structlog does any work, and the logger is bound once instead of per call.
    """

    def __init__(self, logger: Any, *, debug: bool) -> None:
        bound = logger.bind()
        self.debug: Any = bound.debug if debug else _drop
        self.warning: Any = bound.warning
        self.error: Any = bound.error


def _drop(event: str, **kw: Any) -> None:
    return None


def _request_id() -> str:
    # Same shape as the core's default (16 hex chars) at a fifth of uuid4's cost per RPC.
    return os.urandom(8).hex()


def _on_hup(refresher: Refresher) -> Any:
    def handler(signum: int, frame: FrameType | None) -> None:
        refresher.trigger()

    return handler


def build_grpc_server(
    options: KmsOptions, *, store: KeyStore, registry: CollectorRegistry, log: Any
) -> GrpcServer:
    cipher = KmsCipher(keys=store)
    call_log = CallLogger(log, debug=options.verbosity >= DEBUG_VERBOSITY)
    v2 = service_v2.KmsV2Servicer(cipher=cipher, keys=store)
    v1 = service_v1.KmsV1Servicer(cipher=cipher)
    return build_server(
        ServerOptions(
            endpoint=Endpoint(scheme="unix", path=options.socket_path),
            max_workers=options.max_workers,
            channel_options=(
                ("grpc.max_receive_message_length", _MAX_MESSAGE),
                ("grpc.max_send_message_length", _MAX_MESSAGE),
            ),
        ),
        services=[service_v2.registration(v2), service_v1.registration(v1)],
        interceptors=[
            LoggingInterceptor(
                logger=call_log,
                log_payloads=options.verbosity >= 5,
                request_id_factory=_request_id,
            ),
            MetricsInterceptor(registry=registry),
            ErrorMappingInterceptor(mapper=STATUS_MAPPER, logger=call_log),
        ],
    )


def _start_http(
    options: KmsOptions, *, store: KeyStore, registry: CollectorRegistry
) -> HealthServer | None:
    endpoint = options.http_endpoint
    if endpoint is None:
        return None
    try:
        http = HealthServer(registry=registry, host=endpoint.host or "0.0.0.0", port=endpoint.port)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {endpoint.host}:{endpoint.port}: {exc.strerror}",
            key="http-endpoint",
        ) from exc

    # Liveness: the key that encrypts is usable (cached counts). Readiness additionally
    # says whether the last refresh reached Barbican, for dashboards and alerts.
    def key_problem() -> str | None:
        return store.ring.current_problem()  # the ring is swapped on refresh: read it per probe

    def barbican_problem() -> str | None:
        return _refresh_problem(store)

    http.health.add("key", key_problem)
    http.ready.add("key", key_problem)
    http.ready.add("barbican", barbican_problem)
    return http.start()


def _refresh_problem(store: KeyStore) -> str | None:
    result = store.last_result
    if result is None or result.ok:
        return None
    # Short first: the probe body truncates each reason to 200 characters.
    return "; ".join(
        f"{key} refused, cached key serving: {error}"
        if key in result.rejected
        else f"{key}: {error}"
        for key, error in result.failures.items()
    )
