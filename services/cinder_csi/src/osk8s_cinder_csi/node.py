"""CSI Node service: stage (find device, format, mount), publish (bind), stats, expand, info.

Every host effect goes through the injected ``Mounter`` and ``DeviceFinder``; instance id and
AZ come from the ``MetadataProvider``-like ``NodeMetadata``. Matches CPO §2.4, with the attach
limit defaulting to 256 as CPO's docs promise. It makes no OpenStack API calls.
"""

from __future__ import annotations

import os
import stat
from typing import Any, Protocol

from osk8s_cinder_csi.capabilities import AccessMode, check_capability, is_block
from osk8s_cinder_csi.devices import DeviceFinder
from osk8s_cinder_csi.mounter import DiskNotBlank, Mounter
from osk8s_cinder_csi.options import RESIZE_REQUIRED_KEY, TOPOLOGY_KEY, NodeOptions
from osk8s_core.grpc.csi import FailedPrecondition, InFlight, ObjectNotFound, Unimplemented, rpc
from osk8s_core.proto.csi import csi_pb2, csi_pb2_grpc

EPHEMERAL_KEY = "csi.storage.k8s.io/ephemeral"
_Cap = csi_pb2.NodeServiceCapability.RPC.Type
CAPABILITIES = (_Cap.STAGE_UNSTAGE_VOLUME, _Cap.EXPAND_VOLUME, _Cap.GET_VOLUME_STATS)
_READ_ONLY_MODES = frozenset(
    {AccessMode.SINGLE_NODE_READER_ONLY, AccessMode.MULTI_NODE_READER_ONLY}
)


class NodeMetadata(Protocol):
    def instance_id(self) -> str: ...
    def availability_zone(self) -> str: ...


