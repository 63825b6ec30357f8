"""Benchmark of the cinder CSI driver: OpenStack HTTP requests per RPC, and suite wall time.

Runs the driver in-process over a real unix socket against the local test cloud, with Cinder
behind a fault proxy that counts every HTTP request. For each controller RPC it prints the
requests made on the happy path and when the RPC's first Cinder request fails once with 503,
beside the minimum the APIs allow; then the wall time of the conformance suite.

    .venv/bin/python services/cinder_csi/bench.py              # needs `osk8s-testcloud up`
    .venv/bin/python services/cinder_csi/bench.py --no-suite   # request counts only

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

from osk8s_cinder_csi.app import ControllerParts, build_driver
from osk8s_cinder_csi.cloud import Clouds
from osk8s_cinder_csi.openstack_cloud import OpenStackCinderCloud
from osk8s_cinder_csi.options import ControllerOptions
from osk8s_core import __version__
from osk8s_core.credentials import ClientSettings, ConnectionFactory
from osk8s_core.grpc.endpoint import parse_endpoint
from osk8s_core.metrics import ApiMetrics
from osk8s_core.proto.csi import csi_pb2, csi_pb2_grpc
from osk8s_testing.csi.bench import RequestTable, suite_time
from osk8s_testing.faultproxy.server import FaultProxy, start_fleet

REPO = Path(__file__).resolve().parents[2]
GIB = 1 << 30

# RPC -> (minimum Cinder requests the API allows, why)
MINIMUM = {
    "CreateVolume (new)": (3, "list by name + POST + >=1 GET until available"),
    "CreateVolume (repeat)": (1, "list by name"),
    "ControllerGetVolume": (1, "GET"),
    "ListVolumes (max 10)": (1, "one page"),
    "ValidateVolumeCapabilities": (1, "GET"),
    "ControllerExpandVolume": (3, "GET + extend action + >=1 GET until available"),
    "CreateSnapshot (new)": (3, "list by name + POST + >=1 GET until available"),
    "ListSnapshots (by id)": (1, "GET"),
    "DeleteSnapshot": (2, "DELETE + >=1 GET until gone (we GET the backup first too)"),
    "DeleteVolume": (2, "DELETE + >=1 GET until gone (we GET first: refuse while attached)"),
    "DeleteVolume (repeat)": (1, "GET or DELETE answering 404"),
}


def cap() -> csi_pb2.VolumeCapability:
    mode = csi_pb2.VolumeCapability.AccessMode(
        mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER
    )
    return csi_pb2.VolumeCapability(mount=csi_pb2.VolumeCapability.MountVolume(), access_mode=mode)


class Bench(RequestTable):
    def __init__(self, ctrl: csi_pb2_grpc.ControllerStub, cinder: FaultProxy) -> None:
        super().__init__(cinder, MINIMUM, call_again=False, retry_width=12)
        self.ctrl = ctrl

    def run(self) -> None:
        c = self.ctrl

        def create(name: str) -> Any:
            req = csi_pb2.CreateVolumeRequest(
                name=name,
                volume_capabilities=[cap()],
                capacity_range=csi_pb2.CapacityRange(required_bytes=GIB),
            )
            return c.CreateVolume(req).volume

        # Warm-up: the first request of a connection also discovers the API version (2 more
        # requests, once per process); the table shows steady-state numbers.
        c.ListVolumes(csi_pb2.ListVolumesRequest(max_entries=1))
        name = f"osk8s-bench-{uuid.uuid4().hex[:8]}"
        other = f"osk8s-bench-{uuid.uuid4().hex[:8]}"
        vol = self.measure("CreateVolume (new)", lambda: create(name), lambda: create(other))
        other_id = create(other).volume_id
        vid = vol.volume_id
        self.measure("CreateVolume (repeat)", lambda: create(name), lambda: create(name))
        get = csi_pb2.ControllerGetVolumeRequest(volume_id=vid)
        self.measure(
            "ControllerGetVolume",
            lambda: c.ControllerGetVolume(get),
            lambda: c.ControllerGetVolume(get),
        )
        lst = csi_pb2.ListVolumesRequest(max_entries=10)
        self.measure("ListVolumes (max 10)", lambda: c.ListVolumes(lst), lambda: c.ListVolumes(lst))
        val = csi_pb2.ValidateVolumeCapabilitiesRequest(volume_id=vid, volume_capabilities=[cap()])
        self.measure(
            "ValidateVolumeCapabilities",
            lambda: c.ValidateVolumeCapabilities(val),
            lambda: c.ValidateVolumeCapabilities(val),
        )

        def expand(volume_id: str) -> Any:
            return c.ControllerExpandVolume(
                csi_pb2.ControllerExpandVolumeRequest(
                    volume_id=volume_id,
                    capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB),
                )
            )

        self.measure("ControllerExpandVolume", lambda: expand(vid), lambda: expand(other_id))

        def snap(snap_name: str, volume_id: str) -> Any:
            req = csi_pb2.CreateSnapshotRequest(name=snap_name, source_volume_id=volume_id)
            return c.CreateSnapshot(req).snapshot

        sname, sother = f"{name}-s", f"{other}-s"
        s = self.measure(
            "CreateSnapshot (new)", lambda: snap(sname, vid), lambda: snap(sother, other_id)
        )
        s_other = snap(sother, other_id)
        by_id = csi_pb2.ListSnapshotsRequest(snapshot_id=s.snapshot_id)
        self.measure(
            "ListSnapshots (by id)", lambda: c.ListSnapshots(by_id), lambda: c.ListSnapshots(by_id)
        )

        def del_snap(snapshot_id: str) -> Any:
            return c.DeleteSnapshot(csi_pb2.DeleteSnapshotRequest(snapshot_id=snapshot_id))

        self.measure(
            "DeleteSnapshot", lambda: del_snap(s.snapshot_id), lambda: del_snap(s_other.snapshot_id)
        )

        def del_vol(volume_id: str) -> Any:
            return c.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=volume_id))

        self.measure("DeleteVolume", lambda: del_vol(vid), lambda: del_vol(other_id))
        self.measure("DeleteVolume (repeat)", lambda: del_vol(vid), lambda: del_vol(other_id))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud-config", default=str(REPO / ".testcloud" / "cloud.conf"))
    parser.add_argument("--no-suite", action="store_true", help="skip the suite timing")
    parser.add_argument("--verbose", action="store_true", help="print each request's path")
    args = parser.parse_args()
    conf_path = Path(args.cloud_config)
    if not conf_path.exists():
        print(f"no {conf_path}: run `osk8s-testcloud up` first", file=sys.stderr)
        return 2
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    fleet = start_fleet({"keystone": "http://127.0.0.1:5000", "cinder": "http://127.0.0.1:8776"})
    base = Path(tempfile.mkdtemp(prefix="cinder-bench-", dir="/tmp"))
    try:
        conf = base / "cloud.conf"
        conf.write_text(
            conf_path.read_text().replace("http://127.0.0.1:5000", fleet["keystone"].url)
        )
        settings = ClientSettings(component="cinder-csi-plugin", version=__version__)
        factory = ConnectionFactory([conf], settings=settings)
        log = structlog.get_logger("bench")
        cloud = OpenStackCinderCloud(
            connect=factory.get, metrics=ApiMetrics(CollectorRegistry()), logger=log
        )
        server = build_driver(
            parse_endpoint(f"unix://{base}/csi.sock"),
            controller=ControllerParts(Clouds({"": cloud}), ControllerOptions(cluster="bench")),
            node=None,
            with_topology=True,
            logger=log,
            registry=CollectorRegistry(),
        )
        server.start()
        channel = grpc.insecure_channel(server.address)
        stub = csi_pb2_grpc.ControllerStub(channel)  # type: ignore[no-untyped-call]
        bench = Bench(stub, fleet["cinder"])
        try:
            bench.run()
        finally:
            channel.close()
            server.stop(0)
            factory.close()
        bench.print(verbose=args.verbose)
    finally:
        for proxy in fleet.values():
            proxy.stop()
        shutil.rmtree(base, ignore_errors=True)
    if not args.no_suite:
        seconds, tail = suite_time(REPO, "tests/services/cinder_csi/test_cinder_conformance.py")
        print(f"\nconformance suite wall time: {seconds:.1f} s ({tail})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
