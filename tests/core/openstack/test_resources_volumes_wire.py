"""``Volumes`` over the real openstacksdk stack against a scripted Cinder on 127.0.0.1.

Shows the idempotency decisions on the wire: find first, no second POST after a lost
answer that landed, ALREADY_EXISTS on a size mismatch, no-op extend, delete of a missing
volume. Only sleeping is faked.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import openstack.connection
import pytest
from prometheus_client import CollectorRegistry
from scripted_cloud import Reply, ScriptedCloud, make_connection

from osk8s_core import errors
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.openstack.volumes import Volumes, VolumeSpec
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import NO_RETRY, RetryPolicy, WaitPolicy

LIST = "/v3/volumes/detail"


def vol(status: str = "available", size: int = 1, vid: str = "v1") -> dict[str, Any]:
    return {"id": vid, "name": "pv-1", "status": status, "size": size, "metadata": {}}


class NullLogger:
    def warning(self, event: str | None = None, *args: Any, **kw: Any) -> None:
        return None


@pytest.fixture
def volumes(cloud: ScriptedCloud) -> Iterator[tuple[Volumes, CollectorRegistry, list[float]]]:
    registry = CollectorRegistry()
    sleeps: list[float] = []
    conn = make_connection(cloud.url)
    client = OpenStackClient(
        conn,
        metrics=ApiMetrics(registry),
        retry_policy=RetryPolicy(jitter=0.0),
        logger=NullLogger(),
        sleep=sleeps.append,
    )
    waiter = Waiter(policy=WaitPolicy(timeout=30, interval=0.01), sleep=sleeps.append)
    try:
        yield Volumes(client, waiter=waiter), registry, sleeps
    finally:
        conn.close()


def test_create_when_absent_posts_once_and_waits(cloud: ScriptedCloud, volumes: Any) -> None:
    api, registry, _ = volumes
    cloud.script("GET", LIST, Reply(body={"volumes": []}))
    cloud.script("POST", "/v3/volumes", Reply(202, {"volume": vol("creating")}))
    cloud.script(
        "GET",
        "/v3/volumes/v1",
        Reply(body={"volume": vol("creating")}),
        Reply(body={"volume": vol()}),
    )
    got = api.create(VolumeSpec(name="pv-1", size_gb=1, metadata={"k": "v"}))
    assert got.status == "available"
    assert cloud.calls("POST", "/v3/volumes") == 1
    body = json.loads(next(b for b in cloud.bodies if b and b"pv-1" in b))
    assert body["volume"] == {"name": "pv-1", "size": 1, "metadata": {"k": "v"}}
    sample = registry.get_sample_value
    assert sample("openstack_api_requests_total", {"request": "volume_create"}) == 1
    assert sample("openstack_api_requests_total", {"request": "volume_list"}) == 1
    assert sample("openstack_api_requests_total", {"request": "volume_get"}) == 2


def test_lost_create_answer_finds_landed_volume(cloud: ScriptedCloud, volumes: Any) -> None:
    api, registry, _ = volumes
    cloud.script("GET", LIST, Reply(body={"volumes": []}), Reply(body={"volumes": [vol()]}))
    cloud.script("POST", "/v3/volumes", Reply(reset=True))
    got = api.create(VolumeSpec(name="pv-1", size_gb=1), wait=False)
    assert got.id == "v1"
    assert cloud.calls("POST", "/v3/volumes") == 1  # a create is never blindly repeated
    assert cloud.calls("GET", LIST) == 2
    errors_total = registry.get_sample_value(
        "openstack_api_request_errors_total", {"request": "volume_create"}
    )
    assert errors_total == 1


def test_lost_create_answer_that_did_not_land_raises(cloud: ScriptedCloud, volumes: Any) -> None:
    api, _, _ = volumes
    cloud.script("GET", LIST, Reply(body={"volumes": []}))
    cloud.script("POST", "/v3/volumes", Reply(reset=True))
    with pytest.raises(errors.ServiceUnavailable):
        api.create(VolumeSpec(name="pv-1", size_gb=1), wait=False)
    assert cloud.calls("POST", "/v3/volumes") == 1


def test_existing_same_size_is_returned_other_size_is_already_exists(
    cloud: ScriptedCloud, volumes: Any
) -> None:
    api, _, _ = volumes
    cloud.script("GET", LIST, Reply(body={"volumes": [vol(size=1)]}))
    assert api.create(VolumeSpec(name="pv-1", size_gb=1), wait=False).id == "v1"
    with pytest.raises(errors.AlreadyExists, match="size=1"):
        api.create(VolumeSpec(name="pv-1", size_gb=3), wait=False)
    assert cloud.calls("POST", "/v3/volumes") == 0


def test_duplicate_names_are_ambiguous(cloud: ScriptedCloud, volumes: Any) -> None:
    api, _, _ = volumes
    cloud.script("GET", LIST, Reply(body={"volumes": [vol(vid="a"), vol(vid="b")]}))
    with pytest.raises(errors.AmbiguousMatch):
        api.find_by_name("pv-1")


def test_extend_is_a_noop_when_big_enough(cloud: ScriptedCloud, volumes: Any) -> None:
    api, _, _ = volumes
    cloud.script("GET", "/v3/volumes/v1", Reply(body={"volume": vol(size=2)}))
    assert api.extend("v1", 2).size == 2
    assert cloud.calls("POST", "/v3/volumes/v1/action") == 0


def test_extend_posts_action_then_waits(cloud: ScriptedCloud, volumes: Any) -> None:
    api, _, _ = volumes
    cloud.script(
        "GET",
        "/v3/volumes/v1",
        Reply(body={"volume": vol(size=1)}),
        Reply(body={"volume": vol("extending", size=1)}),
        Reply(body={"volume": vol(size=2)}),
    )
    cloud.script("POST", "/v3/volumes/v1/action", Reply(202))
    assert api.extend("v1", 2).size == 2
    action = json.loads(next(b for b in cloud.bodies if b"os-extend" in b))
    assert action == {"os-extend": {"new_size": 2}}


def test_delete_of_missing_volume_is_success(cloud: ScriptedCloud, volumes: Any) -> None:
    api, _, _ = volumes
    cloud.script("DELETE", "/v3/volumes/gone", Reply(404, {"itemNotFound": {"message": "no"}}))
    api.delete("gone")
    assert cloud.calls("DELETE", "/v3/volumes/gone") == 1


def test_wait_reports_error_status(cloud: ScriptedCloud, volumes: Any) -> None:
    api, _, _ = volumes
    cloud.script("GET", "/v3/volumes/v1", Reply(body={"volume": vol("error")}))
    with pytest.raises(errors.ResourceError, match="volume v1 went into status error"):
        api.wait_available("v1")


def test_same_name_from_another_source_is_already_exists(
    cloud: ScriptedCloud, volumes: Any
) -> None:
    api, _, _ = volumes
    restored = {**vol(), "snapshot_id": "snap-1"}
    cloud.script("GET", LIST, Reply(body={"volumes": [restored]}))
    spec = VolumeSpec(name="pv-1", size_gb=1, snapshot_id="snap-1")
    assert api.create(spec, wait=False).id == "v1"
    with pytest.raises(errors.AlreadyExists, match="snapshot_id"):
        api.create(VolumeSpec(name="pv-1", size_gb=1), wait=False)


def test_auth_failure_is_mapped_inside_the_call_layer() -> None:
    # Keystone unreachable: resolving the block-storage proxy must happen inside ``call``,
    # so the failure comes out as our error and is counted under the request's label.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conn = openstack.connection.Connection(
        auth_type="password",
        auth={
            "auth_url": f"http://127.0.0.1:{port}/v3",
            "username": "u",
            "password": "not-a-real-password",
            "project_name": "p",
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        },
        connect_retries=0,
        api_timeout=2,
    )
    registry = CollectorRegistry()
    client = OpenStackClient(
        conn, metrics=ApiMetrics(registry), retry_policy=NO_RETRY, logger=NullLogger()
    )
    try:
        with pytest.raises(errors.ServiceUnavailable):
            Volumes(client).get("v1")
    finally:
        conn.close()
    failed = registry.get_sample_value(
        "openstack_api_request_errors_total", {"request": "volume_get"}
    )
    assert failed == 1
