"""StorageClass parameters (CPO's ``ControllerVolumeContext``, §3.3) and static PV volume
contexts (``NodeVolumeContext``), parsed once per request into frozen values.

Unknown parameters are refused (INVALID_ARGUMENT naming them), except the ``csi.storage.k8s.io/``
keys the sidecars add. Pure data: no OpenStack, no gRPC.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from osk8s_core.grpc.csi import InvalidArgument

PVC_NAME: Final = "csi.storage.k8s.io/pvc/name"
PVC_NAMESPACE: Final = "csi.storage.k8s.io/pvc/namespace"
PV_NAME: Final = "csi.storage.k8s.io/pv/name"
CLUSTER_KEY: Final = "manila.csi.openstack.org/cluster"
SIDECAR_PREFIX: Final = "csi.storage.k8s.io/"

_CONTROLLER_KEYS: Final = frozenset(
    {
        "type",
        "shareNetworkID",
        "availability",
        "autoTopology",
        "groupID",
        "appendShareMetadata",
        "cephfs-mounter",
        "cephfs-clientID",
        "cephfs-kernelMountOptions",
        "cephfs-fuseMountOptions",
        "nfs-shareClient",
        "protocol",
    }
)
NODE_KEYS: Final = ("cephfs-mounter", "cephfs-kernelMountOptions", "cephfs-fuseMountOptions")
"""StorageClass parameters the node needs, copied into the volume context."""


def _bool(value: str, key: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"", "false", "f", "0"}:
        return False
    if lowered in {"true", "t", "1"}:
        return True
    raise InvalidArgument(f"parameter {key}: expected true or false")


def comma_list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class VolumeParams:
    """One CreateVolume's parameters."""

    share_type: str = "default"
    share_network_id: str = ""
    availability: str = ""
    auto_topology: bool = False
    group_id: str = ""
    append_metadata: Mapping[str, str] | None = None
    cephfs_mounter: str = "fuse"
    cephfs_client_ids: tuple[str, ...] = ()
    cephfs_kernel_options: str = ""
    cephfs_fuse_options: str = ""
    nfs_clients: tuple[str, ...] = ("0.0.0.0/0",)
    pvc_name: str = ""
    pvc_namespace: str = ""
    pv_name: str = ""
    node_context: Mapping[str, str] | None = None
    """The node-relevant parameters as given (copied into the volume context)."""


def parse_volume_params(params: Mapping[str, str]) -> VolumeParams:
    unknown = sorted(
        k for k in params if k not in _CONTROLLER_KEYS and not k.startswith(SIDECAR_PREFIX)
    )
    if unknown:
        raise InvalidArgument(f"unknown StorageClass parameter(s): {', '.join(unknown)}")
    mounter = params.get("cephfs-mounter", "fuse") or "fuse"
    if mounter not in {"fuse", "kernel"}:
        raise InvalidArgument("parameter cephfs-mounter: expected fuse or kernel")
    append = params.get("appendShareMetadata", "")
    metadata: dict[str, str] = {}
    if append:
        try:
            loaded = json.loads(append)
        except ValueError as exc:
            raise InvalidArgument("parameter appendShareMetadata: not a JSON object") from exc
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()
        ):
            raise InvalidArgument("parameter appendShareMetadata: expected string pairs")
        metadata = loaded
    return VolumeParams(
        share_type=params.get("type", "") or "default",
        share_network_id=params.get("shareNetworkID", ""),
        availability=params.get("availability", ""),
        auto_topology=_bool(params.get("autoTopology", ""), "autoTopology"),
        group_id=params.get("groupID", ""),
        append_metadata=metadata,
        cephfs_mounter=mounter,
        cephfs_client_ids=comma_list(params.get("cephfs-clientID", "")),
        cephfs_kernel_options=params.get("cephfs-kernelMountOptions", ""),
        cephfs_fuse_options=params.get("cephfs-fuseMountOptions", ""),
        nfs_clients=comma_list(params.get("nfs-shareClient", "")) or ("0.0.0.0/0",),
        pvc_name=params.get(PVC_NAME, ""),
        pvc_namespace=params.get(PVC_NAMESPACE, ""),
        pv_name=params.get(PV_NAME, ""),
        node_context={k: params[k] for k in NODE_KEYS if params.get(k)},
    )


def share_metadata(params: VolumeParams, *, cluster_id: str) -> dict[str, str]:
    """What CreateVolume writes on the share; appended pairs never override our keys."""
    ours = {
        PVC_NAME: params.pvc_name,
        PVC_NAMESPACE: params.pvc_namespace,
        PV_NAME: params.pv_name,
        CLUSTER_KEY: cluster_id,
    }
    ours = {k: v for k, v in ours.items() if v}
    return {**dict(params.append_metadata or {}), **ours}


@dataclass(frozen=True)
class NodeContext:
    """A PV's volume context as the node reads it (dynamic or static PV)."""

    share_id: str
    share_name: str
    access_ids: tuple[str, ...]
    cephfs_mounter: str
    cephfs_kernel_options: str
    cephfs_fuse_options: str


def parse_node_context(context: Mapping[str, str]) -> NodeContext:
    share_id = context.get("shareID", "")
    share_name = context.get("shareName", "")
    if bool(share_id) == bool(share_name):
        raise InvalidArgument("volume context needs exactly one of shareID and shareName")
    ids = comma_list(context.get("shareAccessIDs", "")) or comma_list(
        context.get("shareAccessID", "")  # deprecated single id, as CPO still accepts
    )
    mounter = context.get("cephfs-mounter", "fuse") or "fuse"
    if mounter not in {"fuse", "kernel"}:
        raise InvalidArgument("volume context cephfs-mounter: expected fuse or kernel")
    return NodeContext(
        share_id=share_id,
        share_name=share_name,
        access_ids=ids,
        cephfs_mounter=mounter,
        cephfs_kernel_options=context.get("cephfs-kernelMountOptions", ""),
        cephfs_fuse_options=context.get("cephfs-fuseMountOptions", ""),
    )
