"""The driver's settings, parsed once from flags and cloud.conf into frozen dataclasses.

Names, defaults and units match CPO's cinder-csi-plugin (§2.6/§2.7 of the anchor). Pure data
and small parsers: no file access, no OpenStack or gRPC imports (``--help`` stays light).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from osk8s_core.errors import ConfigError

DRIVER_NAME = "cinder.csi.openstack.org"
DRIVER_VERSION = "2.0.0"
"""CPO's cinder driver version; VendorVersion is ``2.0.0@<osk8s version>``."""
TOPOLOGY_KEY = f"topology.{DRIVER_NAME}/zone"
CLUSTER_KEY = f"{DRIVER_NAME}/cluster"
RESIZE_REQUIRED_KEY = f"{DRIVER_NAME}/resizeRequired"
AFFINITY_KEY = f"{DRIVER_NAME}/affinity"
ANTI_AFFINITY_KEY = f"{DRIVER_NAME}/anti-affinity"
VOLUME_DESCRIPTION = "Created by OpenStack Cinder CSI driver"
MAX_ATTACH_LIMIT = 256
"""CPO clamps ``node-volume-attach-limit`` to this; we also use it when unset (CPO's docs)."""
GIB = 1 << 30


def parse_bool(value: str | bool, *, flag: str) -> bool:
    """Go ``strconv.ParseBool`` spellings, as CPO's flags accept."""
    if isinstance(value, bool):
        return value
    text = value.strip().lower()
    if text in {"1", "t", "true"}:
        return True
    if text in {"0", "f", "false"}:
        return False
    raise ConfigError(f"invalid boolean {value!r}", key=flag, expected="true or false")


def parse_topology(pairs: Sequence[str]) -> Mapping[str, str]:
    """``--additional-topology key=value`` (repeatable, comma lists allowed as CPO's map flag)."""
    out: dict[str, str] = {}
    for item in pairs:
        for part in filter(None, (p.strip() for p in item.split(","))):
            key, sep, value = part.partition("=")
            if not sep or not key:
                raise ConfigError(
                    f"invalid pair {part!r}", key="additional-topology", expected="key=value"
                )
            out[key] = value
    return MappingProxyType(out)


def attach_limit(configured: int) -> int:
    """NodeGetInfo's max volumes: unset/invalid -> 256 (what CPO's docs promise; CPO's code
    reports 0 = unlimited when unset), above 256 -> 256 (as CPO)."""
    if configured <= 0 or configured > MAX_ATTACH_LIMIT:
        return MAX_ATTACH_LIMIT
    return configured


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class ControllerOptions:
    """What the controller service needs besides the clouds."""

    cluster: str = ""
    """``--cluster``: volume/snapshot metadata ``cinder.csi.openstack.org/cluster``."""
    with_topology: bool = True
    """``--with-topology``: AZ from topology, accessible topology in responses."""
    ignore_volume_az: bool = False
    """``[BlockStorage] ignore-volume-az``: PV topology = requested preferred topology."""
    ignore_volume_microversion: bool = False
    """``[BlockStorage] ignore-volume-microversion``: no online (in-use) expansion."""
    pvc_annotations: bool = False
    """``--pvc-annotations``: affinity hints from PVC annotations."""


@dataclass(frozen=True)
class NodeOptions:
    """What the node service needs besides metadata and the mounter."""

    with_topology: bool = True
    """``--with-topology``: report the AZ segment in NodeGetInfo."""
    additional_topology: Mapping[str, str] = field(default_factory=_empty)
    """``--additional-topology``: extra segments reported by NodeGetInfo."""
    max_volumes: int = MAX_ATTACH_LIMIT
    """From ``[BlockStorage] node-volume-attach-limit`` through ``attach_limit``."""
    rescan_on_resize: bool = False
    """``[BlockStorage] rescan-on-resize``: rescan the device and check its size first."""
