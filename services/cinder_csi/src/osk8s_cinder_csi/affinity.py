"""PVC annotation affinity (``--pvc-annotations``): Cinder scheduler hints from a PVC.

Matches CPO: ``cinder.csi.openstack.org/affinity`` / ``anti-affinity`` hold comma lists of
volume names or UUIDs; names are resolved to ids in the same cloud and sent as ``same_host`` /
``different_host`` hints; the raw values go into the volume context. The PVC is read through
the narrow ``PvcReader`` (the real one, ``osk8s_core.k8s.pvc.KubePvcReader``, does a GET;
CPO uses an informer cache).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

from osk8s_cinder_csi.cloud import CinderCloud
from osk8s_cinder_csi.options import AFFINITY_KEY, ANTI_AFFINITY_KEY
from osk8s_core.grpc.csi import InvalidArgument, ObjectNotFound

_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
PVC_NAME = "csi.storage.k8s.io/pvc/name"
PVC_NAMESPACE = "csi.storage.k8s.io/pvc/namespace"


class PvcReader(Protocol):
    def annotations(self, namespace: str, name: str) -> Mapping[str, str]: ...


def resolve(cloud: CinderCloud, value: str) -> list[str]:
    """Volume ids for a comma list of names/UUIDs (a name must match exactly one volume)."""
    ids = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        if _UUID.match(item):
            ids.append(item)
            continue
        found = cloud.find_volumes(item)
        if not found:
            raise ObjectNotFound(f"affinity volume {item!r} not found")
        if len(found) > 1:
            raise InvalidArgument(f"affinity volume name {item!r} is ambiguous")
        ids.append(found[0].id)
    return ids


def hints(
    cloud: CinderCloud, params: Mapping[str, str], reader: PvcReader
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """(scheduler hints, volume context entries) for the PVC named in ``params``."""
    name, namespace = params.get(PVC_NAME, ""), params.get(PVC_NAMESPACE, "")
    if not name or not namespace:
        return {}, {}
    annotations = reader.annotations(namespace, name)
    out: dict[str, list[str]] = {}
    context: dict[str, str] = {}
    for key, hint in ((AFFINITY_KEY, "same_host"), (ANTI_AFFINITY_KEY, "different_host")):
        value = annotations.get(key, "")
        if value:
            out[hint] = resolve(cloud, value)
            context[key] = value
    return out, context
