"""``Backups`` and ``Snapshots`` (one ``SourceCopies`` shape) over the real openstacksdk stack
against a scripted Block Storage endpoint: find-first create under CPO's labels, the same
name from another volume is AlreadyExists, a lost create answer looks again, a delete of a
copy already gone is success and its wait ends on 404. The test cloud runs no cinder-backup
service, so this is where backups meet the wire."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from scripted_cloud import Reply, ScriptedCloud, make_connection

from osk8s_core import errors
from osk8s_core.logging import get_logger
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.backups import Backups
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.openstack.snapshots import Snapshots
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import NO_RETRY, WaitPolicy

BACKUPS = "/v3/backups/detail"


def cinder_copy(status: str = "available", volume_id: str = "v1") -> dict[str, Any]:
    return {"id": "b1", "name": "snap-1", "status": status, "volume_id": volume_id}


@pytest.fixture
def wired(cloud: ScriptedCloud) -> Iterator[tuple[OpenStackClient[Any], Waiter, CollectorRegistry]]:
    """A client that never retries (each scripted answer is seen once) and never sleeps."""
    registry, conn = CollectorRegistry(), make_connection(cloud.url)
    log = get_logger("test-copies")
    client = OpenStackClient(conn, metrics=ApiMetrics(registry), retry_policy=NO_RETRY, logger=log)
    try:
        yield client, Waiter(WaitPolicy(timeout=30, interval=0.01), sleep=lambda _: None), registry
    finally:
        conn.close()


def _count(registry: CollectorRegistry, request: str) -> float | None:
    return registry.get_sample_value("openstack_api_requests_total", {"request": request})


@pytest.mark.parametrize(
    ("kind", "resource", "extra"),
    [(Backups, "backup", {"snapshot_id": "s1"}), (Snapshots, "snapshot", {"force": False})],
)
def test_create_when_absent_posts_once_and_waits(
    cloud: ScriptedCloud, wired: Any, kind: Any, resource: str, extra: dict[str, Any]
) -> None:
    client, waiter, registry = wired
    collection, made = f"/v3/{resource}s", cinder_copy("creating")
    cloud.script("GET", f"{collection}/detail", Reply(body={f"{resource}s": []}))
    cloud.script("POST", collection, Reply(202, {resource: made}))
    polls = [Reply(body={resource: made}), Reply(body={resource: cinder_copy()})]
    cloud.script("GET", f"{collection}/b1", *polls)
    got = kind(client, waiter=waiter).create("snap-1", "v1", **extra)
    assert got.status == "available"
    assert cloud.calls("POST", collection) == 1
    body = json.loads(next(b for b in cloud.bodies if b and b"snap-1" in b))
    assert body[resource] == {"name": "snap-1", "volume_id": "v1", **extra}
    counts = {verb: _count(registry, f"{resource}_{verb}") for verb in ("list", "create", "get")}
    assert counts == {"list": 1, "create": 1, "get": 2}


def test_backup_from_another_volume_is_already_exists(cloud: ScriptedCloud, wired: Any) -> None:
    client, waiter, _ = wired
    cloud.script("GET", BACKUPS, Reply(body={"backups": [cinder_copy(volume_id="v1")]}))
    backups = Backups(client, waiter=waiter)
    assert backups.create("snap-1", "v1", wait=False).id == "b1"
    with pytest.raises(errors.AlreadyExists, match=r"backup 'snap-1'.*volume_id"):
        backups.create("snap-1", "v2", wait=False)
    assert cloud.calls("POST", "/v3/backups") == 0


def test_backup_lost_create_answer_finds_the_landed_backup(
    cloud: ScriptedCloud, wired: Any
) -> None:
    client, waiter, _ = wired
    cloud.script(
        "GET", BACKUPS, Reply(body={"backups": []}), Reply(body={"backups": [cinder_copy()]})
    )
    cloud.script("POST", "/v3/backups", Reply(reset=True))
    assert Backups(client, waiter=waiter).create("snap-1", "v1", wait=False).id == "b1"
    assert cloud.calls("POST", "/v3/backups") == 1  # never blindly repeated


def test_backup_delete_gone_is_success_and_wait_ends_on_404(
    cloud: ScriptedCloud, wired: Any
) -> None:
    client, waiter, registry = wired
    missing = Reply(404, {"itemNotFound": {"message": "no"}})
    cloud.script("DELETE", "/v3/backups/b1", missing)
    cloud.script("GET", "/v3/backups/b1", Reply(body={"backup": cinder_copy("deleting")}), missing)
    Backups(client, waiter=waiter).delete("b1", wait=True)
    assert cloud.calls("DELETE", "/v3/backups/b1") == 1
    assert cloud.calls("GET", "/v3/backups/b1") == 2
    assert _count(registry, "backup_delete") == 1


def test_backup_wait_reports_error_status(cloud: ScriptedCloud, wired: Any) -> None:
    client, waiter, _ = wired
    cloud.script("GET", "/v3/backups/b1", Reply(body={"backup": cinder_copy("error")}))
    with pytest.raises(errors.ResourceError, match="backup b1 went into status error"):
        Backups(client, waiter=waiter).wait_available("b1")


def test_snapshot_names_are_ambiguous_under_their_own_noun(
    cloud: ScriptedCloud, wired: Any
) -> None:
    client, waiter, registry = wired
    snap = {"id": "s1", "name": "snap-1", "status": "available", "volume_id": "v1"}
    twin = {**snap, "id": "s2"}
    cloud.script("GET", "/v3/snapshots/detail", Reply(body={"snapshots": [snap, twin]}))
    with pytest.raises(errors.AmbiguousMatch, match="snapshots named 'snap-1'"):
        Snapshots(client, waiter=waiter).find_by_name("snap-1")
    assert _count(registry, "snapshot_list") == 1
