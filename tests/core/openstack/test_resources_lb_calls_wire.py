"""The shared ``LoadBalancerCalls`` shape as ``lb_updates`` and ``lb_l7`` use it, over the real
openstacksdk stack against a recording Octavia stand-in on 127.0.0.1: a listener tree is
created once by name between two ACTIVE waits, an L7 rule is posted under its policy with
what it matches, and a delete of a child already gone (404) is success."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from resource_wire import Recorder, serving, wire_client

from osk8s_core.openstack.lb_children import LoadBalancerChildren
from osk8s_core.openstack.lb_l7 import L7Policies, L7RuleSpec
from osk8s_core.openstack.lb_updates import LoadBalancerUpdates
from osk8s_core.openstack.loadbalancers import LoadBalancers
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import WaitPolicy

LB = "/lb/v2/lbaas/loadbalancers/lb1"
LISTENERS = "/lb/v2/lbaas/listeners"
RULES = "/lb/v2/lbaas/l7policies/pol1/rules"


@pytest.fixture
def served() -> Iterator[tuple[Recorder, str]]:
    with serving() as (rec, url):
        rec.json("GET", LB, {"loadbalancer": {"id": "lb1", "provisioning_status": "ACTIVE"}})
        yield rec, url


def _lbs(url: str) -> LoadBalancers:
    waiter = Waiter(policy=WaitPolicy(timeout=30, interval=0.01), sleep=lambda _: None)
    return LoadBalancers(wire_client(url), waiter=waiter)


def _order(rec: Recorder) -> list[tuple[str, str]]:
    return [(s.method, s.path) for s in rec.seen if s.path.startswith("/lb/v2/lbaas")]


def _updates(url: str) -> LoadBalancerUpdates:
    lbs = _lbs(url)
    return LoadBalancerUpdates(lbs, LoadBalancerChildren(lbs))


def test_listener_tree_is_posted_once_between_active_waits(served: tuple[Recorder, str]) -> None:
    rec, url = served
    rec.json("GET", LISTENERS, {"listeners": []})
    rec.json("POST", LISTENERS, {"listener": {"id": "l1", "name": "web"}}, status=201)
    tree: dict[str, Any] = {"name": "web", "protocol": "TCP", "protocol_port": 80}
    tree["default_pool"] = {"name": "web-pool", "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}
    got = _updates(url).create_listener_tree("lb1", tree)
    assert got.id == "l1"
    order = _order(rec)
    post = order.index(("POST", LISTENERS))
    assert ("GET", LB) in order[:post] and ("GET", LB) in order[post:]
    body = json.loads(next(s.body for s in rec.seen if s.method == "POST"))
    assert body["listener"]["loadbalancer_id"] == "lb1"
    assert body["listener"]["default_pool"]["name"] == "web-pool"


def test_listener_tree_of_an_existing_name_is_not_posted(served: tuple[Recorder, str]) -> None:
    rec, url = served
    rec.json("GET", LISTENERS, {"listeners": [{"id": "l0", "name": "web"}]})
    got = _updates(url).create_listener_tree("lb1", {"name": "web", "protocol": "TCP"})
    assert got.id == "l0"
    assert not [s for s in rec.seen if s.method == "POST"]


def test_l7_rule_is_posted_under_its_policy_with_what_it_matches(
    served: tuple[Recorder, str],
) -> None:
    rec, url = served
    rec.json("GET", RULES, {"rules": []})
    rec.json("POST", RULES, {"rule": {"id": "r1", "type": "PATH"}}, status=201)
    spec = L7RuleSpec(rule_type="PATH", compare_type="STARTS_WITH", value="/app")
    got = L7Policies(_lbs(url)).create_rule("lb1", "pol1", spec)
    assert got.id == "r1"
    body = json.loads(next(s.body for s in rec.seen if s.method == "POST"))
    assert body["rule"] == {
        "type": "PATH",
        "compare_type": "STARTS_WITH",
        "value": "/app",
        "invert": False,
    }


def test_delete_of_a_member_already_gone_is_success(served: tuple[Recorder, str]) -> None:
    rec, url = served
    member = "/lb/v2/lbaas/pools/p1/members/m1"  # not routed: the stand-in answers 404
    LoadBalancerChildren(_lbs(url)).delete_member("lb1", "p1", "m1")
    order = _order(rec)
    assert order.count(("DELETE", member)) == 1
    assert order[-1] == ("GET", LB)  # and waited for ACTIVE after it
