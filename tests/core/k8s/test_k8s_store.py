"""Local cache: keys, namespace and custom indexes, and the diff a re-list produces."""

from __future__ import annotations

import pytest

from osk8s_core.k8s.store import NAMESPACE_INDEX, Store, object_key, split_key


def obj(name, ns="", rv="1", labels=None):
    meta = {"name": name, "resourceVersion": rv, "labels": labels or {}}
    if ns:
        meta["namespace"] = ns
    return {"metadata": meta}


def test_keys_follow_client_go():
    assert object_key(obj("a", "ns")) == "ns/a"
    assert object_key(obj("node-1")) == "node-1"
    assert split_key("ns/a") == ("ns", "a")
    assert split_key("node-1") == ("", "node-1")


def test_upsert_get_delete_and_namespace_index():
    store = Store()
    assert store.upsert(obj("a", "x")) is None
    store.upsert(obj("b", "x"))
    store.upsert(obj("c", "y"))
    old = store.upsert(obj("a", "x", rv="2"))
    assert old is not None and old["metadata"]["resourceVersion"] == "1"
    assert store.get("x/a")["metadata"]["resourceVersion"] == "2"
    assert [o["metadata"]["name"] for o in store.by_index(NAMESPACE_INDEX, "x")] == ["a", "b"]
    store.delete("x/a")
    assert store.get("x/a") is None
    assert [o["metadata"]["name"] for o in store.by_index(NAMESPACE_INDEX, "x")] == ["b"]
    assert store.delete("x/a") is None


def test_custom_index_follows_updates():
    store = Store(indexers={"app": lambda o: [o["metadata"]["labels"].get("app", "")]})
    store.upsert(obj("a", "ns", labels={"app": "web"}))
    assert len(store.by_index("app", "web")) == 1
    store.upsert(obj("a", "ns", rv="2", labels={"app": "db"}))
    assert store.by_index("app", "web") == []
    assert len(store.by_index("app", "db")) == 1
    with pytest.raises(KeyError):
        store.by_index("nope", "x")


def test_replace_reports_added_changed_and_deleted():
    store = Store()
    store.upsert(obj("keep", "ns"))
    store.upsert(obj("change", "ns"))
    store.upsert(obj("gone", "ns"))
    added, updated, deleted = store.replace(
        [obj("keep", "ns"), obj("change", "ns", rv="5"), obj("new", "ns")]
    )
    assert [object_key(o) for o in added] == ["ns/new"]
    assert [(object_key(o), object_key(n)) for o, n in updated] == [("ns/change", "ns/change")]
    assert updated[0][1]["metadata"]["resourceVersion"] == "5"
    assert [object_key(o) for o in deleted] == ["ns/gone"]
    assert sorted(store.keys()) == ["ns/change", "ns/keep", "ns/new"]
