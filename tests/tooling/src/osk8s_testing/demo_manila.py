"""The manila demo scenario: the real ``manila-csi-plugin`` process (NFS) against the test
cloud's Manila, driven over its CSI socket as the sidecars and the kubelet would.

A CSI node plugin stand-in plays csi-driver-nfs at ``--fwdendpoint``. The scenario creates a
share for two client networks (two access rules), grows it, snapshots it, restores the
snapshot into a new share, stages the share on the "node" (the stand-in receives the NFS
server and path Manila exported, and no OpenStack credentials), then removes everything.
Test tooling: never imported by the core or a service.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from osk8s_core.proto.csi import csi_pb2, csi_pb2_grpc
from osk8s_testing.csi.partner import serve_partner
from osk8s_testing.csi.requests import GIB, MNMW, cap, create_req
from osk8s_testing.manila_secrets import manila_secrets
from osk8s_testing.testcloud.layout import Layout, resolve_dir

if TYPE_CHECKING:
    from osk8s_testing.demo import Demo


def _wait_socket(sock: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"manila-csi-plugin did not start (exit {proc.poll()})")
        time.sleep(0.2)


def scenario_manila(demo: Demo) -> None:
    secrets = manila_secrets(Layout(resolve_dir(None, os.environ)).clouds_yaml)
    with tempfile.TemporaryDirectory(prefix="manila-demo-", dir="/tmp") as tmp:
        root = Path(tmp)
        with serve_partner(root / "nfs.sock") as partner:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "osk8s_manila_csi",
                    f"--endpoint=unix://{root}/csi.sock",
                    "--drivername=nfs.manila.csi.openstack.org",
                    "--share-protocol-selector=NFS",
                    f"--fwdendpoint={partner.endpoint}",
                    "--cluster-id=demo",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                _wait_socket(root / "csi.sock", proc)
                demo.say(f"manila-csi-plugin pid {proc.pid} serving, partner {partner.endpoint}")
                with grpc.insecure_channel(f"unix://{root}/csi.sock") as channel:
                    _lifecycle(demo, channel, secrets, partner, f"demo-{demo.run_id}")
            finally:
                proc.terminate()
                proc.wait(timeout=20)


def _lifecycle(demo: Demo, channel: Any, secrets: dict[str, str], partner: Any, name: str) -> None:
    ctrl = csi_pb2_grpc.ControllerStub(channel)  # type: ignore[no-untyped-call]
    node = csi_pb2_grpc.NodeStub(channel)  # type: ignore[no-untyped-call]
    clients = "10.0.0.0/24,192.168.7.0/24"
    request = create_req(
        f"{name}-pvc", mode=MNMW, secrets=secrets, parameters={"nfs-shareClient": clients}
    )
    volume = ctrl.CreateVolume(request).volume
    made = [("volume", volume.volume_id)]
    try:
        rules = volume.volume_context["shareAccessIDs"].split(",")
        demo.say(f"CreateVolume -> share {volume.volume_id}, {len(rules)} access rules ({clients})")
        again = ctrl.CreateVolume(request).volume
        same = again.volume_id == volume.volume_id
        demo.say(f"CreateVolume again (a sidecar retry) -> same share: {same}")
        grown = ctrl.ControllerExpandVolume(
            csi_pb2.ControllerExpandVolumeRequest(
                volume_id=volume.volume_id,
                capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB),
                secrets=secrets,
            )
        )
        demo.say(f"ControllerExpandVolume -> {grown.capacity_bytes // GIB} GiB")
        snap = ctrl.CreateSnapshot(
            csi_pb2.CreateSnapshotRequest(
                name=f"{name}-snap", source_volume_id=volume.volume_id, secrets=secrets
            )
        ).snapshot
        made.append(("snapshot", snap.snapshot_id))
        demo.say(f"CreateSnapshot -> {snap.snapshot_id} (ready: {snap.ready_to_use})")
        restore = create_req(f"{name}-restore", 2 * GIB, mode=MNMW, secrets=secrets)
        restore.volume_content_source.snapshot.snapshot_id = snap.snapshot_id
        for _ in range(60):  # the provisioner retries while the snapshot is still creating
            try:
                restored = ctrl.CreateVolume(restore).volume
                break
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                time.sleep(1)
        made.append(("volume", restored.volume_id))
        demo.say(f"CreateVolume from the snapshot -> share {restored.volume_id}")
        node.NodeStageVolume(
            csi_pb2.NodeStageVolumeRequest(
                volume_id=volume.volume_id,
                staging_target_path="/var/lib/kubelet/staging/demo",
                volume_capability=cap(MNMW),
                volume_context=volume.volume_context,
                secrets=secrets,
            )
        )
        staged = partner.recorder.of("NodeStageVolume")[-1]
        demo.say(
            f"NodeStageVolume forwarded to the NFS node plugin: {dict(staged.volume_context)}, "
            f"secrets passed on: {sorted(staged.secrets) or 'none'}"
        )
        node.NodeUnstageVolume(
            csi_pb2.NodeUnstageVolumeRequest(
                volume_id=volume.volume_id, staging_target_path="/var/lib/kubelet/staging/demo"
            )
        )
    finally:
        for kind, ident in reversed(made):
            if kind == "snapshot":
                ctrl.DeleteSnapshot(
                    csi_pb2.DeleteSnapshotRequest(snapshot_id=ident, secrets=secrets)
                )
            else:
                ctrl.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=ident, secrets=secrets))
        demo.say(f"deleted {len(made)} objects")
