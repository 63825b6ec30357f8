"""What an OpenStackServer asks Nova, Neutron and Cinder for: port, volume and boot requests.

Pure translation of ``spec`` + ``status.resolved`` into the attributes of the core's create
calls (capo.md §2.7 steps 6-7): port attributes, the root and extra volumes (names
``<server>-root``, ``<server>-<device>``), block device mappings, scheduler hints, metadata,
tags and base64 user data. No calls here, so every rule is checked without a cloud.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from osk8s_core.openstack.volumes import VolumeSpec


def port_attributes(resolved_port: Mapping[str, Any]) -> dict[str, Any]:
    """Neutron create attributes of one ``ResolvedPortSpec`` (network and name are separate)."""
    attrs: dict[str, Any] = {"description": resolved_port.get("description") or ""}
    fixed = [
        {k: v for k, v in (("subnet_id", f.get("subnet")), ("ip_address", f.get("ipAddress"))) if v}
        for f in resolved_port.get("fixedIPs") or []
    ]
    if fixed:
        attrs["fixed_ips"] = fixed
    port_security = resolved_port.get("enablePortSecurity")
    if port_security is not None:
        attrs["port_security_enabled"] = bool(port_security)
    if port_security is not False:
        attrs["security_group_ids"] = list(resolved_port.get("securityGroups") or [])
        pairs = [
            {
                k: v
                for k, v in (
                    ("ip_address", p.get("ipAddress")),
                    ("mac_address", p.get("macAddress")),
                )
                if v
            }
            for p in resolved_port.get("allowedAddressPairs") or []
        ]
        if pairs:
            attrs["allowed_address_pairs"] = pairs
    simple = {
        "adminStateUp": "is_admin_state_up",
        "macAddress": "mac_address",
        "hostID": "binding_host_id",
        "vnicType": "binding_vnic_type",
        "propagateUplinkStatus": "propagate_uplink_status",
    }
    for key, attr in simple.items():
        if resolved_port.get(key) is not None:
            attrs[attr] = resolved_port[key]
    profile = resolved_port.get("profile") or {}
    binding: dict[str, Any] = {}
    if profile.get("ovsHWOffload"):
        binding["capabilities"] = ["switchdev"]
    if profile.get("trustedVF"):
        binding["trusted"] = True
    if binding:
        attrs["binding_profile"] = binding
    for spec in resolved_port.get("valueSpecs") or []:
        attrs[str(spec["key"])] = spec["value"]
    return attrs


@dataclass(frozen=True)
class PlannedVolume:
    """A Cinder volume the server boots from or carries; ``device`` is None for the root."""

    spec: VolumeSpec
    device: str | None


def volume_az(volume: Mapping[str, Any], machine_az: str | None) -> str | None:
    zone = volume.get("availabilityZone") or {}
    if zone.get("from") == "Machine":
        return machine_az
    return zone.get("name") or None


def planned_volumes(
    name: str, spec: Mapping[str, Any], image_id: str, description: str
) -> list[PlannedVolume]:
    """The root volume (``rootVolume.sizeGiB > 0``) and the ``Volume`` extra devices."""
    az = spec.get("availabilityZone") or None
    out: list[PlannedVolume] = []
    root = spec.get("rootVolume") or {}
    if int(root.get("sizeGiB") or 0) > 0:
        out.append(
            PlannedVolume(
                VolumeSpec(
                    name=f"{name}-root",
                    size_gb=int(root["sizeGiB"]),
                    volume_type=root.get("type") or None,
                    availability_zone=volume_az(root, az),
                    description=description,
                    image_id=image_id,
                ),
                None,
            )
        )
    for device in spec.get("additionalBlockDevices") or []:
        storage = device.get("storage") or {}
        if storage.get("type") != "Volume":
            continue
        volume = storage.get("volume") or {}
        out.append(
            PlannedVolume(
                VolumeSpec(
                    name=f"{name}-{device['name']}",
                    size_gb=int(device["sizeGiB"]),
                    volume_type=volume.get("type") or None,
                    availability_zone=volume_az(volume, az),
                    description=description,
                ),
                str(device["name"]),
            )
        )
    return out


def block_device_mapping(
    spec: Mapping[str, Any], image_id: str, volume_ids: Mapping[str | None, str]
) -> list[dict[str, Any]]:
    """Nova's ``block_device_mapping_v2``: boot volume or image, then the extra devices in
    spec order (tagged with their names); empty when the plain image boot needs none."""
    devices = spec.get("additionalBlockDevices") or []
    mapping: list[dict[str, Any]] = []
    if None in volume_ids:
        mapping.append(
            {
                "uuid": volume_ids[None],
                "source_type": "volume",
                "destination_type": "volume",
                "boot_index": 0,
                "delete_on_termination": True,
            }
        )
    elif devices:
        mapping.append(
            {
                "uuid": image_id,
                "source_type": "image",
                "destination_type": "local",
                "boot_index": 0,
                "delete_on_termination": True,
            }
        )
    for device in devices:
        storage = device.get("storage") or {}
        entry: dict[str, Any] = {
            "boot_index": -1,
            "delete_on_termination": True,
            "tag": device["name"],
        }
        if storage.get("type") == "Volume":
            entry.update(
                uuid=volume_ids[str(device["name"])],
                source_type="volume",
                destination_type="volume",
            )
        else:
            entry.update(
                source_type="blank", destination_type="local", volume_size=int(device["sizeGiB"])
            )
        mapping.append(entry)
    return mapping


def scheduler_hints(spec: Mapping[str, Any], server_group_id: str | None) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    if server_group_id:
        hints["group"] = server_group_id
    for prop in spec.get("schedulerHintAdditionalProperties") or []:
        value = prop.get("value") or {}
        kind = value.get("type")
        if kind == "Bool":
            hints[prop["name"]] = bool(value.get("bool"))
        elif kind == "Number":
            hints[prop["name"]] = int(value.get("number") or 0)
        else:
            hints[prop["name"]] = str(value.get("string") or "")
    return hints


def boot_attributes(
    spec: Mapping[str, Any],
    resolved: Mapping[str, Any],
    *,
    port_ids: list[str],
    volume_ids: Mapping[str | None, str],
    user_data: bytes | None,
) -> dict[str, Any]:
    """The create-server attributes (the name is passed separately)."""
    attrs: dict[str, Any] = {
        "flavor_id": resolved["flavorID"],
        "networks": [{"port": port_id} for port_id in port_ids],
    }
    if None not in volume_ids:
        attrs["image_id"] = resolved["imageID"]  # omitted when booting from a volume
    mapping = block_device_mapping(spec, resolved["imageID"], volume_ids)
    if mapping:
        attrs["block_device_mapping"] = mapping
    if spec.get("availabilityZone"):
        attrs["availability_zone"] = spec["availabilityZone"]
    if user_data:
        attrs["user_data"] = base64.b64encode(user_data).decode()
    tags = list(dict.fromkeys(spec.get("tags") or []))
    if tags:
        attrs["tags"] = tags
    metadata = {m["key"]: m["value"] for m in spec.get("serverMetadata") or []}
    if metadata:
        attrs["metadata"] = metadata
    if spec.get("configDrive") is not None:
        attrs["config_drive"] = bool(spec["configDrive"])
    if spec.get("sshKeyName"):
        attrs["key_name"] = spec["sshKeyName"]
    hints = scheduler_hints(spec, resolved.get("serverGroupID"))
    if hints:
        attrs["scheduler_hints"] = hints
    return attrs


def addresses(server: Any) -> list[dict[str, str]]:
    """CAPO's node addresses: fixed → InternalIP, floating → ExternalIP, name → InternalDNS."""
    out: list[dict[str, str]] = []
    for entries in (getattr(server, "addresses", None) or {}).values():
        for entry in entries:
            kind = "ExternalIP" if entry.get("OS-EXT-IPS:type") == "floating" else "InternalIP"
            item = {"type": kind, "address": str(entry.get("addr"))}
            if item not in out:
                out.append(item)
    out.append({"type": "InternalDNS", "address": str(server.name)})
    return out


def fault_message(server: Any) -> str:
    """Nova's fault text for a server in ERROR (CAPO #3375: it must reach the condition)."""
    fault = getattr(server, "fault", None) or {}
    message = str(fault.get("message") or "")
    details = str(fault.get("details") or "")
    if message and details and details not in message and len(details) < 300:
        return f"{message}: {details}"
    return message or f"server is in state {server.status}"
