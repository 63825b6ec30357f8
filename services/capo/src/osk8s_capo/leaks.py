"""``capo-controller-manager leaks`` (osk8s, beyond CAPO): the OpenStack objects that carry a
CAPO cluster's naming but that no live OpenStackCluster, OpenStackMachine or OpenStackServer
accounts for.

Leaks are CAPO's top complaint (capo.md §6 row 1). What "carries a cluster's naming" means
(capo.md §2.11), with ``<crn>`` the cluster resource name ``<namespace>-<cluster>``:

- network, subnet, router ``k8s-clusterapi-cluster-<crn>``; security groups
  ``k8s-cluster-<crn>-secgroup-<role>``; API load balancer ``k8s-clusterapi-cluster-<crn>-kubeapi``;
  floating IPs described "Created by cluster-api-provider-openstack cluster <crn> ...";
  the managed control-plane server group ``<crn>-control-plane`` (of a cluster known by the
  above or live);
- a port with CAPO's description on a cluster's network (a network named as above, or the one
  a live cluster's status records), or a server NIC (``compute:*``) on a named network;
- a server with such a port, or with an address on a named network; a trunk whose parent port
  is such a port;
- a volume with CAPO's description attached to such a server, or named ``<server>-...`` after
  such a server (or port), or after a live cluster's name (``<cluster>-...``, CAPI's
  machine names).

Anything else (user objects, Cinder CSI volumes on nodes, routers' and load balancers' own
ports) is never reported. Read-only: it never deletes. Output: one JSON object per line,
``{"kind", "id", "name", "cluster", "why"}``; exit 0 when the report was made (leaks or
not), 1 when the cloud or the API server could not be read, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osk8s_capo import naming
from osk8s_capo.leaks_live import Accounted, accounted

if TYPE_CHECKING:
    from osk8s_core.openstack.client import OpenStackClient

CAPO_DESCRIPTION = "Created by cluster-api-provider-openstack"
"""Ports and volumes of a server (no cluster in it; the network or server says which)."""
_CLUSTER_DESCRIPTION = naming.description("", "").removesuffix("-")
_INFRA_OWNERS = ("network:", "Octavia", "neutron:LOADBALANCER")
"""Ports of routers, DHCP, floating IPs and load balancers: reported through their owner."""
_OCTAVIA_PORTS = "octavia-lb-"
"""Octavia's VIP and amphora VRRP ports (``octavia-lb-<id>``, ``octavia-lb-vrrp-<id>``);
the VRRP port is a ``compute:`` port of the amphora, which is no machine of ours."""


@dataclass(frozen=True)
class Leak:
    kind: str
    id: str
    name: str
    cluster: str = ""
    """The cluster resource name ``<namespace>-<cluster>`` the object carries."""
    why: str = ""


@dataclass(frozen=True)
class Inventory:
    """The project's objects, as listed (openstacksdk resources)."""

    networks: Sequence[Any] = ()
    subnets: Sequence[Any] = ()
    routers: Sequence[Any] = ()
    security_groups: Sequence[Any] = ()
    load_balancers: Sequence[Any] = ()
    floating_ips: Sequence[Any] = ()
    server_groups: Sequence[Any] = ()
    servers: Sequence[Any] = ()
    ports: Sequence[Any] = ()
    trunks: Sequence[Any] = ()
    volumes: Sequence[Any] = ()


