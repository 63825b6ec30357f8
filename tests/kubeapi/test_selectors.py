"""Label and field selectors: parser units and behaviour through list calls."""

from __future__ import annotations

import pytest
from kubernetes import client

from osk8s_testing.kubeapi.errors import ApiError
from osk8s_testing.kubeapi.selectors import Selector, parse_field_selector, parse_label_selector

from .conftest import status_body


def _obj(labels: dict[str, str]) -> dict[str, object]:
    return {"metadata": {"name": "x", "labels": labels}}


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "db"}, False),
        ("app!=web", {}, True),
        ("env in (prod, staging)", {"env": "staging"}, True),
        ("env notin (prod)", {}, True),
        ("env notin (prod)", {"env": "prod"}, False),
        ("tier", {"tier": ""}, True),
        ("!tier", {"tier": "a"}, False),
        ("app=web,env in (a,b),!legacy", {"app": "web", "env": "b"}, True),
    ],
)
def test_label_selector(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert Selector(labels=parse_label_selector(selector)).matches(_obj(labels)) is expected


def test_bad_label_selector_is_400() -> None:
    with pytest.raises(ApiError) as exc:
        parse_label_selector("a in b c")
    assert exc.value.code == 400


def test_unsupported_field_is_400() -> None:
    with pytest.raises(ApiError) as exc:
        parse_field_selector("spec.whatever=1", ("spec.nodeName",))
    assert exc.value.code == 400
    assert exc.value.message == "field label not supported: spec.whatever"


def test_selectors_through_the_client(core: client.CoreV1Api) -> None:
    for name, labels in (("a", {"app": "web"}), ("b", {"app": "db"}), ("c", {})):
        core.create_namespaced_config_map("default", {"metadata": {"name": name, "labels": labels}})
    names = lambda items: [i.metadata.name for i in items]  # noqa: E731
    assert names(core.list_namespaced_config_map("default", label_selector="app").items) == [
        "a",
        "b",
    ]
    assert names(core.list_namespaced_config_map("default", label_selector="app!=web").items) == [
        "b",
        "c",
    ]
    assert names(
        core.list_namespaced_config_map("default", field_selector="metadata.name=c").items
    ) == ["c"]
    assert (
        names(
            core.list_config_map_for_all_namespaces(
                field_selector="metadata.namespace!=default"
            ).items
        )
        == []
    )


def test_type_specific_field_selectors(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "p1"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]},
        },
    )
    core.create_namespaced_pod(
        "default",
        {"metadata": {"name": "p2"}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
    )
    on_n1 = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=n1")
    assert [p.metadata.name for p in on_n1.items] == ["p1"]
    unscheduled = core.list_namespaced_pod("default", field_selector="spec.nodeName=")
    assert [p.metadata.name for p in unscheduled.items] == ["p2"]
    core.create_namespaced_event(
        "default",
        {
            "metadata": {"name": "e1"},
            "involvedObject": {"kind": "Pod", "name": "p1"},
            "reason": "Started",
        },
    )
    events = core.list_namespaced_event(
        "default", field_selector="involvedObject.name=p1,reason=Started"
    )
    assert [e.metadata.name for e in events.items] == ["e1"]
    with pytest.raises(client.ApiException) as exc:
        core.list_namespaced_config_map("default", field_selector="data.k=v")
    assert exc.value.status == 400
    assert status_body(exc.value)["reason"] == "BadRequest"
