"""``Shares`` and ``Secrets`` raw calls over the real openstacksdk stack against a recording
HTTP server on 127.0.0.1: Manila's extend must carry microversion 2.7 (openstacksdk's own
``resize_share`` sends none and Manila answers 404), and Barbican payloads are read raw."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from resource_wire import Recorder, serving, wire_client

from osk8s_core import errors
from osk8s_core.openstack.secrets import Secrets
from osk8s_core.openstack.shares import Shares
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import WaitPolicy


@pytest.fixture
def served() -> Iterator[tuple[Recorder, str]]:
    with serving() as pair:
        yield pair


def share(size: int, status: str = "available") -> dict[str, Any]:
    return {"share": {"id": "s1", "name": "pvc-1", "size": size, "status": status}}


def test_share_extend_sends_microversion_2_7(served: tuple[Recorder, str]) -> None:
    rec, url = served
    rec.json("GET", "/v2/shares/s1", share(1))
    rec.json("POST", "/v2/shares/s1/action", {}, status=202)
    shares = Shares(wire_client(url), waiter=Waiter(policy=WaitPolicy(timeout=1)))
    shares.extend("s1", 2, wait=False)
    posts = [s for s in rec.seen if s.method == "POST"]
    assert len(posts) == 1
    assert posts[0].path == "/v2/shares/s1/action"
    assert posts[0].headers["X-OpenStack-Manila-API-Version"] == "2.7"
    assert json.loads(posts[0].body) == {"extend": {"new_size": 2}}


def test_share_extend_noop_and_error_mapping(served: tuple[Recorder, str]) -> None:
    rec, url = served
    shares = Shares(wire_client(url), waiter=Waiter(policy=WaitPolicy(timeout=1)))
    rec.json("GET", "/v2/shares/s1", share(3))
    assert shares.extend("s1", 2).size == 3
    assert not [s for s in rec.seen if s.method == "POST"]
    rec.json("GET", "/v2/shares/s1", share(1))
    rec.json("POST", "/v2/shares/s1/action", {"itemNotFound": {"message": "no"}}, status=404)
    with pytest.raises(errors.NotFound, match="share_extend failed: HTTP 404"):
        shares.extend("s1", 2, wait=False)


def test_secret_payload_read_raw(served: tuple[Recorder, str]) -> None:
    rec, url = served
    key = bytes(range(256))[:32]
    rec.routes[("GET", "/v1/secrets/abc/payload")] = (200, key, "application/octet-stream")
    secrets = Secrets(wire_client(url))
    assert secrets.payload_bytes(f"{url}/v1/secrets/abc") == key
    seen = rec.seen[-1]
    assert seen.path == "/v1/secrets/abc/payload"
    assert seen.headers["Accept"] == "application/octet-stream"
    with pytest.raises(errors.NotFound):
        secrets.payload_text("missing")
