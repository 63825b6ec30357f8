"""The pure parts: which Ingresses are ours, pathType → L7 rules and their order, pools and
members from Services and Nodes, annotations, names."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from osk8s_core.openstack.lb_l7 import L7RuleSpec
from osk8s_octavia_ingress import ingress_settings, naming
from osk8s_octavia_ingress.desired import IngressError, build_tree, path_rule
from osk8s_octavia_ingress.selection import CONTROLLER_NAME, is_ours


def node(name: str, ip: str, **extra: Any) -> dict[str, Any]:
    ready = extra.pop("ready", True)
    return {
        "metadata": {"name": name, "labels": extra.pop("labels", {})},
        "spec": extra,
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


SERVICES: dict[str, dict[str, Any]] = {
    "web": {"spec": {"ports": [{"name": "http", "port": 80, "nodePort": 30080}]}},
    "api": {"spec": {"ports": [{"name": "grpc", "port": 9000, "nodePort": 30090}]}},
    # A ClusterIP Service has no nodePort: CPO's "failed to find nodeport" as well.
    "internal": {"spec": {"type": "ClusterIP", "ports": [{"name": "http", "port": 80}]}},
}
NODES = [
    node("a", "10.0.0.1"),
    node("b", "10.0.0.2", unschedulable=True),
    node("c", "10.0.0.3", ready=False),
    node("d", "10.0.0.4", labels={"node.kubernetes.io/exclude-from-external-load-balancers": ""}),
    node("e", "10.0.0.5", labels={"node-role.kubernetes.io/master": ""}),
    node("f", "10.0.0.6"),
]


def ingress(
    paths: list[dict[str, Any]], host: str = "h.example.com", **spec: Any
) -> dict[str, Any]:
    return {
        "metadata": {"name": "i", "namespace": "ns"},
        "spec": {"rules": [{"host": host, "http": {"paths": paths}}], **spec},
    }


def web(path: str, path_type: str) -> dict[str, Any]:
    return {
        "path": path,
        "pathType": path_type,
        "backend": {"service": {"name": "web", "port": {"number": 80}}},
    }


@pytest.mark.parametrize(
    ("path", "path_type", "matches", "misses"),
    [
        ("/foo", "Prefix", ["/foo", "/foo/", "/foo/bar"], ["/foobar", "/fo", "/"]),
        ("/foo/", "Prefix", ["/foo", "/foo/bar"], ["/foobar"]),
        ("/a.b", "Prefix", ["/a.b/c"], ["/aXb"]),
        ("/foo", "Exact", ["/foo"], ["/foo/", "/foo/bar"]),
    ],
)
def test_path_types_follow_kubernetes_matching(
    path: str, path_type: str, matches: list[str], misses: list[str]
) -> None:
    rule = path_rule(path, path_type)
    assert rule is not None

    def hit(request: str) -> bool:
        if rule.compare_type == "EQUAL_TO":
            return request == rule.value
        return re.fullmatch(rule.value, request) is not None

    assert all(hit(p) for p in matches) and not any(hit(p) for p in misses)


def test_implementation_specific_is_upstreams_string_prefix() -> None:
    assert path_rule("/foo", "ImplementationSpecific") == L7RuleSpec("PATH", "STARTS_WITH", "/foo")
    assert path_rule("/", "Prefix") is None  # everything: no PATH rule needed


def test_policies_ordered_by_kubernetes_precedence() -> None:
    tree = build_tree(
        {
            "metadata": {"name": "i", "namespace": "ns"},
            "spec": {
                "rules": [
                    {"http": {"paths": [web("/x", "Prefix")]}},
                    {"host": "*.example.com", "http": {"paths": [web("/", "Prefix")]}},
                    {
                        "host": "h.example.com",
                        "http": {
                            "paths": [
                                web("/a", "Prefix"),
                                web("/a/b", "Prefix"),
                                web("/a", "Exact"),
                            ]
                        },
                    },
                ]
            },
        },
        resource="r",
        services=SERVICES,
        nodes=NODES,
        listener_port=80,
    )
    values = [[r.value for r in p.rules] for p in tree.policies]
    assert values == [
        [r"^h\.example\.com(:80)?$", "/a"],
        [r"^h\.example\.com(:80)?$", r"^/a/b(/.*)?$"],
        [r"^h\.example\.com(:80)?$", r"^/a(/.*)?$"],
        [r"^[^.]+\.example\.com(:80)?$"],
        [r"^/x(/.*)?$"],
    ]
    assert tree.policies[0].rules[1].compare_type == "EQUAL_TO"


def test_pools_and_members_by_port_number_and_name() -> None:
    tree = build_tree(
        ingress(
            [
                {
                    "path": "/g",
                    "pathType": "Prefix",
                    "backend": {"service": {"name": "api", "port": {"name": "grpc"}}},
                }
            ],
            defaultBackend={"service": {"name": "web", "port": {"number": 80}}},
        ),
        resource="r",
        services=SERVICES,
        nodes=NODES,
        listener_port=443,
    )
    by_name = {p.name: p for p in tree.pools}
    web_pool = by_name[hashlib.sha256(b"web+80").hexdigest()]
    api_pool = by_name[hashlib.sha256(b"api+grpc").hexdigest()]
    assert tree.default_pool == web_pool.name
    assert [(m.name, m.address, m.port) for m in web_pool.members] == [
        ("a", "10.0.0.1", 30080),
        ("f", "10.0.0.6", 30080),
    ]
    assert {m.port for m in api_pool.members} == {30090}
    assert tree.node_ports == (30080, 30090)
    assert tree.policies[0].rules[0].value == r"^h\.example\.com(:443)?$"


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        (
            {"service": {"name": "missing", "port": {"number": 80}}},
            'service "ns/missing" not found',
        ),
        ({"service": {"name": "web", "port": {"number": 81}}}, "failed to find nodeport"),
        ({"service": {"name": "web", "port": {"name": "nope"}}}, "failed to find nodeport"),
        (
            {"service": {"name": "internal", "port": {"number": 80}}},
            "failed to find nodeport for service ns/internal",
        ),
        (
            {"service": {"name": "internal", "port": {"name": "http"}}},
            "failed to find nodeport for service ns/internal",
        ),
    ],
)
def test_bad_backends_are_clear_errors(backend: dict[str, Any], message: str) -> None:
    with pytest.raises(IngressError, match=message):
        build_tree(
            ingress([{"path": "/", "pathType": "Prefix", "backend": backend}]),
            resource="r",
            services=SERVICES,
            nodes=NODES,
            listener_port=80,
        )


def test_no_eligible_node_is_an_error() -> None:
    with pytest.raises(IngressError, match="no available nodes"):
        build_tree(
            ingress([web("/", "Prefix")]),
            resource="r",
            services=SERVICES,
            nodes=[NODES[2]],
            listener_port=80,
        )


def classes(*items: tuple[str, str, bool]) -> list[dict[str, Any]]:
    out = []
    for name, controller, default in items:
        annotations = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else {}
        out.append(
            {
                "metadata": {"name": name, "annotations": annotations},
                "spec": {"controller": controller},
            }
        )
    return out


def obj(annotation: str | None = None, class_name: str | None = None) -> dict[str, Any]:
    annotations = {} if annotation is None else {"kubernetes.io/ingress.class": annotation}
    spec = {} if class_name is None else {"ingressClassName": class_name}
    return {"metadata": {"annotations": annotations}, "spec": spec}


def test_selection_by_annotation_class_name_and_default_class() -> None:
    ours = classes(("octavia", CONTROLLER_NAME, False), ("nginx", "k8s.io/ingress-nginx", False))
    assert is_ours(obj("openstack"), [])
    assert not is_ours(obj("nginx"), ours)
    assert not is_ours(obj("nginx", "octavia"), ours)  # the annotation wins
    assert is_ours(obj(None, "octavia"), ours)
    assert not is_ours(obj(None, "nginx"), ours)
    assert not is_ours(obj(None, "absent"), ours)
    assert not is_ours(obj(), ours)  # no default class: not ours (CPO: not ours either)
    default_ours = classes(("octavia", CONTROLLER_NAME, True))
    assert is_ours(obj(), default_ours)
    assert not is_ours(obj(), classes(("nginx", "k8s.io/ingress-nginx", True)))


def test_annotations_defaults_and_values() -> None:
    default = ingress_settings.parse({"metadata": {}})
    assert default.internal and not default.keep_floating_ip and default.floating_ip == ""
    assert default.allowed_cidrs == ("0.0.0.0/0",) and default.timeouts == ()
    p = ingress_settings.PREFIX
    parsed = ingress_settings.parse(
        {
            "metadata": {
                "annotations": {
                    p + "internal": "false",
                    p + "floatingip": "172.24.4.9",
                    p + "keep-floatingip": "true",
                    p + "whitelist-source-range": "10.0.0.0/8, 192.168.0.0/16",
                    p + "timeout-client-data": "60000",
                    p + "timeout-member-connect": "soon",
                }
            }
        }
    )
    assert not parsed.internal and parsed.keep_floating_ip and parsed.floating_ip == "172.24.4.9"
    assert parsed.allowed_cidrs == ("10.0.0.0/8", "192.168.0.0/16")
    assert parsed.timeouts == (("timeout_client_data", 60000),)  # unparsable: ignored, as CPO
    with pytest.raises(IngressError, match="internal"):
        ingress_settings.parse({"metadata": {"annotations": {p + "internal": "nope"}}})


def test_names_match_upstream() -> None:
    assert naming.resource_name("c", "ns", "i") == "kube_ingress_c_ns_i"
    assert naming.secret_name("c", "ns", "i", "tls") == "kube_ingress_c_ns_i_tls"
    assert naming.processed_version(naming.processed_description("c", "ns", "i", "123")) == "123"
    assert naming.processed_version(naming.lb_description("c", "ns", "i")) is None
    assert naming.pool_name("web", "80") == hashlib.sha256(b"web+80").hexdigest()
