"""Pure idempotency decisions of the resource layer: find-first create, match checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from osk8s_core import errors
from osk8s_core.openstack.idempotency import (
    create_once,
    mismatches,
    outcome_unknown,
    require_match,
    single,
)


@dataclass
class Thing:
    id: str
    size: int = 1
    source: str | None = None


class Recorder:
    """A find/create pair over a list standing in for the server's state."""

    def __init__(self, *, existing: list[Thing] | None = None) -> None:
        self.server: list[Thing] = list(existing or [])
        self.creates = 0
        self.finds = 0

    def find(self) -> Thing | None:
        self.finds += 1
        return single(self.server, what="things")

    def create_ok(self) -> Thing:
        self.creates += 1
        thing = Thing(id=f"t{self.creates}")
        self.server.append(thing)
        return thing

    def create_failing(self, exc: Exception, *, lands: bool) -> Any:
        def create() -> Thing:
            self.creates += 1
            if lands:  # the server acted, then the answer was lost
                self.server.append(Thing(id=f"t{self.creates}"))
            raise exc

        return create


def test_single_none_one_many() -> None:
    assert single([], what="x") is None
    assert single(["a"], what="x") == "a"
    with pytest.raises(errors.AmbiguousMatch, match="2 volumes named 'pv' match"):
        single(["a", "b"], what="volumes named 'pv'")


def test_mismatches_skips_none_as_no_opinion() -> None:
    thing = Thing(id="a", size=2, source=None)
    assert mismatches(thing, {"size": 2, "source": None}) == []
    assert mismatches(thing, {"size": 3, "source": "s"}) == ["size", "source"]


def test_mismatches_none_as_must_be_unset() -> None:
    sourced = Thing(id="a", size=1, source="snap")
    assert mismatches(sourced, {"source": None}) == []
    assert mismatches(sourced, {"source": None}, none_is_wildcard=False) == ["source"]
    assert mismatches(Thing(id="b"), {"source": None}, none_is_wildcard=False) == []


def test_require_match_names_differences() -> None:
    thing = Thing(id="a", size=2)
    assert require_match(thing, {"size": 2}, what="volume 'pv'") is thing
    with pytest.raises(errors.AlreadyExists, match=r"size=2 \(wanted 5\)") as info:
        require_match(thing, {"size": 5}, what="volume 'pv'")
    assert isinstance(info.value, errors.Conflict)  # CSI maps both to ALREADY_EXISTS


def test_existing_resource_is_returned_without_create() -> None:
    rec = Recorder(existing=[Thing(id="old")])
    assert create_once(find=rec.find, create=rec.create_ok).id == "old"
    assert rec.creates == 0


def test_absent_resource_is_created_once_and_found_on_repeat() -> None:
    rec = Recorder()
    first = create_once(find=rec.find, create=rec.create_ok)
    again = create_once(find=rec.find, create=rec.create_ok)
    assert first.id == again.id == "t1"
    assert rec.creates == 1
    assert len(rec.server) == 1


def test_check_rejects_found_resource() -> None:
    rec = Recorder(existing=[Thing(id="old", size=1)])
    with pytest.raises(errors.AlreadyExists):
        create_once(
            find=rec.find,
            create=rec.create_ok,
            check=lambda t: require_match(t, {"size": 2}, what="thing"),
        )
    assert rec.creates == 0


@pytest.mark.parametrize(
    "exc",
    [
        errors.ServiceUnavailable("reset", not_sent=False),
        errors.RequestTimeout("read timeout"),
        errors.ServerError("boom", status=500),
    ],
    ids=["reset", "read-timeout", "5xx"],
)
def test_lost_answer_that_landed_returns_the_landed_resource(exc: Exception) -> None:
    rec = Recorder()
    got = create_once(find=rec.find, create=rec.create_failing(exc, lands=True))
    assert got.id == "t1"
    assert rec.creates == 1
    assert rec.finds == 2  # before, and once more after the unknown outcome


def test_lost_answer_that_did_not_land_reraises_and_next_call_creates() -> None:
    rec = Recorder()
    exc = errors.ServiceUnavailable("reset", not_sent=False)
    with pytest.raises(errors.ServiceUnavailable):
        create_once(find=rec.find, create=rec.create_failing(exc, lands=False))
    assert rec.server == []
    # The next reconcile (or a restart after a crash) starts from find again.
    assert create_once(find=rec.find, create=rec.create_ok).id == "t2"
    assert len(rec.server) == 1


@pytest.mark.parametrize(
    "exc",
    [
        errors.BadRequest("bad", status=400),
        errors.OverLimit("quota", status=413),
        errors.ServiceUnavailable("refused", not_sent=True),
    ],
    ids=["400", "413", "not-sent"],
)
def test_definite_failures_do_not_look_again(exc: Exception) -> None:
    rec = Recorder()
    with pytest.raises(type(exc)):
        create_once(find=rec.find, create=rec.create_failing(exc, lands=False))
    assert rec.finds == 1


def test_outcome_unknown_classification() -> None:
    assert outcome_unknown(errors.ServiceUnavailable("x"))
    assert outcome_unknown(errors.ServerError("x", status=503))
    assert not outcome_unknown(errors.ServiceUnavailable("x", not_sent=True))
    assert not outcome_unknown(errors.Conflict("x"))
    assert not outcome_unknown(errors.RateLimited("x"))  # refused before acting
