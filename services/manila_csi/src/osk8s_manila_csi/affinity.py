"""PVC annotations (``--pvc-annotations``, §3.3): share group and scheduler hints from a PVC.

Matches CPO: ``manila.csi.openstack.org/affinity`` / ``anti-affinity`` hold comma lists of
share names or UUIDs, resolved to share ids and sent as Manila's ``same_host`` /
``different_host`` scheduler hints (API 2.65); ``manila.csi.openstack.org/group-id``
overrides the ``groupID`` parameter. The PVC is read through the narrow ``PvcReader``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from osk8s_core.grpc.csi import InvalidArgument, ObjectNotFound
from osk8s_manila_csi.manila import Manila
from osk8s_manila_csi.params import VolumeParams

AFFINITY: Final = "manila.csi.openstack.org/affinity"
ANTI_AFFINITY: Final = "manila.csi.openstack.org/anti-affinity"
GROUP_ID: Final = "manila.csi.openstack.org/group-id"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class PvcReader(Protocol):
    def annotations(self, namespace: str, name: str) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class PvcHints:
    scheduler_hints: dict[str, str]
    group_id: str
    context: dict[str, str]
    """Volume context entries (``affinity``/``antiAffinity``, as CPO)."""


def _share_ids(manila: Manila, value: str) -> str:
    ids = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        if _UUID.match(item):
            ids.append(item)
            continue
        found = manila.shares.find_by_name(item)
        if found is None:
            raise ObjectNotFound(f"affinity share {item!r} not found")
        ids.append(str(found.id))
    return ",".join(ids)


def pvc_hints(manila: Manila, params: VolumeParams, reader: PvcReader) -> PvcHints:
    """Hints for the PVC the provisioner named; none when it named none."""
    if not params.pvc_name or not params.pvc_namespace:
        return PvcHints({}, params.group_id, {})
    annotations = reader.annotations(params.pvc_namespace, params.pvc_name)
    hints: dict[str, str] = {}
    context: dict[str, str] = {}
    for key, hint, ctx in (
        (AFFINITY, "same_host", "affinity"),
        (ANTI_AFFINITY, "different_host", "antiAffinity"),
    ):
        value = annotations.get(key, "").strip()
        if value:
            hints[hint] = _share_ids(manila, value)
            context[ctx] = value
    if hints and not any(h for h in hints.values()):
        raise InvalidArgument("PVC affinity annotations name no share")
    return PvcHints(hints, annotations.get(GROUP_ID, "") or params.group_id, context)
