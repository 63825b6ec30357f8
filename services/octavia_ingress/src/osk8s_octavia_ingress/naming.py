"""Names and descriptions of the OpenStack objects of one Ingress, as CPO spells them.

Operators' scripts and dashboards find objects by these strings, and an LB made by CPO is
adopted by ours through them, so they match upstream byte for byte (pool names: sha256 of
``<service>+<port>``). Pure functions; no I/O.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

CONTROLLER_TAG: Final = "octavia.ingress.kubernetes.io"
"""Tag on managed security groups (matches CPO's ``IngressControllerTag``)."""
POLICY_DESCRIPTION: Final = "Created by kubernetes ingress"
_VERSION_MARK: Final = ", version: "


def resource_name(cluster: str, namespace: str, name: str) -> str:
    """Name of the LB, its listener and the managed security group."""
    return f"kube_ingress_{cluster}_{namespace}_{name}"


def secret_name(cluster: str, namespace: str, name: str, secret: str) -> str:
    """Barbican secret holding one TLS Secret of the Ingress as PKCS#12."""
    return f"{resource_name(cluster, namespace, name)}_{secret}"


def lb_description(cluster: str, namespace: str, name: str) -> str:
    """Description at creation, before the Ingress was first fully processed."""
    return f"Kubernetes ingress {name} in namespace {namespace} from cluster {cluster}"


def processed_description(cluster: str, namespace: str, name: str, version: str) -> str:
    """Description once processed: the Ingress resourceVersion it reflects."""
    return (
        f"Kubernetes Ingress {name} in namespace {namespace} from cluster {cluster}"
        f"{_VERSION_MARK}{version}"
    )


def processed_version(description: str | None) -> str | None:
    """The resourceVersion marked in an LB description, if any. CPO tests a substring; we
    compare the whole version so ``12`` is not mistaken for ``123``."""
    text = description or ""
    if _VERSION_MARK not in text:
        return None
    return text.rsplit(_VERSION_MARK, 1)[1].strip()


def fip_description(cluster: str, namespace: str, name: str) -> str:
    return (
        f"Floating IP for Kubernetes ingress {name} in namespace {namespace} from cluster {cluster}"
    )


def sg_description(cluster: str, namespace: str, name: str) -> str:
    return f"Security group created for Ingress {namespace}/{name} from cluster {cluster}"


def sg_tags(namespace: str, name: str) -> tuple[str, str]:
    return (CONTROLLER_TAG, f"{namespace}_{name}")


def pool_name(service: str, port: str) -> str:
    """sha256 hex of ``<service name>+<port number or name>`` (CPO's ``utils.Hash``)."""
    return hashlib.sha256(f"{service}+{port}".encode()).hexdigest()


def policy_name(resource: str, key: str) -> str:
    """Stable name of the policy for one (host, pathType, path): the idempotency key that
    lets a create after a crash find the policy instead of adding a second one."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{resource}_{digest}"[-255:]


def host_regex(host: str, port: int) -> str:
    """CPO's HOST_NAME rule value ``^<host, dots escaped>(:<port>)?$``; a wildcard host
    (``*.example.com``, which Kubernetes allows) matches exactly one DNS label."""
    escaped = re.sub(r"\.", r"\\.", host)
    if escaped.startswith("*"):
        escaped = "[^.]+" + escaped[1:]
    return f"^{escaped}(:{port})?$"
