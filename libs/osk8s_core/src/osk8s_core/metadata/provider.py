"""Instance metadata with CPO's ``[Metadata] search-order`` semantics, cached per provider.

Sources are tried in the configured order and the first success wins; when all fail, one
MetadataError lists every source's reason. A success is cached for the provider's lifetime
(metadata of the running instance does not change); failures are not, so a later call retries.
The provider owns no global state: build one in ``main`` and pass it to who needs it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from osk8s_core.errors import ConfigError, MetadataError
from osk8s_core.metadata.configdrive import BlockDevices, ConfigDriveSource, SystemBlockDevices
from osk8s_core.metadata.model import Device, InstanceMetadata
from osk8s_core.metadata.service import DEFAULT_BASE_URL, MetadataServiceSource

CONFIG_DRIVE = "configDrive"
METADATA_SERVICE = "metadataService"
DEFAULT_SEARCH_ORDER = (CONFIG_DRIVE, METADATA_SERVICE)
_KNOWN = (CONFIG_DRIVE, METADATA_SERVICE)


class MetadataSource(Protocol):
    """One place metadata can come from."""

    @property
    def name(self) -> str: ...

    def fetch(self) -> InstanceMetadata:
        """The metadata, or MetadataError."""
        ...


class Logger(Protocol):
    def debug(self, event: str, **kw: Any) -> Any: ...


def check_search_order(order: Sequence[str]) -> tuple[str, ...]:
    """Validate a search order as CPO does at start-up: 1-2 items of the two known sources."""
    items = tuple(item.strip() for item in order)
    expected = f"1 or 2 comma-separated items of {CONFIG_DRIVE}, {METADATA_SERVICE}"
    if not items or len(items) > 2:
        raise ConfigError(
            "invalid length", section="Metadata", key="search-order", expected=expected
        )
    for item in items:
        if item not in _KNOWN:
            raise ConfigError(
                f"invalid element {item!r}",
                section="Metadata",
                key="search-order",
                expected=expected,
            )
    return items


class MetadataProvider:
    """Answers "which instance am I" from the first source in ``search_order`` that works."""

    def __init__(
        self,
        *,
        search_order: Sequence[str],
        sources: Mapping[str, MetadataSource],
        logger: Logger | None = None,
    ) -> None:
        self._order = check_search_order(search_order)
        missing = [name for name in self._order if name not in sources]
        if missing:
            raise ValueError(f"no source object for {missing}")
        self._sources = dict(sources)
        self._logger = logger
        self._lock = threading.Lock()
        self._cached: InstanceMetadata | None = None

    @property
    def search_order(self) -> tuple[str, ...]:
        return self._order

    def get(self) -> InstanceMetadata:
        """The cached metadata, reading the sources on first use (one reader at a time)."""
        with self._lock:
            if self._cached is None:
                self._cached = self._search()
            return self._cached

    def instance_id(self) -> str:
        return self.get().uuid

    def availability_zone(self) -> str:
        """The AZ sanitized to a label value (CSI topology, node labels)."""
        return self.get().availability_zone

    def hostname(self) -> str:
        return self.get().hostname

    def devices(self) -> tuple[Device, ...]:
        return self.get().devices

    def _search(self) -> InstanceMetadata:
        failures: list[str] = []
        for name in self._order:
            try:
                metadata = self._sources[name].fetch()
            except MetadataError as exc:
                failures.append(str(exc))
                if self._logger is not None:
                    self._logger.debug("metadata source failed", source=name, error=str(exc))
                continue
            if self._logger is not None:
                self._logger.debug("instance metadata read", source=name, uuid=metadata.uuid)
            return metadata
        raise MetadataError("instance metadata unavailable: " + "; ".join(failures))


def build_provider(
    search_order: Sequence[str] = DEFAULT_SEARCH_ORDER,
    *,
    metadata_url: str = DEFAULT_BASE_URL,
    timeout: float = 10.0,
    config_drive_dir: Path | None = None,
    block_devices: BlockDevices | None = None,
    logger: Logger | None = None,
) -> MetadataProvider:
    """The production wiring: real config drive and metadata service sources."""
    sources: dict[str, MetadataSource] = {
        CONFIG_DRIVE: ConfigDriveSource(
            devices=block_devices or SystemBlockDevices(), mounted_dir=config_drive_dir
        ),
        METADATA_SERVICE: MetadataServiceSource(base_url=metadata_url, timeout=timeout),
    }
    return MetadataProvider(search_order=search_order, sources=sources, logger=logger)
