"""OpenStackMachine → OpenStackServer spec, and the server's state mirrored back (capo.md §2.6
steps 6-8). Pure functions over JSON objects: no clients.

The server spec is the machine spec plus what the cluster decided: the cluster network and
subnets (only ``primarySubnet`` for new ports when set) for a machine without ports, the
managed security group of the machine's role on every port with port security and no SGs of
its own, cluster + machine tags, ``Machine.spec.failureDomain`` as the AZ, the bootstrap data
Secret as ``userDataRef``. Ports are deep-copied so the machine spec is never changed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from osk8s_capo.naming import merge_tags

COPIED: Final = (
    "image",
    "rootVolume",
    "additionalBlockDevices",
    "serverGroup",
    "serverMetadata",
    "configDrive",
    "trunk",
    "schedulerHintAdditionalProperties",
    "floatingIPPoolRef",
    "securityGroups",
)


class InvalidMachineSpec(ValueError):
    """Terminal: the machine can never get a server as specified (CAPO ``InvalidMachineSpec``)."""


def _cluster_subnets(osc: Mapping[str, Any]) -> list[str]:
    status = osc.get("status") or {}
    primary = ((osc.get("spec") or {}).get("primarySubnet") or {}).get("id")
    subnets = [str(s["id"]) for s in (status.get("network") or {}).get("subnets") or []]
    return [str(primary)] if primary else subnets


def server_spec(
    osm: Mapping[str, Any],
    machine: Mapping[str, Any],
    osc: Mapping[str, Any],
    *,
    control_plane: bool,
    server_group_id: str | None = None,
    role_group_id: str | None = None,
) -> dict[str, Any]:
    """The OpenStackServer spec of one machine. ``server_group_id``: the managed group
    (osk8s opt-in) for control-plane machines that name none themselves. ``role_group_id``
    overrides the role's managed security group (the bastion's)."""
    spec = osm.get("spec") or {}
    cluster_spec = osc.get("spec") or {}
    cluster_status = osc.get("status") or {}
    network_id = (cluster_status.get("network") or {}).get("id")
    role_group = cluster_status.get(
        "controlPlaneSecurityGroup" if control_plane else "workerSecurityGroup"
    )
    if role_group_id is not None:
        role_group = {"id": role_group_id}
    ports = copy.deepcopy(list(spec.get("ports") or []))
    if not ports:
        if not network_id:
            raise InvalidMachineSpec(
                "no network was found or provided; please check your machine spec"
            )
        subnets = _cluster_subnets(osc)
        port: dict[str, Any] = {"network": {"id": network_id}}
        if subnets:
            port["fixedIPs"] = [{"subnet": {"id": s}} for s in subnets]
        ports = [port]
    for port in ports:
        if not port.get("network"):
            if not network_id:
                raise InvalidMachineSpec("a port has no network and the cluster has none")
            port["network"] = {"id": network_id}
        secured = port.get("enablePortSecurity") is not False
        if secured and not port.get("securityGroups") and role_group and role_group.get("id"):
            port["securityGroups"] = [{"id": role_group["id"]}]
    out: dict[str, Any] = {
        "identityRef": copy.deepcopy(spec.get("identityRef") or cluster_spec.get("identityRef")),
        "sshKeyName": spec.get("sshKeyName") or "",
        "ports": ports,
    }
    flavor = spec.get("flavor") or {}
    if flavor.get("id"):
        out["flavorID"] = flavor["id"]
    else:
        out["flavor"] = (flavor.get("filter") or {}).get("name") or ""
    for key in COPIED:
        if spec.get(key) not in (None, [], {}):
            out[key] = copy.deepcopy(spec[key])
    tags = merge_tags(cluster_spec.get("tags"), spec.get("tags"))
    if tags:
        out["tags"] = tags
    failure_domain = (machine.get("spec") or {}).get("failureDomain")
    if failure_domain:
        out["availabilityZone"] = failure_domain
    secret = ((machine.get("spec") or {}).get("bootstrap") or {}).get("dataSecretName")
    if secret:
        out["userDataRef"] = {"name": secret}
    if server_group_id and "serverGroup" not in out:
        out["serverGroup"] = {"id": server_group_id}
    return out


def provider_id(region: str, instance_id: str) -> str:
    """``openstack://<region>/<uuid>`` (usually ``openstack:///<uuid>``), as OCCM reads it."""
    return f"openstack://{region}/{instance_id}"