def take_inventory(client: OpenStackClient[Any]) -> Inventory:
    """List everything through the core's client (metrics, retries, error mapping)."""
    from osk8s_core.openstack.floating_ips import FloatingIps  # noqa: PLC0415
    from osk8s_core.openstack.loadbalancers import LoadBalancers  # noqa: PLC0415
    from osk8s_core.openstack.networking import Networking  # noqa: PLC0415
    from osk8s_core.openstack.ports import Ports  # noqa: PLC0415
    from osk8s_core.openstack.security_groups import SecurityGroups  # noqa: PLC0415
    from osk8s_core.openstack.servers import Servers  # noqa: PLC0415
    from osk8s_core.openstack.volumes import Volumes  # noqa: PLC0415

    networking = Networking(client)
    network, compute = client.service("network"), client.service("compute")
    trunks: list[Any] = []
    if "trunk" in networking.extensions():
        trunks = client.call("trunk_list", lambda: list(network.trunks()))

    def has(service_type: str) -> bool:
        """Octavia and Cinder are optional (CAPO's no-LB path is for clouds without one)."""
        conn = client.connection
        return bool(client.call("service_catalog_get", lambda: conn.has_service(service_type)))

    load_balancers = LoadBalancers(client).query() if has("load-balancer") else []
    return Inventory(
        networks=networking.networks(),
        subnets=networking.subnets(),
        routers=networking.routers(),
        security_groups=SecurityGroups(client).query(),
        load_balancers=[lb for lb in load_balancers if lb.provisioning_status != "DELETED"],
        floating_ips=FloatingIps(client).query(),
        server_groups=client.call("server_group_list", lambda: list(compute.server_groups())),
        servers=Servers(client).query(),
        ports=Ports(client).query(),
        trunks=trunks,
        volumes=Volumes(client).query() if has("block-storage") else [],
    )


# -- which cluster an object's name carries ------------------------------------------------------


def _named_crn(kind: str, name: str) -> str | None:
    managed = f"{naming.MANAGED_PREFIX}-"
    if kind in ("network", "subnet", "router") and name.startswith(managed):
        return name[len(managed) :] or None
    if kind == "load_balancer" and name.startswith(managed) and name.endswith("-kubeapi"):
        return name[len(managed) : -len("-kubeapi")] or None
    if kind == "security_group" and name.startswith(f"{naming.SECGROUP_PREFIX}-"):
        for role in naming.SECGROUP_ROLES:
            if name.endswith(f"-secgroup-{role}"):
                crn = name[len(naming.SECGROUP_PREFIX) + 1 : -len(f"-secgroup-{role}")]
                return crn or None
    return None


def _described_crn(description: str) -> str | None:
    """ "Created by cluster-api-provider-openstack cluster <crn>[ kubeapi|bastion]"."""
    if not description.startswith(_CLUSTER_DESCRIPTION):
        return None
    return description[len(_CLUSTER_DESCRIPTION) :].split(" ", maxsplit=1)[0] or None


def _orphan_why(crn: str, acc: Accounted) -> str | None:
    """Why a named cluster object is a leak, or None when a live cluster accounts for it."""
    if crn not in acc.clusters:
        return f"carries cluster {crn}; no live OpenStackCluster {crn}"
    return None


