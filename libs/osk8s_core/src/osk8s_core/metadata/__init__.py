"""Instance metadata: which OpenStack instance this process runs on, and where.

Read from the config drive (already mounted, or found by label and mounted read-only) or the
metadata service, in CPO's ``[Metadata] search-order``; the result is cached per provider.
Used for the CSI node id and topology (NodeGetInfo) and cinder's device fallback.
"""

from osk8s_core.metadata.configdrive import BlockDevices, ConfigDriveSource, SystemBlockDevices
from osk8s_core.metadata.model import (
    Device,
    InstanceMetadata,
    parse_meta_data,
    sanitize_label_value,
)
from osk8s_core.metadata.provider import (
    CONFIG_DRIVE,
    DEFAULT_SEARCH_ORDER,
    METADATA_SERVICE,
    MetadataProvider,
    MetadataSource,
    build_provider,
    check_search_order,
)
from osk8s_core.metadata.service import MetadataServiceSource

__all__ = [
    "CONFIG_DRIVE",
    "DEFAULT_SEARCH_ORDER",
    "METADATA_SERVICE",
    "BlockDevices",
    "ConfigDriveSource",
    "Device",
    "InstanceMetadata",
    "MetadataProvider",
    "MetadataServiceSource",
    "MetadataSource",
    "SystemBlockDevices",
    "build_provider",
    "check_search_order",
    "parse_meta_data",
    "sanitize_label_value",
]
