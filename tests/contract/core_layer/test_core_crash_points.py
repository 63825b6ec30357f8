"""Crash consistency of the core layer against the real Cinder: a "volume, then its snapshot"
reconcile killed at every crash point it reaches (before and after each create answered, as
``OpenStackClient`` marks them) and restarted ends with exactly one volume and one snapshot.

This is the loop every controller's crash test runs (``osk8s_testing.crashpoints``); here it
proves the core's find-or-create steps themselves leave no duplicate and no orphan.
"""

from __future__ import annotations

import pytest

from osk8s_core.crashpoints import CrashPoints
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.openstack.snapshots import Snapshots
from osk8s_core.openstack.volumes import Volumes, VolumeSpec
from osk8s_testing.crashpoints import loop_over_crash_points

from .conftest import POLICY, Cleanup, Core

pytestmark = pytest.mark.contract


def test_volume_then_snapshot_converges_after_a_crash_at_every_point(
    core: Core, cleanup: Cleanup, name: str
) -> None:
    volumes = Volumes(core.client, waiter=core.waiter)
    snapshots = Snapshots(core.client, waiter=core.waiter)

    def scenario(points: CrashPoints) -> None:
        # A fresh client per run, as a restarted process would build.
        client = OpenStackClient(
            core.conn,
            metrics=core.metrics,
            retry_policy=POLICY,
            logger=core.logger,
            crash_points=points,
        )
        volume = Volumes(client, waiter=core.waiter).create(VolumeSpec(name=name, size_gb=1))
        Snapshots(client, waiter=core.waiter).create(name, volume.id)

    def verify() -> None:
        found = volumes.query(name=name)
        assert len(found) == 1, f"volumes named {name}: {[v.id for v in found]}"
        taken = snapshots.query(name=name)
        assert [s.volume_id for s in taken] == [found[0].id], f"snapshots: {taken}"

    def reset() -> None:
        for snapshot in snapshots.query(name=name):
            snapshots.delete(snapshot.id, wait=True)
        for volume in volumes.query(name=name):
            volumes.delete(volume.id, wait=True)

    cleanup.add(reset)
    crashed = loop_over_crash_points(scenario, verify=verify, reset=reset)

    assert [str(p) for p in crashed] == [
        "volume_create.before",
        "volume_create.after",
        "snapshot_create.before",
        "snapshot_create.after",
    ]
