"""Cloud configuration: CPO-compatible cloud.conf, clouds.yaml and OS_* into frozen dataclasses.

Only ``loader`` touches files and the environment; the rest is pure parsing and data.
"""

from osk8s_core.config.auth import AuthOptions
from osk8s_core.config.loader import LoadResult, default_search_dirs, load_cloud_config
from osk8s_core.config.model import (
    BlockStorageOptions,
    CloudConfig,
    ConfigWarning,
    KeyManagerOptions,
    LoadBalancerClass,
    LoadBalancerOptions,
    MetadataOptions,
    NetworkingOptions,
    RouteOptions,
)

__all__ = [
    "AuthOptions",
    "BlockStorageOptions",
    "CloudConfig",
    "ConfigWarning",
    "KeyManagerOptions",
    "LoadBalancerClass",
    "LoadBalancerOptions",
    "LoadResult",
    "MetadataOptions",
    "NetworkingOptions",
    "RouteOptions",
    "default_search_dirs",
    "load_cloud_config",
]
