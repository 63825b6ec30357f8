"""The instance metadata we use, parsed from OpenStack's ``meta_data.json``.

Only the fields osk8s needs (uuid, name, hostname, availability zone, devices) are kept, in
frozen dataclasses. Parsing enforces CPO's one rule: a non-empty ``uuid``. The availability
zone is offered raw and sanitized into a valid Kubernetes label value (CPO PR #2634: an AZ
like "Württemberg Test" must not break node labels or CSI topology). No I/O here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from osk8s_core.errors import MetadataError

META_DATA_PATH = "openstack/latest/meta_data.json"
"""Relative path of the document on the config drive and under the metadata service URL."""

_LABEL_MAX = 63
_NOT_LABEL_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_ALNUM_EDGES = re.compile(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$")


def sanitize_label_value(value: str) -> str:
    """Make ``value`` a valid Kubernetes label value (``""`` stays ``""``).

    Runs of disallowed characters become ``-``, non-alphanumeric edges are trimmed and the
    result is cut to 63 characters.
    """
    text = _NOT_LABEL_CHARS.sub("-", value)
    text = _ALNUM_EDGES.sub("", text)
    return _ALNUM_EDGES.sub("", text[:_LABEL_MAX])


@dataclass(frozen=True)
class Device:
    """One entry of ``devices`` (Nova device tagging; Hyper-V has it for untagged disks too)."""

    type: str
    """``disk`` or ``nic``."""
    bus: str = ""
    """``scsi``, ``virtio``, ``pci``, ``ide`` …"""
    serial: str = ""
    """For volumes: the Cinder volume id (how cinder-csi finds the disk as a fallback)."""
    address: str = ""
    """Bus address, e.g. ``0:0:0:1`` (SCSI) or ``0000:00:05.0`` (PCI)."""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class InstanceMetadata:
    """What osk8s reads about the instance it runs on."""

    uuid: str
    """Nova instance id: the CSI node id and the CCM provider id suffix."""
    name: str = ""
    """Nova server name."""
    hostname: str = ""
    """Hostname Nova assigned (``hostname`` key), often ``<name>.novalocal``."""
    availability_zone_raw: str = ""
    """The AZ exactly as Nova reports it."""
    devices: tuple[Device, ...] = ()
    source: str = ""
    """Which source produced it: ``configDrive`` or ``metadataService``."""

    @property
    def availability_zone(self) -> str:
        """The AZ as a valid label value (topology segment, node label)."""
        return sanitize_label_value(self.availability_zone_raw)

    def disk_by_serial(self, serial: str) -> Device | None:
        """The disk whose serial is ``serial`` (a Cinder volume id), if the metadata lists it."""
        for device in self.devices:
            if device.type == "disk" and device.serial == serial:
                return device
        return None


def parse_meta_data(raw: bytes | str, *, source: str) -> InstanceMetadata:
    """Parse a ``meta_data.json`` document; MetadataError if it is not usable."""
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise MetadataError(f"{source}: meta_data.json is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise MetadataError(f"{source}: meta_data.json is not a JSON object")
    uuid = _text(doc.get("uuid"))
    if not uuid:
        # Matches CPO: metadata without an instance id is useless.
        raise MetadataError(f"{source}: invalid OpenStack metadata, got empty uuid")
    return InstanceMetadata(
        uuid=uuid,
        name=_text(doc.get("name")),
        hostname=_text(doc.get("hostname")),
        availability_zone_raw=_text(doc.get("availability_zone")),
        devices=_devices(doc.get("devices")),
        source=source,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _devices(value: Any) -> tuple[Device, ...]:
    if not isinstance(value, list):
        return ()
    devices = []
    for item in value:
        if not isinstance(item, dict):
            continue
        tags = item.get("tags")
        devices.append(
            Device(
                type=_text(item.get("type")),
                bus=_text(item.get("bus")),
                serial=_text(item.get("serial")),
                address=_text(item.get("address")),
                tags=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
            )
        )
    return tuple(devices)
