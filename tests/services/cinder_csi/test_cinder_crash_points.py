"""The real ``cinder-csi-plugin`` killed (SIGKILL) at each crash point of CreateVolume and
restarted: the CO's retry ends with exactly one volume, the one the crashed process created.

The binary reaches the points through the core's call layer (``<request>.before/.after`` around
every create) when started with ``OSK8S_CRASH_AT``; a first run with ``OSK8S_CRASH_LOG`` lists
the points, so a new create step in the driver is covered without touching this test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from prometheus_client import CollectorRegistry

from osk8s_cinder_csi.openstack_cloud import OpenStackCinderCloud
from osk8s_core.proto.csi import csi_pb2_grpc
from osk8s_testing.crashpoints import crash_env, read_points
from osk8s_testing.csi.requests import create_req

from .conftest import cloud_conf_or_skip, connection_factory_for, real_cloud

pytestmark = pytest.mark.contract

BIN = Path(sys.executable).parent / "cinder-csi-plugin"


class Plugin:
    """One controller-only plugin process on its own socket."""

    def __init__(self, base: Path, conf: Path, env: dict[str, str]) -> None:
        self.sock = base / f"csi-{uuid.uuid4().hex[:6]}.sock"
        self.proc = subprocess.Popen(
            [
                str(BIN),
                f"--endpoint=unix://{self.sock}",
                f"--cloud-config={conf}",
                "--cluster=crash-test",
                "--provide-node-service=false",
                "--log-format=console",
            ],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.channel = grpc.insecure_channel(f"unix://{self.sock}")
        grpc.channel_ready_future(self.channel).result(timeout=60)
        self.controller = csi_pb2_grpc.ControllerStub(self.channel)  # type: ignore[no-untyped-call]

    def stop(self) -> None:
        self.channel.close()
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.communicate(timeout=30)


@pytest.fixture
def cinder() -> Iterator[OpenStackCinderCloud]:
    factory = connection_factory_for()
    try:
        yield real_cloud(factory, CollectorRegistry(), "test.crash")
    finally:
        factory.close()


def _delete_named(cloud: OpenStackCinderCloud, name: str) -> None:
    for volume in cloud.find_volumes(name):
        cloud.delete_volume(volume.id)


def test_create_volume_converges_after_a_kill_at_every_crash_point(
    tmp_path: Path, cinder: OpenStackCinderCloud
) -> None:
    conf = cloud_conf_or_skip()
    base = Path(os.environ.get("TMPDIR", "/tmp"))  # unix socket paths must stay short
    log = tmp_path / "points"
    name = f"osk8s-crash-{uuid.uuid4().hex[:8]}"
    try:
        plugin = Plugin(base, conf, crash_env(log=log))
        try:
            plugin.controller.CreateVolume(create_req(f"{name}-probe"), timeout=120)
        finally:
            plugin.stop()
            _delete_named(cinder, f"{name}-probe")
        points = [str(p) for p in read_points(log) if p.name.startswith("volume_create.")]
        assert points == ["volume_create.before", "volume_create.after"]

        for i, point in enumerate(points):
            volume_name = f"{name}-{i}"
            crashed = Plugin(base, conf, crash_env(at=point))
            with pytest.raises(grpc.RpcError) as info:
                crashed.controller.CreateVolume(create_req(volume_name), timeout=120)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            assert crashed.proc.wait(timeout=30) == -9  # SIGKILL, as a node failure
            crashed.stop()

            restarted = Plugin(base, conf, {})
            try:
                volume = restarted.controller.CreateVolume(
                    create_req(volume_name), timeout=120
                ).volume
            finally:
                restarted.stop()
            found = cinder.find_volumes(volume_name)
            assert [v.id for v in found] == [volume.volume_id], f"after a kill at {point}"
    finally:
        for i in range(2):
            _delete_named(cinder, f"{name}-{i}")