class _Report:
    """One pass over the inventory; ``leaks`` in a stable order (kind, then listing order)."""

    def __init__(self, inventory: Inventory, acc: Accounted) -> None:
        self.inv, self.acc = inventory, acc
        self.leaks: list[Leak] = []
        self.named_networks: dict[str, tuple[str, str]] = {}
        """network ID → (cluster resource name, network name), for networks named after one."""
        self.server_crn: dict[str, str] = {}
        """claimed server ID → cluster resource name."""
        self.port_crn: dict[str, str] = {}
        """claimed port ID → cluster resource name."""

    def add(self, kind: str, item: Any, crn: str, why: str, *, label: str | None = None) -> None:
        name = label if label is not None else str(getattr(item, "name", "") or "")
        self.leaks.append(Leak(kind, str(item.id), name, crn, why))

    def run(self) -> list[Leak]:
        self.cluster_objects()
        self.machine_objects()
        return self.leaks

    def cluster_objects(self) -> None:
        known = set(self.acc.clusters)
        for kind, items in (
            ("network", self.inv.networks),
            ("subnet", self.inv.subnets),
            ("router", self.inv.routers),
            ("security_group", self.inv.security_groups),
            ("load_balancer", self.inv.load_balancers),
        ):
            for item in items:
                crn = _named_crn(kind, str(item.name or ""))
                if crn is None:
                    continue
                known.add(crn)
                if kind == "network":
                    self.named_networks[str(item.id)] = (crn, str(item.name))
                why = _orphan_why(crn, self.acc)
                ids = self.acc.cluster_ids(crn, kind)
                if why is None and ids is not None and str(item.id) not in ids:
                    why = f"named after live cluster {crn} but not the {kind} its status records"
                if why is not None:
                    self.add(kind, item, crn, why)
        for fip in self.inv.floating_ips:
            crn = _described_crn(str(fip.description or ""))
            if crn is None:
                continue
            known.add(crn)
            why = _orphan_why(crn, self.acc)
            if why is not None:
                self.add("floating_ip", fip, crn, why, label=str(fip.floating_ip_address or ""))
        for group in self.inv.server_groups:
            crn = naming.server_group_cluster(str(group.name or ""))
            if crn is not None and crn in known and crn not in self.acc.clusters:
                why = f"managed control-plane server group of cluster {crn}; no live cluster"
                self.add("server_group", group, crn, why)

    # -- machine side ----------------------------------------------------------------------------

    def port_cluster(self, port: Any) -> tuple[str, str] | None:
        """(cluster resource name, network label) a port carries, or None for a user port."""
        owner = str(port.device_owner or "")
        if owner.startswith(_INFRA_OWNERS) or str(port.name or "").startswith(_OCTAVIA_PORTS):
            return None
        capo = str(port.description or "").startswith(CAPO_DESCRIPTION)
        named = self.named_networks.get(str(port.network_id))
        if named is not None and (capo or owner.startswith("compute:")):
            return named
        live = self.acc.cluster_networks.get(str(port.network_id))
        if live is not None and capo:
            return live, f"the network of live cluster {live}"
        return None

    def machine_objects(self) -> None:
        acc = self.acc
        port_leaks: list[tuple[Any, str, str]] = []
        for port in self.inv.ports:
            found = self.port_cluster(port)
            if found is None:
                continue
            crn, network = found
            self.port_crn[str(port.id)] = crn
            if port.device_id and str(port.device_owner or "").startswith("compute:"):
                self.server_crn.setdefault(str(port.device_id), crn)
            if not (
                str(port.id) in acc.port_ids
                or str(port.name or "") in acc.port_names
                or str(port.device_id or "") in acc.server_ids
            ):
                port_leaks.append((port, crn, network))
        named_by_name = {name: crn for crn, name in self.named_networks.values()}
        for server in self.inv.servers:
            owner = self.server_crn.get(str(server.id))
            for network_name in getattr(server, "addresses", None) or {}:
                owner = owner or named_by_name.get(str(network_name))
            if owner is None:
                continue
            self.server_crn[str(server.id)] = owner
            if str(server.id) not in acc.server_ids and str(server.name) not in acc.server_names:
                why = f"server on a network of cluster {owner}; no live OpenStackMachine/Server"
                self.add("server", server, owner, why)
        for port, crn, network in port_leaks:
            why = f"port on {network}; no live OpenStackMachine/Server accounts for it"
            self.add("port", port, crn, why)
        leaked_ports = {str(port.id) for port, _, _ in port_leaks}
        for trunk in self.inv.trunks:
            parent = str(trunk.port_id or "")
            if parent in leaked_ports:
                why = f"trunk of leaked port {parent}"
                self.add("trunk", trunk, self.port_crn[parent], why)
        self.volumes()

    def volume_prefixes(self) -> dict[str, str]:
        """Name prefix → cluster: ``<server>-`` of claimed servers and of claimed ports'
        servers (``<server>-<suffix>``), then ``<cluster>-`` of live clusters (CAPI's
        machine names start with the cluster name)."""
        prefixes: dict[str, str] = {}
        for server in self.inv.servers:
            if str(server.id) in self.server_crn:
                prefixes[f"{server.name}-"] = self.server_crn[str(server.id)]
        for port in self.inv.ports:
            if str(port.id) in self.port_crn and "-" in str(port.name or ""):
                prefixes[f"{str(port.name).rsplit('-', 1)[0]}-"] = self.port_crn[str(port.id)]
        for crn, (_, cluster) in self.acc.clusters.items():
            prefixes.setdefault(f"{cluster}-", crn)
        return prefixes

    def volume_owner(self, volume: Any, prefixes: dict[str, str]) -> str | None:
        for attachment in getattr(volume, "attachments", None) or []:
            crn = self.server_crn.get(str(attachment.get("server_id") or ""))
            if crn is not None:
                return crn
        name = str(volume.name or "")
        matches = [prefix for prefix in prefixes if name.startswith(prefix)]
        return prefixes[max(matches, key=len)] if matches else None

    def volumes(self) -> None:
        prefixes = self.volume_prefixes()
        for volume in self.inv.volumes:
            if not str(volume.description or "").startswith(CAPO_DESCRIPTION):
                continue  # user and CSI volumes never carry CAPO's description
            crn = self.volume_owner(volume, prefixes)
            if crn is None:
                continue
            attached = {str(a.get("server_id")) for a in getattr(volume, "attachments", None) or []}
            if str(volume.name or "") in self.acc.volume_names or attached & self.acc.server_ids:
                continue
            why = f"CAPO volume of cluster {crn}; no live OpenStackMachine/Server accounts for it"
            self.add("volume", volume, crn, why)


