"""Pieces of the real cloud adapter that need no cloud: the name-filter fallback, the
create-after-lookup rule and the conversion of openstacksdk objects."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import structlog
from prometheus_client import CollectorRegistry

from osk8s_cinder_csi.lookups import NameFilter
from osk8s_cinder_csi.sdk_values import volume_info
from osk8s_core import errors
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.openstack.idempotency import create_after_lookup
from osk8s_core.retry import RetryPolicy


def client() -> OpenStackClient[Any]:
    return OpenStackClient(
        object(),
        metrics=ApiMetrics(CollectorRegistry()),
        logger=structlog.get_logger("test"),
        retry_policy=RetryPolicy(max_attempts=1),
    )


class Lister:
    def __init__(self, *, rejects_name: bool) -> None:
        self.rejects_name = rejects_name
        self.queries: list[dict[str, Any]] = []
        self.items = [SimpleNamespace(name="a"), SimpleNamespace(name="b")]

    def __call__(self, **query: Any) -> list[Any]:
        self.queries.append(query)
        if "name" in query and self.rejects_name:
            raise errors.BadRequest("Invalid filters name are found in query options.")
        return [i for i in self.items if i.name == query.get("name", i.name)]


def test_name_filter_server_side() -> None:
    lister = Lister(rejects_name=False)
    found = NameFilter()(client(), "volume_list", lister, "a")
    assert [i.name for i in found] == ["a"] and lister.queries == [{"name": "a"}]


def test_name_filter_falls_back_once_and_remembers() -> None:
    lister, by_name = Lister(rejects_name=True), NameFilter()
    assert [i.name for i in by_name(client(), "volume_list", lister, "b")] == ["b"]
    assert [i.name for i in by_name(client(), "volume_list", lister, "a")] == ["a"]
    assert lister.queries == [{"name": "b"}, {}, {}]  # the refused filter is not repeated


def test_create_after_lookup_resolves_a_lost_answer() -> None:
    made = SimpleNamespace(id="v1")
    lookups: list[int] = []

    def lost() -> Any:
        raise errors.ServerError("502", status=502)

    def find() -> Any:
        lookups.append(1)
        return made

    assert create_after_lookup(find=find, create=lost, check=lambda v: v) is made
    assert lookups == [1]

    def refused() -> Any:
        raise errors.OverLimit("quota")

    with pytest.raises(errors.OverLimit):  # the server surely did nothing: no lookup
        create_after_lookup(find=find, create=refused, check=lambda v: v)
    assert lookups == [1]


def test_volume_info_reads_attachments() -> None:
    sdk_volume = SimpleNamespace(
        id="v",
        name="n",
        size=3,
        status="in-use",
        availability_zone="nova",
        attachments=[{"server_id": "s1", "device": "/dev/vdb"}],
        snapshot_id=None,
        source_volume_id=None,
        backup_id=None,
        is_multiattach=False,
    )
    info = volume_info(sdk_volume)
    assert info.attached_servers == ("s1",)
    assert info.attachment_devices == {"s1": "/dev/vdb"}
    assert info.size_gb == 3


class FakeCompute:
    """The slice of the sdk compute proxy that attach/detach use; attaching flips the
    volume to in-use after ``delay_polls`` polls, as Nova + Cinder do asynchronously."""

    def __init__(self, storage: FakeStorage) -> None:
        self.storage = storage
        self.attach_calls = 0
        self.detach_calls = 0

    def get_server(self, server_id: str) -> Any:
        if server_id != "srv":
            raise errors.NotFound("no server")
        return SimpleNamespace(id=server_id, status="ACTIVE")

    def volume_attachments(self, server_id: str) -> list[Any]:
        attached = self.storage.attached.get(server_id, [])
        return [SimpleNamespace(volume_id=v, device="/dev/vdb") for v in attached]

    def create_volume_attachment(self, server_id: str, volume_id: str) -> Any:
        self.attach_calls += 1
        self.storage.attached.setdefault(server_id, []).append(volume_id)
        self.storage.pending = 2
        return SimpleNamespace(volume_id=volume_id, device="/dev/vdb")

    def delete_volume_attachment(self, server: Any, volume_id: str, **kw: Any) -> None:
        self.detach_calls += 1
        server_id = getattr(server, "id", server)  # the core passes a typed Server
        self.storage.attached.get(server_id, []).remove(volume_id)
        self.storage.pending = 1


class FakeStorage:
    def __init__(self) -> None:
        self.attached: dict[str, list[str]] = {}
        self.pending = 0
        self.gets = 0

    def get_volume(self, volume_id: str) -> Any:
        self.gets += 1
        if self.pending:  # Cinder still shows the previous state
            self.pending -= 1
        servers = [s for s, vols in self.attached.items() if volume_id in vols]
        if self.pending:
            servers = [] if servers else ["srv"]
        return SimpleNamespace(
            id=volume_id,
            name="v",
            size=1,
            status="in-use" if servers else "available",
            availability_zone="nova",
            attachments=[{"server_id": s, "device": "/dev/vdb"} for s in servers],
            snapshot_id=None,
            source_volume_id=None,
            backup_id=None,
            is_multiattach=False,
        )


def test_attach_and_detach_wait_for_cinder() -> None:
    from osk8s_cinder_csi.openstack_cloud import CloudWaits, OpenStackCinderCloud
    from osk8s_core.openstack.waiting import Waiter
    from osk8s_core.retry import WaitPolicy

    storage = FakeStorage()
    compute = FakeCompute(storage)
    connection = SimpleNamespace(compute=compute, block_storage=storage)
    slept: list[float] = []
    waiter = Waiter(policy=WaitPolicy(timeout=30), sleep=slept.append, clock=lambda: 0.0)
    cloud = OpenStackCinderCloud(
        connect=lambda: connection,  # type: ignore[arg-type, return-value]
        metrics=ApiMetrics(CollectorRegistry()),
        logger=structlog.get_logger("test"),
        waits=CloudWaits(volume=waiter, attach=waiter, detach=waiter, snapshot=waiter),
    )
    assert cloud.server_exists("srv") and not cloud.server_exists("gone")
    assert cloud.attach("srv", "vol-1") == "/dev/vdb"
    assert compute.attach_calls == 1 and len(slept) == 1  # one stale poll, then attached
    assert cloud.attach("srv", "vol-1") == "/dev/vdb"  # already attached: no second attach
    assert compute.attach_calls == 1
    cloud.detach("srv", "vol-1")
    assert compute.detach_calls == 1
    assert cloud.get_volume("vol-1").attached_servers == ()
