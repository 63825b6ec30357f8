"""CPO search-order semantics: validation, order, first success wins, caching."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from metadata_helpers import UUID, FakeBlockDevices, document, metadata_server

from osk8s_core.errors import ConfigError, MetadataError
from osk8s_core.metadata import (
    InstanceMetadata,
    MetadataProvider,
    build_provider,
    check_search_order,
    parse_meta_data,
)


@dataclass
class ScriptedSource:
    """A fake of the narrow MetadataSource protocol: fails ``failures`` times, then answers."""

    name: str
    uuid: str = UUID
    failures: int = 0
    fetches: int = field(default=0)

    def fetch(self) -> InstanceMetadata:
        self.fetches += 1
        if self.fetches <= self.failures:
            raise MetadataError(f"{self.name}: down")
        return parse_meta_data(document(uuid=self.uuid), source=self.name)


@pytest.mark.parametrize(
    "order",
    [
        ("configDrive",),
        ("metadataService",),
        ("configDrive", "metadataService"),
        ("metadataService", " configDrive "),
    ],
)
def test_valid_search_orders(order: tuple[str, ...]) -> None:
    assert check_search_order(order) == tuple(item.strip() for item in order)


@pytest.mark.parametrize(
    "order",
    [(), ("configdrive",), ("configDrive", "metadataService", "configDrive"), ("",)],
)
def test_invalid_search_orders_name_section_and_key(order: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError) as info:
        check_search_order(order)
    assert (info.value.section, info.value.key) == ("Metadata", "search-order")


def _provider(order: tuple[str, ...], drive: ScriptedSource, service: ScriptedSource):
    return MetadataProvider(
        search_order=order, sources={"configDrive": drive, "metadataService": service}
    )


def test_first_source_in_order_wins() -> None:
    drive = ScriptedSource("configDrive", uuid="from-drive")
    service = ScriptedSource("metadataService", uuid="from-service")
    assert _provider(("metadataService", "configDrive"), drive, service).instance_id() == (
        "from-service"
    )
    assert drive.fetches == 0
    assert _provider(("configDrive", "metadataService"), drive, service).instance_id() == (
        "from-drive"
    )


def test_falls_through_to_next_source_on_failure() -> None:
    drive = ScriptedSource("configDrive", failures=1)
    service = ScriptedSource("metadataService", uuid="from-service")
    provider = _provider(("configDrive", "metadataService"), drive, service)
    assert provider.get().source == "metadataService"
    assert (drive.fetches, service.fetches) == (1, 1)


def test_single_source_order_never_tries_the_other() -> None:
    drive = ScriptedSource("configDrive", failures=5)
    service = ScriptedSource("metadataService")
    with pytest.raises(MetadataError, match="configDrive: down"):
        _provider(("configDrive",), drive, service).get()
    assert service.fetches == 0


def test_all_failing_lists_every_reason_and_is_not_cached() -> None:
    drive = ScriptedSource("configDrive", failures=1)
    service = ScriptedSource("metadataService", failures=1)
    provider = _provider(("configDrive", "metadataService"), drive, service)
    with pytest.raises(MetadataError) as info:
        provider.get()
    assert "configDrive: down" in str(info.value)
    assert "metadataService: down" in str(info.value)
    # The next call retries (drive now works) and that success is cached.
    assert provider.instance_id() == UUID
    assert provider.availability_zone() == "W-rttemberg-Test"
    assert provider.hostname() == "worker-1.novalocal"
    assert len(provider.devices()) == 2
    assert (drive.fetches, service.fetches) == (2, 1)


def test_missing_source_object_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="metadataService"):
        MetadataProvider(search_order=("metadataService",), sources={})


def test_build_provider_wires_real_sources(tmp_path: Path) -> None:
    # Config drive absent (fake host without the label), metadata service on 127.0.0.1.
    devices = FakeBlockDevices(drive_files={})
    with metadata_server(document(uuid="svc-uuid")) as server:
        provider = build_provider(
            ("configDrive", "metadataService"),
            metadata_url=server.url,
            timeout=5,
            block_devices=devices,
        )
        assert provider.instance_id() == "svc-uuid"
        assert provider.instance_id() == "svc-uuid"
    assert len(server.hits) == 1  # cached
    assert devices.calls == [("blkid", "config-2")]
