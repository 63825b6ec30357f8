"""The Barbican reader over real HTTP (keystoneauth session, fake Keystone + Barbican wire)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry

from osk8s_barbican_kms.barbican import BarbicanSecretReader
from osk8s_core.credentials import (
    ClientSettings,
    ConnectionCache,
    ConnectionFactory,
    build_session,
)
from osk8s_core.credentials.factory import ConnectionBuilder
from osk8s_core.errors import NotFound
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.retry import NO_RETRY

from .kms_fake_cloud import FakeCloud, running_fake_cloud
from .kms_fakes import KEY_A, RecordingLogger


@pytest.fixture
def cloud() -> Iterator[FakeCloud]:
    with running_fake_cloud() as fake:
        yield fake


def reader_for(cloud: FakeCloud, tmp: Path) -> tuple[BarbicanSecretReader, CollectorRegistry]:
    conf = tmp / "cloud.conf"
    conf.write_text(cloud.cloud_conf(KEY_A))
    settings = ClientSettings(component="barbican-kms-plugin", version="test", timeout=5)
    factory = ConnectionFactory(
        [conf],
        settings=settings,
        cache=ConnectionCache(settings=settings, builder=cast(ConnectionBuilder, build_session)),
        logger=RecordingLogger(),
    )
    registry = CollectorRegistry()
    client: OpenStackClient[Any] = OpenStackClient(
        factory, metrics=ApiMetrics(registry), retry_policy=NO_RETRY, logger=RecordingLogger()
    )
    return BarbicanSecretReader(client=client, sessions=factory), registry


def test_reads_raw_bytes_by_uuid_or_href(cloud: FakeCloud, tmp_path: Path) -> None:
    payload = bytes(range(256))[:32]  # binary, not text: must come back byte for byte
    cloud.payloads[KEY_A] = payload
    reader, registry = reader_for(cloud, tmp_path)
    assert reader.read_secret_payload(KEY_A) == payload
    href = f"{cloud.url}/barbican/v1/secrets/{KEY_A}"
    assert reader.read_secret_payload(href) == payload
    total = registry.get_sample_value(
        "openstack_api_requests_total", {"request": "secret_payload_get"}
    )
    assert total == 2.0
    assert cloud.payload_requests == 2


def test_missing_secret_is_not_found(cloud: FakeCloud, tmp_path: Path) -> None:
    reader, registry = reader_for(cloud, tmp_path)
    with pytest.raises(NotFound, match="404"):
        reader.read_secret_payload(str(os.urandom(4).hex()))
    errors = registry.get_sample_value(
        "openstack_api_request_errors_total", {"request": "secret_payload_get"}
    )
    assert errors == 1.0
