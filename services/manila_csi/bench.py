"""Benchmark of the Manila CSI driver: Manila HTTP requests per RPC, and suite wall time.

Runs the driver in-process over a real unix socket against the local test cloud (NFS), with
Manila behind a fault proxy that counts every HTTP request and a CSI node plugin stand-in as
the partner. For each RPC it prints the requests made on the happy path and when the RPC's
first Manila request fails once with 503 (retried inline when idempotent, else the CO calls
again: both calls counted), beside the minimum the API allows; then the conformance suite's
wall time. Waits use the production policy (3 s, x1.2, as CPO), so polls are realistic.

    .venv/bin/python services/manila_csi/bench.py              # needs `osk8s-testcloud up`
    .venv/bin/python services/manila_csi/bench.py --no-suite   # request counts only

Keystone token requests and the one-off version discovery are not counted (warm-up call).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import grpc
import structlog
from prometheus_client import CollectorRegistry

from osk8s_core import __version__
from osk8s_core.credentials import ClientSettings, ConnectionCache
from osk8s_core.grpc.endpoint import parse_endpoint
from osk8s_core.metadata import build_provider
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.proto.csi import csi_pb2, csi_pb2_grpc
from osk8s_core.retry import WaitPolicy
from osk8s_manila_csi.app import NodeParts, build_driver
from osk8s_manila_csi.controller import ControllerOptions
from osk8s_manila_csi.manila import ManilaClients
from osk8s_manila_csi.node import NodeOptions
from osk8s_manila_csi.partner import connect_partner
from osk8s_testing.csi.bench import RequestTable, suite_time
from osk8s_testing.csi.partner import serve_partner
from osk8s_testing.faultproxy.server import FaultProxy, start_fleet
from osk8s_testing.manila_secrets import manila_secrets

REPO = Path(__file__).resolve().parents[2]
GIB = 1 << 30
WAIT = WaitPolicy(timeout=80.0, interval=3.0, factor=1.2, max_interval=15.0)  # as run.py

# RPC -> (minimum Manila requests the API allows, why)
MINIMUM = {
    "CreateVolume (new)": (4, "POST share, >=1 GET until available, allow_access, >=1 GET rule"),
    "CreateVolume (repeat)": (2, "list by name + list rules"),
    "ValidateVolumeCapabilities": (1, "GET"),
    "ControllerGetVolume": (1, "GET"),
    "ListVolumes (max 10)": (1, "one page"),
    "ControllerExpandVolume": (3, "GET + extend action + >=1 GET until available"),
    "CreateSnapshot (new)": (2, "GET share (capabilities) + POST snapshot"),
    "DeleteSnapshot": (2, "DELETE + >=1 GET until gone"),
    "NodeStageVolume": (2, "GET share + export locations"),
    "DeleteVolume": (2, "DELETE + >=1 GET until gone"),
    "DeleteVolume (repeat)": (1, "DELETE or GET answering 404"),
}


def cap() -> csi_pb2.VolumeCapability:
    mode = csi_pb2.VolumeCapability.AccessMode(
        mode=csi_pb2.VolumeCapability.AccessMode.MULTI_NODE_MULTI_WRITER
    )
    return csi_pb2.VolumeCapability(mount=csi_pb2.VolumeCapability.MountVolume(), access_mode=mode)


class Bench(RequestTable):
    def __init__(self, channel: grpc.Channel, manila: FaultProxy, secrets: dict[str, str]) -> None:
        super().__init__(manila, MINIMUM, call_again=True)
        self.ctrl = csi_pb2_grpc.ControllerStub(channel)  # type: ignore[no-untyped-call]
        self.node = csi_pb2_grpc.NodeStub(channel)  # type: ignore[no-untyped-call]
        self.secrets = secrets

    def run(self) -> None:
        c, s = self.ctrl, self.secrets

        def create(name: str) -> Any:
            req = csi_pb2.CreateVolumeRequest(
                name=name,
                volume_capabilities=[cap()],
                capacity_range=csi_pb2.CapacityRange(required_bytes=GIB),
                secrets=s,
            )
            return c.CreateVolume(req).volume

        c.ListVolumes(csi_pb2.ListVolumesRequest(max_entries=1))  # warm-up (discovery)
        name, other = (f"osk8s-bench-{uuid.uuid4().hex[:8]}" for _ in range(2))
        vol = self.measure("CreateVolume (new)", lambda: create(name), lambda: create(other))
        other_vol = create(other)
        other_id = other_vol.volume_id
        vid = vol.volume_id
        self.measure("CreateVolume (repeat)", lambda: create(name), lambda: create(name))
        val = csi_pb2.ValidateVolumeCapabilitiesRequest(
            volume_id=vid, volume_capabilities=[cap()], secrets=s
        )
        self.measure(
            "ValidateVolumeCapabilities",
            lambda: c.ValidateVolumeCapabilities(val),
            lambda: c.ValidateVolumeCapabilities(val),
        )
        get = csi_pb2.ControllerGetVolumeRequest(volume_id=vid)
        self.measure(
            "ControllerGetVolume",
            lambda: c.ControllerGetVolume(get),
            lambda: c.ControllerGetVolume(get),
        )
        lst = csi_pb2.ListVolumesRequest(max_entries=10)
        self.measure("ListVolumes (max 10)", lambda: c.ListVolumes(lst), lambda: c.ListVolumes(lst))

        def expand(volume_id: str) -> Any:
            return c.ControllerExpandVolume(
                csi_pb2.ControllerExpandVolumeRequest(
                    volume_id=volume_id,
                    capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB),
                    secrets=s,
                )
            )

        self.measure("ControllerExpandVolume", lambda: expand(vid), lambda: expand(other_id))

        def snap(snap_name: str, volume_id: str) -> Any:
            req = csi_pb2.CreateSnapshotRequest(
                name=snap_name, source_volume_id=volume_id, secrets=s
            )
            return c.CreateSnapshot(req).snapshot

        one = self.measure(
            "CreateSnapshot (new)",
            lambda: snap(f"{name}-s", vid),
            lambda: snap(f"{other}-s", other_id),
        )
        two = snap(f"{other}-s", other_id)

        def del_snap(snapshot_id: str) -> Any:
            return c.DeleteSnapshot(
                csi_pb2.DeleteSnapshotRequest(snapshot_id=snapshot_id, secrets=s)
            )

        self.measure(
            "DeleteSnapshot", lambda: del_snap(one.snapshot_id), lambda: del_snap(two.snapshot_id)
        )

        def stage(volume: Any) -> Any:
            return self.node.NodeStageVolume(
                csi_pb2.NodeStageVolumeRequest(
                    volume_id=volume.volume_id,
                    staging_target_path=f"/staging/{volume.volume_id}",
                    volume_capability=cap(),
                    volume_context=volume.volume_context,
                    secrets=s,
                )
            )

        self.measure("NodeStageVolume", lambda: stage(vol), lambda: stage(other_vol))

        def delete(volume_id: str) -> Any:
            return c.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=volume_id, secrets=s))

        self.measure("DeleteVolume", lambda: delete(vid), lambda: delete(other_id))
        self.measure("DeleteVolume (repeat)", lambda: delete(vid), lambda: delete(other_id))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clouds-yaml", default=str(REPO / ".testcloud" / "clouds.yaml"))
    parser.add_argument("--no-suite", action="store_true", help="skip the suite timing")
    parser.add_argument("--verbose", action="store_true", help="print each request's path")
    args = parser.parse_args()
    clouds_yaml = Path(args.clouds_yaml)
    if not clouds_yaml.exists():
        print(f"no {clouds_yaml}: run `osk8s-testcloud up` first", file=sys.stderr)
        return 2
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    fleet = start_fleet({"keystone": "http://127.0.0.1:5000", "manila": "http://127.0.0.1:8786"})
    base = Path(tempfile.mkdtemp(prefix="manila-bench-", dir="/tmp"))
    secrets = manila_secrets(clouds_yaml, auth_url=f"{fleet['keystone'].url}/v3")
    log = structlog.get_logger("bench")
    cache = ConnectionCache(
        settings=ClientSettings(component="manila-csi-plugin", version=__version__)
    )
    waiter = Waiter(policy=WAIT)
    clients = ManilaClients(
        connect=cache.get, metrics=ApiMetrics(CollectorRegistry()), logger=log, waiter=waiter
    )
    try:
        with serve_partner(base / "partner.sock") as partner:
            node = NodeParts(
                partner=connect_partner(partner.endpoint, logger=log),
                metadata=build_provider(("configDrive",), config_drive_dir=base, logger=log),
                options=NodeOptions(),
            )
            server = build_driver(
                parse_endpoint(f"unix://{base}/csi.sock"),
                driver_name="nfs.manila.csi.openstack.org",
                protocol="NFS",
                clients=clients,
                controller=ControllerOptions(protocol="NFS", default_secrets=secrets),
                node=node,
                with_topology=False,
                waiter=waiter,
                logger=log,
                registry=CollectorRegistry(),
            )
            server.start()
            channel = grpc.insecure_channel(server.address)
            bench = Bench(channel, fleet["manila"], secrets)
            try:
                bench.run()
            finally:
                channel.close()
                server.stop(0)
                node.partner.close()
            bench.print(verbose=args.verbose)
    finally:
        cache.close()
        for proxy in fleet.values():
            proxy.stop()
        shutil.rmtree(base, ignore_errors=True)
    if not args.no_suite:
        seconds, tail = suite_time(REPO, "tests/services/manila_csi/test_manila_conformance.py")
        print(f"\nconformance suite wall time: {seconds:.1f} s ({tail})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
