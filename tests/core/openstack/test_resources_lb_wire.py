"""``LoadBalancers`` and ``LoadBalancerChildren`` over the real openstacksdk stack against
a recording Octavia stand-in on 127.0.0.1: lookups skip LBs on their way out, member
creates are idempotent by address and port, and every change waits for ACTIVE around it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from resource_wire import Recorder, serving, wire_client

from osk8s_core import errors
from osk8s_core.openstack.lb_children import LoadBalancerChildren
from osk8s_core.openstack.loadbalancers import LoadBalancers, LoadBalancerSpec
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import WaitPolicy

LBS = "/lb/v2/lbaas/loadbalancers"
MEMBERS = "/lb/v2/lbaas/pools/p1/members"


def lb(lb_id: str, status: str = "ACTIVE", name: str = "kube_service_c_ns_svc") -> dict[str, Any]:
    return {"id": lb_id, "name": name, "provisioning_status": status, "vip_port_id": "port1"}


@pytest.fixture
def served() -> Iterator[tuple[Recorder, str]]:
    with serving() as pair:
        yield pair


def _lbs(url: str) -> LoadBalancers:
    sleeps: list[float] = []
    waiter = Waiter(policy=WaitPolicy(timeout=30, interval=0.01), sleep=sleeps.append)
    return LoadBalancers(wire_client(url), waiter=waiter)


def test_find_by_name_skips_lbs_being_deleted(served: tuple[Recorder, str]) -> None:
    rec, url = served
    rec.json("GET", LBS, {"loadbalancers": [lb("old", "PENDING_DELETE"), lb("new")]})
    found = _lbs(url).find_by_name("kube_service_c_ns_svc")
    assert found is not None and found.id == "new"
    rec.json("GET", LBS, {"loadbalancers": [lb("a"), lb("b", "ERROR")]})
    with pytest.raises(errors.AmbiguousMatch):
        _lbs(url).find_by_name("kube_service_c_ns_svc")


def test_create_returns_existing_lb_without_post(served: tuple[Recorder, str]) -> None:
    rec, url = served
    rec.json("GET", LBS, {"loadbalancers": [lb("lb1")]})
    rec.json("GET", f"{LBS}/lb1", {"loadbalancer": lb("lb1")})
    got = _lbs(url).create(LoadBalancerSpec(name="kube_service_c_ns_svc", vip_subnet_id="s"))
    assert got.id == "lb1"
    assert not [s for s in rec.seen if s.method == "POST"]


def test_wait_active_fails_on_error(served: tuple[Recorder, str]) -> None:
    rec, url = served
    rec.json("GET", f"{LBS}/lb1", {"loadbalancer": lb("lb1", "ERROR")})
    with pytest.raises(errors.ResourceError, match="load balancer lb1 went into status ERROR"):
        _lbs(url).wait_active("lb1")


def test_member_create_is_idempotent_by_address_and_port(served: tuple[Recorder, str]) -> None:
    rec, url = served
    member = {"id": "m1", "address": "10.0.0.5", "protocol_port": 30080}
    rec.json("GET", f"{LBS}/lb1", {"loadbalancer": lb("lb1")})
    rec.json("GET", MEMBERS, {"members": [member]})
    parts = LoadBalancerChildren(_lbs(url))
    got = parts.create_member("lb1", "p1", address="10.0.0.5", port=30080)
    assert got.id == "m1"
    assert not [s for s in rec.seen if s.method == "POST"]


def test_member_create_posts_between_active_waits(served: tuple[Recorder, str]) -> None:
    rec, url = served
    rec.json("GET", f"{LBS}/lb1", {"loadbalancer": lb("lb1")})
    rec.json("GET", MEMBERS, {"members": [{"id": "x", "address": "10.0.0.9", "protocol_port": 1}]})
    rec.json("POST", MEMBERS, {"member": {"id": "m2", "address": "10.0.0.5"}}, status=201)
    parts = LoadBalancerChildren(_lbs(url))
    got = parts.create_member("lb1", "p1", address="10.0.0.5", port=30080, subnet_id="s1")
    assert got.id == "m2"
    order = [(s.method, s.path) for s in rec.seen if s.path.startswith("/lb/v2/lbaas")]
    post = order.index(("POST", MEMBERS))
    assert ("GET", f"{LBS}/lb1") in order[:post]  # waited for ACTIVE before the change
    assert ("GET", f"{LBS}/lb1") in order[post:]  # and after it
    body = json.loads(next(s.body for s in rec.seen if s.method == "POST"))
    assert body == {"member": {"address": "10.0.0.5", "protocol_port": 30080, "subnet_id": "s1"}}
