"""``Flavors`` over the real openstacksdk stack against a recording Nova stand-in: a flavor is
fetched once and then served from the cache; a list fills the cache; a missing one is
NotFound."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from resource_wire import Recorder, serving, wire_client

from osk8s_core import errors
from osk8s_core.openstack.flavors import Flavors

FLAVORS = "/compute/v2.1/flavors"
SMALL = {"id": "f1", "name": "m1.small", "vcpus": 1, "ram": 512, "disk": 1}
LARGE = {"id": "f2", "name": "m1.large", "vcpus": 4, "ram": 8192, "disk": 40}


@pytest.fixture
def served() -> Iterator[tuple[Recorder, str]]:
    with serving() as pair:
        yield pair


def gets(rec: Recorder, path: str) -> int:
    return sum(1 for s in rec.seen if s.method == "GET" and s.path == path)


def test_get_is_cached(served: tuple[Recorder, str]) -> None:
    rec, url = served
    rec.json("GET", f"{FLAVORS}/f1", {"flavor": SMALL})
    flavors = Flavors(wire_client(url))
    assert flavors.cached("f1") is None
    assert flavors.get("f1").name == "m1.small"
    assert flavors.get("f1").name == "m1.small"
    assert gets(rec, f"{FLAVORS}/f1") == 1
    assert flavors.cached("f1") is not None


def test_list_fills_the_cache(served: tuple[Recorder, str]) -> None:
    rec, url = served
    rec.json("GET", f"{FLAVORS}/detail", {"flavors": [SMALL, LARGE]})
    flavors = Flavors(wire_client(url))
    assert sorted(f.name for f in flavors.list()) == ["m1.large", "m1.small"]
    assert flavors.get("f2").name == "m1.large"
    assert gets(rec, f"{FLAVORS}/f2") == 0


def test_missing_flavor_is_not_found(served: tuple[Recorder, str]) -> None:
    _, url = served
    with pytest.raises(errors.NotFound):
        Flavors(wire_client(url)).get("nope")