def find_leaks(inventory: Inventory, live: Accounted) -> list[Leak]:
    """The inventory's objects that carry a cluster's naming and that ``live`` does not
    account for (see the module docstring)."""
    return _Report(inventory, live).run()


def live_objects(kube: Any) -> Accounted:
    """Read every OpenStackCluster, OpenStackMachine and OpenStackServer (all namespaces)."""
    from osk8s_capo.kube import (  # noqa: PLC0415
        OPENSTACK_CLUSTER,
        OPENSTACK_MACHINE,
        OPENSTACK_SERVER,
    )

    return accounted(
        kube.list(OPENSTACK_CLUSTER), kube.list(OPENSTACK_MACHINE), kube.list(OPENSTACK_SERVER)
    )


def _kube(kubeconfig: str) -> Any:
    from osk8s_capo.kube import KubeObjects  # noqa: PLC0415
    from osk8s_core.k8s.client import KubeClientOptions, build_api_client  # noqa: PLC0415

    return KubeObjects(build_api_client(KubeClientOptions(kubeconfig=kubeconfig)))


def _write(leaks: Iterable[Leak]) -> None:
    for leak in leaks:
        sys.stdout.write(json.dumps(asdict(leak)) + "\n")


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="capo-controller-manager leaks",
        description="List OpenStack objects carrying a CAPO cluster's naming that no live "
        "OpenStackCluster/OpenStackMachine/OpenStackServer accounts for (read-only). "
        "One JSON object per line; exit 0 when the report was made, 1 on errors.",
    )
    parser.add_argument("--kubeconfig", default="", help="management cluster kubeconfig")
    parser.add_argument("--clouds-yaml", required=True, help="clouds.yaml of the project")
    parser.add_argument("--cloud", default="openstack", help="entry in clouds.yaml")
    args = parser.parse_args(list(argv))
    import structlog  # noqa: PLC0415
    from prometheus_client import CollectorRegistry  # noqa: PLC0415

    from osk8s_capo.credentials import IdentityError, auth_from_clouds_yaml  # noqa: PLC0415
    from osk8s_core import __version__  # noqa: PLC0415
    from osk8s_core.credentials import CaFileStore, ClientSettings, build_connection  # noqa: PLC0415
    from osk8s_core.errors import Osk8sError  # noqa: PLC0415
    from osk8s_core.metrics import ApiMetrics  # noqa: PLC0415
    from osk8s_core.openstack.client import OpenStackClient  # noqa: PLC0415

    try:
        auth = auth_from_clouds_yaml(Path(args.clouds_yaml).read_text(encoding="utf-8"), args.cloud)
        conn = build_connection(
            auth,
            settings=ClientSettings(component="capo-leaks", version=__version__),
            ca_store=CaFileStore(),
        )
        client = OpenStackClient(
            conn,
            metrics=ApiMetrics(CollectorRegistry(), prefix="capo_"),
            logger=structlog.get_logger("osk8s.capo.leaks"),
        )
        live = live_objects(_kube(args.kubeconfig))
        leaks = find_leaks(take_inventory(client), live)
    except (OSError, IdentityError, Osk8sError) as exc:
        sys.stderr.write(f"leaks: {exc}\n")
        return 1
    _write(leaks)
    return 0
