"""``capo-controller-manager leaks`` (osk8s, beyond CAPO): the OpenStack objects that carry a
CAPO cluster's naming but that no live OpenStackCluster accounts for.

Leaks are CAPO's top complaint (capo.md §6 row 1). Every cluster-level object has a
deterministic name (§2.11) or description, so the report is: list networks, subnets,
routers, security groups, API load balancers and floating IPs with CAPO's prefixes, and
keep those whose name is not one a live OpenStackCluster (any namespace) would produce.
Read-only: it never deletes. Output: one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from osk8s_capo import naming


@dataclass(frozen=True)
class Leak:
    kind: str
    id: str
    name: str


def expected_names(clusters: Iterable[tuple[str, str]]) -> set[str]:
    """Every name/description live clusters (namespace, name) account for."""
    names: set[str] = set()
    for namespace, name in clusters:
        managed = naming.network_name(namespace, name)
        names.update({managed, naming.load_balancer_name(namespace, name)})
        names.update(naming.security_group_name(namespace, name, r) for r in naming.SECGROUP_ROLES)
        names.add(naming.description(namespace, name))
    return names


def _capo_description(text: str) -> str | None:
    prefix = naming.description("", "").removesuffix("-")
    if text.startswith(prefix):
        # "Created by ... cluster <ns>-<name>[ kubeapi]": the cluster part is the first word.
        rest = text[len(prefix) :].split(" ", maxsplit=1)[0]
        return f"{prefix}{rest}"
    return None


def find_leaks(network: Any, load_balancer: Any, live: set[str]) -> list[Leak]:
    """``network``/``load_balancer``: openstacksdk proxies (reads only)."""
    leaks: list[Leak] = []
    prefix = f"{naming.MANAGED_PREFIX}-"

    def check(kind: str, items: Iterable[Any], *, prefix: str, suffix: str = "") -> None:
        for item in items:
            name = item.name or ""
            if name.startswith(prefix) and name.endswith(suffix) and name not in live:
                leaks.append(Leak(kind, item.id, name))

    check("network", network.networks(), prefix=prefix)
    check("subnet", network.subnets(), prefix=prefix)
    check("router", network.routers(), prefix=prefix)
    check(
        "security_group",
        network.security_groups(),
        prefix=f"{naming.SECGROUP_PREFIX}-",
        suffix="",
    )
    leaks[:] = [
        leak for leak in leaks if leak.kind != "security_group" or "-secgroup-" in leak.name
    ]
    check(
        "load_balancer",
        [lb for lb in load_balancer.load_balancers() if lb.provisioning_status != "DELETED"],
        prefix=prefix,
        suffix="-kubeapi",
    )
    for fip in network.ips():
        owner = _capo_description(fip.description or "")
        if owner is not None and owner not in live:
            leaks.append(Leak("floating_ip", fip.id, fip.floating_ip_address or ""))
    return leaks


def _live_clusters(kubeconfig: str) -> set[tuple[str, str]]:
    from osk8s_capo.kube import OPENSTACK_CLUSTER, KubeObjects  # noqa: PLC0415
    from osk8s_core.k8s.client import KubeClientOptions, build_api_client  # noqa: PLC0415

    kube = KubeObjects(build_api_client(KubeClientOptions(kubeconfig=kubeconfig)))
    return {
        (obj["metadata"]["namespace"], obj["metadata"]["name"])
        for obj in kube.list(OPENSTACK_CLUSTER)
    }


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="capo-controller-manager leaks",
        description="List OpenStack objects named like a CAPO cluster's that no live "
        "OpenStackCluster accounts for (read-only).",
    )
    parser.add_argument("--kubeconfig", default="", help="management cluster kubeconfig")
    parser.add_argument("--clouds-yaml", required=True, help="clouds.yaml of the project")
    parser.add_argument("--cloud", default="openstack", help="entry in clouds.yaml")
    args = parser.parse_args(list(argv))
    from osk8s_capo.credentials import IdentityError, auth_from_clouds_yaml  # noqa: PLC0415
    from osk8s_core import __version__  # noqa: PLC0415
    from osk8s_core.credentials import CaFileStore, ClientSettings, build_connection  # noqa: PLC0415
    from osk8s_core.errors import Osk8sError  # noqa: PLC0415

    try:
        auth = auth_from_clouds_yaml(Path(args.clouds_yaml).read_text(encoding="utf-8"), args.cloud)
        conn = build_connection(
            auth,
            settings=ClientSettings(component="capo-leaks", version=__version__),
            ca_store=CaFileStore(),
        )
        live = expected_names(_live_clusters(args.kubeconfig))
        leaks = find_leaks(conn.network, conn.load_balancer, live)
    except (OSError, IdentityError, Osk8sError) as exc:
        sys.stderr.write(f"leaks: {exc}\n")
        return 1
    for leak in leaks:
        sys.stdout.write(json.dumps(asdict(leak)) + "\n")
    return 0
