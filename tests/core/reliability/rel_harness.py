"""Harness for the reliability tests: a tiny OpenStack upstream, the fault proxy in front of it,
and an openstacksdk connection built by the core, called through ``OpenStackClient``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from openstack.connection import Connection
from prometheus_client import CollectorRegistry
from rel_cloud import Cloud, running_cloud

from osk8s_core.config.auth import AuthOptions
from osk8s_core.credentials.connection import ClientSettings, build_connection
from osk8s_core.credentials.tls import CaFileStore
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.retry import RetryPolicy
from osk8s_core.secrets import SecretStr
from osk8s_testing.faultproxy import FaultProxy

# Per-attempt HTTP timeout of the hang tests: each held call costs this much real time.
HANG_TIMEOUT = 3.0  # 1 s left a loaded CI machine too little for the unheld retry


@dataclass
class RecordingLogger:
    """The client's narrow ``Logger`` protocol, keeping what was logged."""

    warnings: list[dict[str, Any]] = field(default_factory=list)

    def warning(self, event: str | None = None, *args: Any, **kw: Any) -> None:
        self.warnings.append({"event": event, **kw})


@dataclass
class Harness:
    cloud: Cloud
    proxy: FaultProxy
    connection: Connection
    registry: CollectorRegistry
    logger: RecordingLogger
    sleeps: list[float]

    def client(
        self, policy: RetryPolicy | None = None, *, real_sleep: bool = False
    ) -> OpenStackClient[Connection]:
        return OpenStackClient(
            self.connection,
            metrics=ApiMetrics(self.registry),
            retry_policy=policy or RetryPolicy(jitter=0.0),
            logger=self.logger,
            # Record the waits to assert them without really waiting, unless asked.
            sleep=time.sleep if real_sleep else self.sleeps.append,
        )

    def metric(self, name: str, request: str) -> float:
        return self.registry.get_sample_value(name, {"request": request}) or 0.0


@contextmanager
def _harness(http_timeout: float) -> Iterator[Harness]:
    with running_cloud() as cloud, FaultProxy(cloud.url) as proxy:
        cloud.catalog_base = proxy.url  # the token's catalog sends every service call via the proxy
        auth = AuthOptions(
            auth_url=f"{proxy.url}/identity/v3",
            username="demo",
            password=SecretStr("not-a-real-password"),
            project_name="demo",
            project_domain_id="default",
            user_domain_id="default",
            region="RegionOne",
        )
        settings = ClientSettings(component="reliability-test", version="0", timeout=http_timeout)
        connection = build_connection(auth, settings=settings, ca_store=CaFileStore())
        try:
            yield Harness(cloud, proxy, connection, CollectorRegistry(), RecordingLogger(), [])
        finally:
            connection.close()


@pytest.fixture
def harness() -> Iterator[Harness]:
    # A generous timeout: the CI machine is small and shared, a slow answer is not a fault.
    with _harness(http_timeout=10.0) as h:
        yield h


@pytest.fixture
def hang_harness() -> Iterator[Harness]:
    """For hang faults: each held call costs this timeout, so keep it short but not tight."""
    with _harness(http_timeout=HANG_TIMEOUT) as h:
        yield h
