"""Names, descriptions and markers of what CCM makes in Octavia and Neutron (CPO §1.4.1).

These strings are the contract with running clusters: an operator switching from CPO keeps
their load balancers, floating IPs and security groups only because we find them by exactly
the names and description markers CPO wrote. Pure functions, no API calls.
"""

from __future__ import annotations

import re
from typing import Final

MAX_NAME: Final = 255
LB_PREFIX: Final = "kube_service_"
"""Every LB name CCM generates starts with this; sharing counts tags with this prefix."""


def cut(name: str) -> str:
    """Octavia and Neutron names are at most 255 characters (matches CPO's cutString)."""
    return name[:MAX_NAME]


def lb_name(cluster: str, namespace: str, service: str) -> str:
    """``kube_service_<cluster>_<namespace>_<service>``."""
    return cut(f"{LB_PREFIX}{cluster}_{namespace}_{service}")


def legacy_lb_name(service_uid: str) -> str:
    """Kubernetes' default LB name (``a`` + the UID without dashes, 32 characters): what
    CPO's older releases named LBs, still looked up so those are adopted, not duplicated."""
    return ("a" + service_uid).replace("-", "")[:32]


def listener_name(index: int, lb: str) -> str:
    return cut(f"listener_{index}_{lb}")


def pool_name(index: int, lb: str) -> str:
    return cut(f"pool_{index}_{lb}")


def monitor_name(index: int, lb: str) -> str:
    return cut(f"monitor_{index}_{lb}")


def member_name(node: str, address: str, node_port: int) -> str:
    """Serial-mode member name (batch mode names a member after its node)."""
    return cut(f"member_{node}_{address}_{node_port}")


def lb_description(cluster: str, namespace: str, service: str) -> str:
    return f"Kubernetes external service {namespace}/{service} from cluster {cluster}"


def fip_description(cluster: str, namespace: str, service: str) -> str:
    """The marker by which CCM knows a floating IP is its own (only those are deleted)."""
    return (
        f"Floating IP for Kubernetes external service {namespace}/{service} from cluster {cluster}"
    )


def sg_name(service_uid: str, namespace: str, service: str) -> str:
    return cut(f"lb-sg-{service_uid}-{namespace}-{service}")


def sg_description(cluster: str, namespace: str, service: str) -> str:
    return f"Security Group for {namespace}/{service} Service LoadBalancer in cluster {cluster}"


def cluster_of(name: str, namespace: str, service: str) -> str | None:
    """The cluster-name component of an LB name CCM generated for this Service, None when the
    name is not of that form. Like CPO, a cluster name is taken to contain no ``_`` where the
    namespace or Service name would be ambiguous; CPO's regex has the same limitation."""
    suffix = f"_{namespace}_{service}"
    if not name.startswith(LB_PREFIX) or not name.endswith(suffix):
        return None
    cluster = name[len(LB_PREFIX) : len(name) - len(suffix)]
    return cluster or None


def renamed(name: str, old_cluster: str, new_cluster: str) -> str:
    """A child or LB name with the cluster component replaced (cluster rename, §1.4.8)."""
    return cut(
        re.sub(
            rf"{LB_PREFIX}{re.escape(old_cluster)}_", f"{LB_PREFIX}{new_cluster}_", name, count=1
        )
    )


def is_generated(name: str) -> bool:
    return name.startswith(LB_PREFIX)