class NodeService(csi_pb2_grpc.NodeServicer):
    def __init__(
        self,
        *,
        mounter: Mounter,
        finder: DeviceFinder,
        metadata: NodeMetadata,
        options: NodeOptions,
        in_flight: InFlight | None = None,
    ) -> None:
        self._mounter = mounter
        self._finder = finder
        self._metadata = metadata
        self._opts = options
        self.in_flight = in_flight if in_flight is not None else InFlight()

    @rpc(required=("volume_id", "staging_target_path", "volume_capability"), lock="volume_id")
    def NodeStageVolume(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.NodeStageVolumeRequest, context: Any
    ) -> csi_pb2.NodeStageVolumeResponse:
        cap = request.volume_capability
        check_capability(cap)
        if is_block(cap):
            return csi_pb2.NodeStageVolumeResponse()  # block: published straight from device
        staging = request.staging_target_path
        if self._mounter.is_mounted(staging):
            return csi_pb2.NodeStageVolumeResponse()
        device = self._device(request.volume_id)
        os.makedirs(staging, exist_ok=True)
        fs_type = cap.mount.fs_type or "ext4"
        options = list(cap.mount.mount_flags)
        if fs_type == "xfs" and "nouuid" not in options:
            # Matches CPO: clones/restores share the XFS UUID; mount them anyway.
            options.append("nouuid")
        try:
            self._stage(device, staging, fs_type, options)
        except DiskNotBlank as exc:
            raise FailedPrecondition(str(exc)) from exc
        if request.volume_context.get(RESIZE_REQUIRED_KEY) == "true":
            self._mounter.resize_fs(device, staging)
        return csi_pb2.NodeStageVolumeResponse()

    def _stage(self, device: str, staging: str, fs_type: str, options: list[str]) -> None:
        try:
            self._mounter.format_and_mount(device, staging, fs_type, options)
        except DiskNotBlank:
            raise  # a refusal: rescanning does not change what is on the disk
        except Exception:
            # Matches CPO: a freshly attached disk may not show its size yet; rescan, retry once.
            self._mounter.rescan(device)
            self._mounter.format_and_mount(device, staging, fs_type, options)

    @rpc(required=("volume_id", "staging_target_path"), lock="volume_id")
    def NodeUnstageVolume(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.NodeUnstageVolumeRequest, context: Any
    ) -> csi_pb2.NodeUnstageVolumeResponse:
        if self._mounter.is_mounted(request.staging_target_path):
            self._mounter.unmount(request.staging_target_path)
        return csi_pb2.NodeUnstageVolumeResponse()

    def NodePublishVolume(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.NodePublishVolumeRequest, context: Any
    ) -> csi_pb2.NodePublishVolumeResponse:
        if request.volume_context.get(EPHEMERAL_KEY) == "true":
            # Matches CPO (removed in 1.31, #2599); our CSIDriver does not list Ephemeral.
            raise Unimplemented("inline ephemeral volumes are not supported")
        response: csi_pb2.NodePublishVolumeResponse = self._publish(request, context)
        return response

    @rpc(
        required=("volume_id", "target_path", "volume_capability", "staging_target_path"),
        lock="volume_id",
    )
    def _publish(
        self, request: csi_pb2.NodePublishVolumeRequest, context: Any
    ) -> csi_pb2.NodePublishVolumeResponse:
        cap = request.volume_capability
        check_capability(cap)
        target = request.target_path
        if self._mounter.is_mounted(target):
            return csi_pb2.NodePublishVolumeResponse()
        read_only = request.readonly or cap.access_mode.mode in _READ_ONLY_MODES
        if is_block(cap):
            device = self._device(request.volume_id)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "a", encoding="utf-8"):
                pass  # the bind-mount target of a device is a plain file
            self._mounter.bind_mount(device, target, read_only=read_only)
        else:
            os.makedirs(target, exist_ok=True)
            self._mounter.bind_mount(request.staging_target_path, target, read_only=read_only)
        return csi_pb2.NodePublishVolumeResponse()

    @rpc(required=("volume_id", "target_path"), lock="volume_id")
    def NodeUnpublishVolume(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.NodeUnpublishVolumeRequest, context: Any
    ) -> csi_pb2.NodeUnpublishVolumeResponse:
        target = request.target_path
        if self._mounter.is_mounted(target):
            self._mounter.unmount(target)
        if os.path.isdir(target):
            os.rmdir(target)
        elif os.path.lexists(target):
            os.unlink(target)
        return csi_pb2.NodeUnpublishVolumeResponse()

    def NodeGetInfo(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.NodeGetInfoRequest, context: Any
    ) -> csi_pb2.NodeGetInfoResponse:
        response = csi_pb2.NodeGetInfoResponse(
            node_id=self._metadata.instance_id(), max_volumes_per_node=self._opts.max_volumes
        )
        if self._opts.with_topology:
            segments = {TOPOLOGY_KEY: self._metadata.availability_zone()}
            segments.update(self._opts.additional_topology)
            response.accessible_topology.segments.update(segments)
        return response

    @rpc(required=("volume_id", "volume_path"))
    def NodeGetVolumeStats(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.NodeGetVolumeStatsRequest, context: Any
    ) -> csi_pb2.NodeGetVolumeStatsResponse:
        path = request.volume_path
        if not os.path.exists(path):
            raise ObjectNotFound(f"volume path {path} does not exist")
        usage = csi_pb2.VolumeUsage
        if not os.path.isdir(path) or stat.S_ISBLK(os.stat(path).st_mode):
            size = self._mounter.device_size(path)
            return csi_pb2.NodeGetVolumeStatsResponse(
                usage=[usage(total=size, unit=usage.Unit.BYTES)]
            )
        st = self._mounter.fs_stats(path)
        return csi_pb2.NodeGetVolumeStatsResponse(
            usage=[
                usage(
                    total=st.total_bytes,
                    available=st.available_bytes,
                    used=st.used_bytes,
                    unit=usage.Unit.BYTES,
                ),
                usage(
                    total=st.total_inodes,
                    available=st.free_inodes,
                    used=st.used_inodes,
                    unit=usage.Unit.INODES,
                ),
            ]
        )

    @rpc(required=("volume_id", "volume_path"), lock="volume_id")
    def NodeExpandVolume(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.NodeExpandVolumeRequest, context: Any
    ) -> csi_pb2.NodeExpandVolumeResponse:
        path = request.volume_path
        if not os.path.exists(path):
            raise ObjectNotFound(f"volume path {path} does not exist")
        required = request.capacity_range.required_bytes
        if request.HasField("volume_capability") and is_block(request.volume_capability):
            return csi_pb2.NodeExpandVolumeResponse(capacity_bytes=required)
        device = self._mounter.device_of(path)
        if not device:
            raise FailedPrecondition(f"{path} is not a mount point")
        if self._opts.rescan_on_resize:
            self._mounter.rescan(device)
            size = self._mounter.device_size(device)
            if required and size < required:
                raise FailedPrecondition(
                    f"device {device} has {size} bytes after rescan, {required} needed"
                )
        self._mounter.resize_fs(device, path)
        return csi_pb2.NodeExpandVolumeResponse(capacity_bytes=required)

    def NodeGetCapabilities(  # noqa: N802 - gRPC method name
        self, request: csi_pb2.NodeGetCapabilitiesRequest, context: Any
    ) -> csi_pb2.NodeGetCapabilitiesResponse:
        caps = [
            csi_pb2.NodeServiceCapability(rpc=csi_pb2.NodeServiceCapability.RPC(type=kind))
            for kind in CAPABILITIES
        ]
        return csi_pb2.NodeGetCapabilitiesResponse(capabilities=caps)

    def _device(self, volume_id: str) -> str:
        device = self._finder.find(volume_id)
        if not device:
            raise ObjectNotFound(f"no device for volume {volume_id} on this node")
        return device
