"""The bastion (capo.md §2.5): an OpenStackServer ``<cluster>-bastion`` owned by the
OpenStackCluster, with the bastion security group and a floating IP, recreated when its spec
changes and removed when disabled or when the cluster is deleted.

Called by the cluster controller: ``reconcile`` after the cluster is provisioned, ``delete``
before the load balancer goes. Both return seconds to requeue after (None: done). The
server itself is booted and freed by the OpenStackServer controller. The floating IP is found
by its description (unique per cluster) or its address, so a crash between its create and the
status write adopts it; a user-given ``bastion.floatingIP`` is detached, never deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from osk8s_capo import naming
from osk8s_capo.kube import OPENSTACK_CLUSTER, OPENSTACK_SERVER, KubeObjects, meta
from osk8s_capo.machine_spec import server_spec
from osk8s_capo.scope import Scope
from osk8s_capo.webhooks import pruned

REQUEUE: Final = 15.0
REQUEUE_DELETE: Final = 5.0


def enabled(spec: Mapping[str, Any]) -> bool:
    bastion = spec.get("bastion") or {}
    return bool(bastion) and bastion.get("enabled", True) is not False


def desired_spec(osc: Mapping[str, Any]) -> dict[str, Any]:
    """The bastion's OpenStackServer spec: its machine spec with the cluster identity, network,
    tags, ``bastion.availabilityZone`` and the bastion security group."""
    bastion = (osc.get("spec") or {}).get("bastion") or {}
    machine = {"spec": {"failureDomain": bastion.get("availabilityZone")}}
    group = ((osc.get("status") or {}).get("bastionSecurityGroup") or {}).get("id")
    return server_spec(
        {"spec": bastion.get("spec") or {}},
        machine,
        osc,
        control_plane=False,
        role_group_id=group or "",
    )


def fip_description(namespace: str, cluster: str) -> str:
    return f"{naming.description(namespace, cluster)} bastion"


def _management_port(scope: Scope, server: Mapping[str, Any]) -> tuple[str, str] | None:
    for ref in ((server.get("status") or {}).get("resources") or {}).get("ports") or []:
        port = scope.ports.get(str(ref["id"]))
        for fixed in port.fixed_ips or []:
            return str(port.id), str(fixed["ip_address"])
    return None


def reconcile(
    kube: KubeObjects, scope: Scope, osc: Mapping[str, Any], status: dict[str, Any]
) -> float | None:
    namespace, cluster = str(meta(osc)["namespace"]), str(meta(osc)["name"])
    name = naming.bastion_name(cluster)
    existing = kube.get(OPENSTACK_SERVER, namespace, name)
    spec = osc.get("spec") or {}
    if not enabled(spec):
        return delete(kube, scope, osc, status)
    wanted = desired_spec(osc)
    if existing is not None and meta(existing).get("deletionTimestamp"):
        return REQUEUE
    if existing is not None and pruned(existing.get("spec") or {}) != pruned(wanted):
        _release_fip(scope, existing, spec, keep=True)
        kube.delete(OPENSTACK_SERVER, namespace, name)  # recreated on a later pass
        return REQUEUE
    if existing is None:
        kube.create(
            OPENSTACK_SERVER,
            namespace,
            {
                "apiVersion": OPENSTACK_SERVER.api_version,
                "kind": "OpenStackServer",
                "metadata": {
                    "name": name,
                    "labels": {"cluster.x-k8s.io/cluster-name": cluster},
                    "ownerReferences": [
                        {
                            "apiVersion": OPENSTACK_CLUSTER.api_version,
                            "kind": "OpenStackCluster",
                            "name": cluster,
                            "uid": meta(osc)["uid"],
                            "controller": True,
                        }
                    ],
                },
                "spec": wanted,
            },
        )
        status["bastion"] = {"name": name}
        return REQUEUE
    sstatus = existing.get("status") or {}
    record: dict[str, Any] = {
        "name": name,
        "id": sstatus.get("instanceID"),
        "state": sstatus.get("instanceState"),
    }
    if not sstatus.get("ready"):
        status["bastion"] = {k: v for k, v in record.items() if v}
        return REQUEUE
    port = _management_port(scope, existing)
    if port is not None:
        record["ip"] = port[1]
        external = (status.get("externalNetwork") or {}).get("id")
        if external and spec.get("enableExternalNetwork", True) is not False:
            record["floatingIP"] = _attach_fip(scope, osc, status, external, port)
    status["bastion"] = {k: v for k, v in record.items() if v}
    return None


def _attach_fip(
    scope: Scope,
    osc: Mapping[str, Any],
    status: Mapping[str, Any],
    external: str,
    port: tuple[str, str],
) -> str:
    """The FIP on the port, else the one in status, else the user's, else ours (by
    description, so a lost create is adopted); attached to the port."""
    fips = scope.floating_ips
    on_port = fips.on_port(port[0])
    if on_port is not None:
        return str(on_port.floating_ip_address)
    bastion = (osc.get("spec") or {}).get("bastion") or {}
    known = (status.get("bastion") or {}).get("floatingIP") or bastion.get("floatingIP")
    found = fips.query(floating_ip_address=known) if known else []
    if found:
        fips.associate(str(found[0].id), port[0], fixed_ip=port[1])
        return str(found[0].floating_ip_address)
    meta_ = meta(osc)
    description = fip_description(str(meta_["namespace"]), str(meta_["name"]))
    fip = fips.create(external, description=description, port_id=port[0], address=known or None)
    return str(fip.floating_ip_address)


def _release_fip(
    scope: Scope, server: Mapping[str, Any], spec: Mapping[str, Any], *, keep: bool
) -> None:
    """Detach the bastion's FIP; delete it unless it is the user's or ``keep`` (recreate)."""
    port = _management_port(scope, server)
    if port is None:
        return
    fip = scope.floating_ips.on_port(port[0])
    if fip is None:
        return
    user = ((spec.get("bastion") or {}).get("floatingIP")) == fip.floating_ip_address
    if keep or user:
        scope.floating_ips.disassociate(str(fip.id))
    else:
        scope.floating_ips.delete(str(fip.id))


def delete(
    kube: KubeObjects, scope: Scope, osc: Mapping[str, Any], status: dict[str, Any]
) -> float | None:
    """FIP first (ours deleted, the user's detached), then the OpenStackServer object; None
    once it is gone. Also the cluster delete path (bastion enabled or not)."""
    namespace, cluster = str(meta(osc)["namespace"]), str(meta(osc)["name"])
    existing = kube.get(OPENSTACK_SERVER, namespace, naming.bastion_name(cluster))
    if existing is not None:
        if not meta(existing).get("deletionTimestamp"):
            _release_fip(scope, existing, osc.get("spec") or {}, keep=False)
            kube.delete(OPENSTACK_SERVER, namespace, naming.bastion_name(cluster))
        return REQUEUE_DELETE
    # a FIP made before its server object was lost (crash): ours by description
    for fip in scope.floating_ips.query(description=fip_description(namespace, cluster)):
        scope.floating_ips.delete(str(fip.id))
    status.pop("bastion", None)
    return None
