"""``Servers`` volume attach/detach over the real openstacksdk stack against a recording
Nova stand-in on 127.0.0.1: attach is idempotent (listed first, listed again after a lost
answer), detach of a volume that is not attached is success."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from resource_wire import Recorder, serving, wire_client

from osk8s_core import errors
from osk8s_core.openstack.servers import Servers

ATTACHMENTS = "/compute/v2.1/servers/srv1/os-volume_attachments"
ATTACHED = {"id": "vol1", "volumeId": "vol1", "serverId": "srv1", "device": "/dev/vdb"}


@pytest.fixture
def served() -> Iterator[tuple[Recorder, str]]:
    with serving() as pair:
        yield pair


def posts(rec: Recorder) -> list[bytes]:
    return [s.body for s in rec.seen if s.method == "POST" and s.path == ATTACHMENTS]


def test_attach_existing_is_returned_without_post(served: tuple[Recorder, str]) -> None:
    rec, url = served
    rec.json("GET", ATTACHMENTS, {"volumeAttachments": [ATTACHED]})
    got = Servers(wire_client(url)).attach_volume("srv1", "vol1")
    assert got.volume_id == "vol1"
    assert posts(rec) == []


def test_attach_posts_volume_id(served: tuple[Recorder, str]) -> None:
    rec, url = served
    rec.json("GET", ATTACHMENTS, {"volumeAttachments": []})
    rec.json("POST", ATTACHMENTS, {"volumeAttachment": ATTACHED})
    got = Servers(wire_client(url)).attach_volume("srv1", "vol1")
    assert got.device == "/dev/vdb"
    [body] = posts(rec)
    assert json.loads(body) == {"volumeAttachment": {"volumeId": "vol1"}}


def test_attach_with_lost_answer_finds_the_attachment(served: tuple[Recorder, str]) -> None:
    rec, url = served
    rec.json_once("GET", ATTACHMENTS, {"volumeAttachments": []})
    rec.json("GET", ATTACHMENTS, {"volumeAttachments": [ATTACHED]})
    rec.reset_once("POST", ATTACHMENTS)
    got = Servers(wire_client(url)).attach_volume("srv1", "vol1")
    assert got.volume_id == "vol1"
    assert len(posts(rec)) == 1


def test_attach_with_lost_answer_that_did_not_land_raises(
    served: tuple[Recorder, str],
) -> None:
    rec, url = served
    rec.json("GET", ATTACHMENTS, {"volumeAttachments": []})
    rec.reset_once("POST", ATTACHMENTS)
    with pytest.raises(errors.ServiceUnavailable):
        Servers(wire_client(url)).attach_volume("srv1", "vol1")
    assert len(posts(rec)) == 1


def test_detach_of_unattached_volume_is_success(served: tuple[Recorder, str]) -> None:
    rec, url = served
    Servers(wire_client(url)).detach_volume("srv1", "vol1")  # 404 from the stand-in
    deletes = [s for s in rec.seen if s.method == "DELETE"]
    assert [d.path for d in deletes] == [f"{ATTACHMENTS}/vol1"]


def test_detach_sends_one_delete_without_looking_the_server_up(
    served: tuple[Recorder, str],
) -> None:
    rec, url = served
    rec.routes[("DELETE", f"{ATTACHMENTS}/vol1")] = (202, b"", "application/json")
    Servers(wire_client(url)).detach_volume("srv1", "vol1")
    nova = [(s.method, s.path) for s in rec.seen if s.path.startswith("/compute/v2.1/servers")]
    assert nova == [("DELETE", f"{ATTACHMENTS}/vol1")]
