"""Fixtures for the core resource-layer contract tests (``test_core_*.py``).

The connection is built the production way: the test cloud's ``cloud.conf`` read by the
core's config loader, credentials turned into a session by ``osk8s_core.credentials``, and
every call made through ``OpenStackClient``. Each test gets a fresh metrics registry and a
``Cleanup`` that deletes what it made even when it fails, so no run leaves orphans.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from openstack.connection import Connection
from prometheus_client import CollectorRegistry

from osk8s_core import errors
from osk8s_core.config.auth import AuthOptions
from osk8s_core.config.loader import load_cloud_config
from osk8s_core.credentials.connection import ClientSettings, build_connection
from osk8s_core.credentials.tls import CaFileStore
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import RetryPolicy, WaitPolicy

from ..conftest import TestCloud

SETTINGS = ClientSettings(component="osk8s-contract", version="0", timeout=60)
# The test cloud's fake backends settle in seconds; poll briskly, give up well before CI does.
FAST_WAIT = WaitPolicy(timeout=180, interval=0.5, factor=1.5, max_interval=3)
POLICY = RetryPolicy(max_attempts=3, backoff_base=0.2)


class RecordingLogger:
    """The client's narrow Logger protocol; keeps the warnings for assertions."""

    def __init__(self) -> None:
        self.warnings: list[dict[str, Any]] = []

    def warning(self, event: str | None = None, *args: Any, **kw: Any) -> None:
        self.warnings.append({"event": event, **kw})


@dataclass
class Core:
    """One test's view of the core layer: client, metrics and waits."""

    client: OpenStackClient[Connection]
    registry: CollectorRegistry
    metrics: ApiMetrics
    waiter: Waiter
    logger: RecordingLogger

    def client_for(self, conn: Connection) -> OpenStackClient[Connection]:
        """A client over another connection, recording into the same metrics and logger."""
        return OpenStackClient(conn, metrics=self.metrics, retry_policy=POLICY, logger=self.logger)

    @property
    def conn(self) -> Connection:
        return self.client.connection

    def requests(self, label: str) -> float:
        """How many HTTP attempts were recorded under the CPO request ``label``."""
        value = self.registry.get_sample_value("openstack_api_requests_total", {"request": label})
        return value or 0.0


@dataclass
class Cleanup:
    """Deletes run last-in first-out at teardown; NotFound and other errors are ignored
    there (the test's own assertions already ran), so one failure does not leak the rest."""

    actions: list[Callable[[], object]] = field(default_factory=list)

    def add(self, action: Callable[[], object]) -> None:
        self.actions.append(action)

    def run(self) -> None:
        while self.actions:
            action = self.actions.pop()
            with contextlib.suppress(errors.Osk8sError, OSError):
                action()


@pytest.fixture(scope="session")
def core_auth(testcloud: TestCloud) -> AuthOptions:
    """The demo user's credentials as the core's loader reads them from ``cloud.conf``."""
    result = load_cloud_config([testcloud.layout.cloud_conf], environ={})
    return result.config.auth[""]


@pytest.fixture(scope="session")
def core_conn(core_auth: AuthOptions) -> Iterator[Connection]:
    store = CaFileStore()
    conn = build_connection(core_auth, settings=SETTINGS, ca_store=store)
    try:
        yield conn
    finally:
        conn.close()
        store.close()


@pytest.fixture
def core(core_conn: Connection) -> Core:
    registry = CollectorRegistry()
    metrics = ApiMetrics(registry)
    logger = RecordingLogger()
    client = OpenStackClient(core_conn, metrics=metrics, retry_policy=POLICY, logger=logger)
    return Core(
        client=client,
        registry=registry,
        metrics=metrics,
        waiter=Waiter(policy=FAST_WAIT),
        logger=logger,
    )


@pytest.fixture
def cleanup() -> Iterator[Cleanup]:
    stack = Cleanup()
    try:
        yield stack
    finally:
        stack.run()


def catalog_types(conn: Connection) -> set[str]:
    return {entry["type"] for entry in conn.service_catalog}


def require_service(conn: Connection, *types: str) -> None:
    """Skip the test unless one of ``types`` is in the catalog (nova, manila are optional)."""
    have = catalog_types(conn)
    if not have & set(types):
        pytest.skip(f"test cloud runs no {'/'.join(types)} service (`osk8s-testcloud up all`)")
