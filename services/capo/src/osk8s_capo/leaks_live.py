"""What the live CAPO objects of a management cluster account for (the leak report's other side).

An OpenStack object is accounted for when a live OpenStackCluster (by cluster resource name
``<ns>-<name>``, and by the IDs its status records), OpenStackMachine or OpenStackServer (by
status IDs or the deterministic names of capo.md §2.11: server ``<name>``, ports
``<name>-<index|nameSuffix>``, volumes ``<name>-root``/``<name>-<device>``) claims it.
Pure functions over the objects' JSON; objects being deleted still count (their controller is
freeing what they hold).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from osk8s_capo import naming

# status field of the OpenStackCluster → the kind of the object whose ID it records
_STATUS_IDS = (
    ("network", "network"),
    ("router", "router"),
    ("apiServerManagedLoadBalancer", "load_balancer"),
    ("controlPlaneSecurityGroup", "security_group"),
    ("workerSecurityGroup", "security_group"),
    ("bastionSecurityGroup", "security_group"),
)


@dataclass
class Accounted:
    """Everything live objects claim; ``clusters`` maps ``<ns>-<name>`` to ``(ns, name)``."""

    clusters: dict[str, tuple[str, str]] = field(default_factory=dict)
    status_ids: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    """(cluster resource name, kind) → the IDs that cluster's status records for that kind."""
    cluster_networks: dict[str, str] = field(default_factory=dict)
    """network ID in a live cluster's status (managed or the user's) → cluster resource name."""
    server_ids: set[str] = field(default_factory=set)
    server_names: set[str] = field(default_factory=set)
    port_ids: set[str] = field(default_factory=set)
    port_names: set[str] = field(default_factory=set)
    volume_names: set[str] = field(default_factory=set)

    def cluster_ids(self, crn: str, kind: str) -> set[str] | None:
        """The IDs a live cluster records for ``kind``; None when it records none (then its
        name alone accounts for the object: status may be lost, e.g. after a move)."""
        return self.status_ids.get((crn, kind))


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _add_cluster(acc: Accounted, osc: Mapping[str, Any]) -> None:
    namespace, name = str(_meta(osc).get("namespace")), str(_meta(osc).get("name"))
    crn = naming.cluster_resource_name(namespace, name)
    acc.clusters[crn] = (namespace, name)
    status = osc.get("status") or {}
    for key, kind in _STATUS_IDS:
        found = (status.get(key) or {}).get("id")
        if found:
            acc.status_ids.setdefault((crn, kind), set()).add(str(found))
    network = status.get("network") or {}
    if network.get("id"):
        acc.cluster_networks[str(network["id"])] = crn
    subnets = {str(s["id"]) for s in network.get("subnets") or [] if s.get("id")}
    if subnets:
        acc.status_ids[(crn, "subnet")] = subnets
    bastion = status.get("bastion") or {}
    if bastion.get("id"):
        acc.server_ids.add(str(bastion["id"]))


def _add_server(acc: Accounted, obj: Mapping[str, Any], *, default_port: bool) -> None:
    """An OpenStackServer, or an OpenStackMachine (its server carries the machine's name and
    spec; a machine without ``ports`` gets one port on the cluster network)."""
    name = str(_meta(obj).get("name"))
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    acc.server_names.add(name)
    if status.get("instanceID"):
        acc.server_ids.add(str(status["instanceID"]))
    for ref in (status.get("resources") or {}).get("ports") or []:
        if ref.get("id"):
            acc.port_ids.add(str(ref["id"]))
    ports = list(spec.get("ports") or []) or ([{}] if default_port else [])
    for index, port in enumerate(ports):
        acc.port_names.add(naming.port_name(name, port.get("nameSuffix") or index))
    if int((spec.get("rootVolume") or {}).get("sizeGiB") or 0) > 0:
        acc.volume_names.add(naming.root_volume_name(name))
    for device in spec.get("additionalBlockDevices") or []:
        if (device.get("storage") or {}).get("type") == "Volume" and device.get("name"):
            acc.volume_names.add(naming.block_device_volume_name(name, str(device["name"])))


def accounted(
    clusters: Iterable[Mapping[str, Any]],
    machines: Iterable[Mapping[str, Any]] = (),
    servers: Iterable[Mapping[str, Any]] = (),
) -> Accounted:
    """What live OpenStackClusters, OpenStackMachines and OpenStackServers account for."""
    acc = Accounted()
    for osc in clusters:
        _add_cluster(acc, osc)
    for osm in machines:
        _add_server(acc, osm, default_port=True)
    for oss in servers:
        _add_server(acc, oss, default_port=False)
    return acc
