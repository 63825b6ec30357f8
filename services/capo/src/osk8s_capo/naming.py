"""Names and descriptions of the OpenStack objects CAPO makes (capo.md §2.11).

These strings are the adoption keys: a create that landed before its ID was saved is found
again by name, and deletion and the leak report work from them when status is lost. So they
must match Go CAPO byte for byte (a cluster first made by CAPO is adopted by osk8s and back).
Pure functions; no OpenStack or Kubernetes calls here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

MANAGED_PREFIX: Final = "k8s-clusterapi-cluster"
"""Prefix of the network, subnet, router and API load balancer names."""
SECGROUP_PREFIX: Final = "k8s-cluster"
"""Prefix of the managed security group names."""
SECGROUP_ROLES: Final = ("controlplane", "worker", "bastion")


def cluster_resource_name(namespace: str, name: str) -> str:
    """``<namespace>-<cluster name>`` (Go: ``names.ClusterResourceName``)."""
    return f"{namespace}-{name}"


def network_name(namespace: str, cluster: str) -> str:
    """Managed network, subnet and router: ``k8s-clusterapi-cluster-<ns>-<name>``."""
    return f"{MANAGED_PREFIX}-{cluster_resource_name(namespace, cluster)}"


subnet_name = network_name
router_name = network_name


def security_group_name(namespace: str, cluster: str, role: str) -> str:
    """``k8s-cluster-<ns>-<name>-secgroup-<role>``, role in controlplane/worker/bastion."""
    if role not in SECGROUP_ROLES:
        raise ValueError(f"unknown security group role {role!r}")
    return f"{SECGROUP_PREFIX}-{cluster_resource_name(namespace, cluster)}-secgroup-{role}"


def load_balancer_name(namespace: str, cluster: str) -> str:
    """API server LB: ``k8s-clusterapi-cluster-<ns>-<name>-kubeapi``."""
    return f"{network_name(namespace, cluster)}-kubeapi"


def lb_port_name(lb_name: str, port: int) -> str:
    """Listener, pool and monitor of one port: ``<lb>-<port>``."""
    return f"{lb_name}-{port}"


def lb_member_name(lb_name: str, port: int, machine: str) -> str:
    """LB member of one control-plane machine: ``<lb>-<port>-<machine>``."""
    return f"{lb_port_name(lb_name, port)}-{machine}"


CONTROL_PLANE_SERVER_GROUP_SUFFIX: Final = "-control-plane"


def control_plane_server_group_name(namespace: str, cluster: str) -> str:
    """osk8s's opt-in control-plane server group (not CAPO's): ``<ns>-<cluster>-control-plane``."""
    return f"{cluster_resource_name(namespace, cluster)}{CONTROL_PLANE_SERVER_GROUP_SUFFIX}"


def server_group_cluster(group: str) -> str | None:
    """The cluster resource name a control-plane server group name carries, else None."""
    crn = group.removesuffix(CONTROL_PLANE_SERVER_GROUP_SUFFIX)
    return crn if crn != group and crn else None


def description(namespace: str, cluster: str) -> str:
    """ "Created by cluster-api-provider-openstack cluster <ns>-<name>" (``GetDescription``)."""
    return (
        "Created by cluster-api-provider-openstack cluster "
        f"{cluster_resource_name(namespace, cluster)}"
    )


def bastion_name(cluster: str) -> str:
    """Bastion OpenStackServer and Nova server: ``<cluster>-bastion``."""
    return f"{cluster}-bastion"


def port_name(server: str, suffix: str | int) -> str:
    """A server's port: ``<server>-<index|nameSuffix>``; its trunk has the same name."""
    return f"{server}-{suffix}"


def root_volume_name(server: str) -> str:
    return f"{server}-root"


def block_device_volume_name(server: str, device: str) -> str:
    return f"{server}-{device}"


def floating_ip_claim_name(server: str) -> str:
    return f"{server}-floating-ip-address"


def fip_pool_tag(pool: str) -> str:
    return f"cluster-api-provider-openstack-fip-pool-{pool}"


def merge_tags(*groups: Iterable[str] | None) -> list[str]:
    """Tags of several sources merged, first occurrence wins, empties dropped (CAPO
    de-duplicates cluster + machine tags the same way)."""
    seen: dict[str, None] = {}
    for group in groups:
        for tag in group or ():
            if tag:
                seen.setdefault(tag, None)
    return list(seen)
