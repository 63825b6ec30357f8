"""OpenStackMachineTemplate status for autoscaling from zero (capo.md §2.13), behind the
``AutoScaleFromZero`` feature gate (alpha, off by default, as CAPO).

``status.capacity`` from the flavor (cpu = vCPUs, memory = RAM MiB as ``<n>Mi``,
ephemeral-storage = the flavor's ephemeral GiB, storage = ``rootVolume.sizeGiB`` or the
flavor's disk) and ``status.nodeInfo.operatingSystem`` from the image property ``os_type``.
Templates owned by a ClusterClass are skipped. An idle pass writes nothing. (CAPO's in-place
``allowedAddressPairs`` update of existing ports is not done here.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from osk8s_capo import capi
from osk8s_capo.credentials import IdentityRef
from osk8s_capo.kube import (
    CLUSTER,
    CLUSTER_NAME_LABEL,
    OPENSTACK_CLUSTER,
    KubeObjects,
    Resource,
    labels_of,
)
from osk8s_capo.manager import ControllerSpec
from osk8s_capo.server_cloud import ServerCloud
from osk8s_core.k8s.controller import Requeue

if TYPE_CHECKING:
    from openstack.connection import Connection

    from osk8s_capo.app import Dependencies
    from osk8s_capo.manager import Manager
    from osk8s_core.openstack.client import OpenStackClient

GATE: Final = "AutoScaleFromZero"
OPENSTACK_MACHINE_TEMPLATE: Final = Resource(
    "infrastructure.cluster.x-k8s.io",
    "v1beta2",
    "openstackmachinetemplates",
    "OpenStackMachineTemplate",
)

ClientFor = Callable[[str, IdentityRef], "OpenStackClient[Connection]"]


def capacity(flavor: Any, spec: Mapping[str, Any]) -> dict[str, str]:
    root = int(((spec.get("rootVolume") or {}).get("sizeGiB")) or 0)
    out = {
        "cpu": str(int(flavor.vcpus or 0)),
        "memory": f"{int(flavor.ram or 0)}Mi",
        "storage": f"{root or int(flavor.disk or 0)}Gi",
    }
    ephemeral = int(getattr(flavor, "ephemeral", 0) or 0)
    if ephemeral:
        out["ephemeral-storage"] = f"{ephemeral}Gi"
    return out


@dataclass(frozen=True)
class TemplateReconciler:
    kube: KubeObjects
    client_for: ClientFor

    def reconcile(self, namespace: str, name: str) -> Requeue | None:
        tmpl = self.kube.get(OPENSTACK_MACHINE_TEMPLATE, namespace, name)
        if tmpl is None or capi.owner_name(tmpl, "ClusterClass") is not None:
            return None
        spec = ((tmpl.get("spec") or {}).get("template") or {}).get("spec") or {}
        ref = spec.get("identityRef")
        if not ref:
            cluster_name = labels_of(tmpl).get(CLUSTER_NAME_LABEL)
            cluster = self.kube.get(CLUSTER, namespace, cluster_name) if cluster_name else None
            if cluster is None:
                return None
            osc_name = capi.infrastructure_ref_name(cluster, "OpenStackCluster")
            osc = self.kube.get(OPENSTACK_CLUSTER, namespace, osc_name) if osc_name else None
            ref = ((osc or {}).get("spec") or {}).get("identityRef")
            if not ref:
                return None
        cloud = ServerCloud.over(self.client_for(namespace, IdentityRef.from_spec(ref)))
        flavor_param = spec.get("flavor") or {}
        flavor_id = flavor_param.get("id") or cloud.flavor_id_by_name(
            (flavor_param.get("filter") or {}).get("name") or ""
        )
        status: dict[str, Any] = dict(tmpl.get("status") or {})
        status["capacity"] = capacity(cloud.flavors.get(str(flavor_id)), spec)
        image = spec.get("image") or {}
        image_id = image.get("id") or (
            cloud.image_id_by_filter(
                (image.get("filter") or {}).get("name") or "",
                (image.get("filter") or {}).get("tags") or [],
            )
            if image.get("filter")
            else None
        )
        if image_id:
            found = cloud.images.get(str(image_id))
            os_type = getattr(found, "os_type", None) or (
                getattr(found, "properties", None) or {}
            ).get("os_type")
            if os_type:
                status["nodeInfo"] = {"operatingSystem": str(os_type)}
        if status != (tmpl.get("status") or {}):
            self.kube.patch_status(OPENSTACK_MACHINE_TEMPLATE, tmpl, status)
        return None


def register(manager: Manager, deps: Dependencies) -> None:
    """Only with ``--feature-gates=AutoScaleFromZero=true``."""
    if not deps.feature_gates.get(GATE):
        return
    reconciler = TemplateReconciler(
        kube=deps.kube, client_for=lambda ns, ref: deps.scopes.scope(ns, ref).client
    )

    def reconcile_key(key: str) -> Requeue | None:
        namespace, _, name = key.partition("/")
        return reconciler.reconcile(namespace, name)

    manager.register(
        ControllerSpec(
            name="openstackmachinetemplate",
            resource=OPENSTACK_MACHINE_TEMPLATE,
            reconcile=reconcile_key,
            workers=deps.concurrency.machine_template,
        )
    )
