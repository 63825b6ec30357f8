"""Policy v1 and v2 semantics, case by case against the anchor (CPO §5.2)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from osk8s_keystone_auth.authorizer import Attributes, authorize
from osk8s_keystone_auth.identity import PROJECT_ID, PROJECT_NAME, ROLES
from osk8s_keystone_auth.permissions import definition_allows
from osk8s_keystone_auth.policy import PolicyError, parse_policies

EXTRA = {ROLES: ("member", "viewer"), PROJECT_ID: ("p-1",), PROJECT_NAME: ("demo",)}


def attrs(**kw: Any) -> Attributes:
    base: dict[str, Any] = {
        "user": "alice",
        "uid": "u-1",
        "groups": ("devs", "p-1"),
        "extra": EXTRA,
        "verb": "get",
        "namespace": "default",
        "resource": "pods",
    }
    base.update(kw)
    return Attributes(**base)


def allowed(policy: list[dict[str, Any]] | dict[str, Any], a: Attributes) -> bool:
    doc = policy if isinstance(policy, list) else [policy]
    return authorize(parse_policies(json.dumps(doc)), a)


def v1(resource: dict[str, Any] | None = None, match: list[Any] | None = None) -> dict[str, Any]:
    spec = {"verbs": ["get"], "resources": ["pods"], "version": "*", "namespace": "default"}
    spec.update(resource or {})
    return {"resource": spec, "match": match if match is not None else []}


ROLE_MEMBER = [{"type": "role", "values": ["member"]}]

V1_CASES = [
    # (description, policy, attributes, expected)
    ("exact resource/verb/namespace", v1(match=ROLE_MEMBER), attrs(), True),
    ("other verb", v1(match=ROLE_MEMBER), attrs(verb="delete"), False),
    ("verb *", v1({"verbs": ["*"]}, ROLE_MEMBER), attrs(verb="delete"), True),
    ("other namespace", v1(match=ROLE_MEMBER), attrs(namespace="kube-system"), False),
    ("namespace *", v1({"namespace": "*"}, ROLE_MEMBER), attrs(namespace="x"), True),
    (
        "namespace * covers cluster scope",
        v1({"namespace": "*"}, ROLE_MEMBER),
        attrs(namespace=""),
        True,
    ),
    ("api group must match", v1({"version": "apps"}, ROLE_MEMBER), attrs(api_group=""), False),
    ("api group exact", v1({"version": "apps"}, ROLE_MEMBER), attrs(api_group="apps"), True),
    ("core group is ''", v1({"version": ""}, ROLE_MEMBER), attrs(api_group=""), True),
    ("resource *", v1({"resources": ["*"]}, ROLE_MEMBER), attrs(resource="secrets"), True),
    ("subresource needs res/sub", v1(match=ROLE_MEMBER), attrs(subresource="log"), False),
    ("res/*", v1({"resources": ["pods/*"]}, ROLE_MEMBER), attrs(subresource="log"), True),
    ("res/sub", v1({"resources": ["pods/log"]}, ROLE_MEMBER), attrs(subresource="log"), True),
    (
        "res/sub other",
        v1({"resources": ["pods/exec"]}, ROLE_MEMBER),
        attrs(subresource="log"),
        False,
    ),
    (
        "res/* alone does not grant the resource",
        v1({"resources": ["pods/*"]}, ROLE_MEMBER),
        attrs(),
        False,
    ),
    ("empty match allows anyone", v1(match=[]), attrs(), True),
    ("role not held", v1(match=[{"type": "role", "values": ["admin"]}]), attrs(), False),
    ("user by name", v1(match=[{"type": "user", "values": ["alice"]}]), attrs(), True),
    ("user by id", v1(match=[{"type": "user", "values": ["u-1"]}]), attrs(), True),
    ("other user", v1(match=[{"type": "user", "values": ["bob"]}]), attrs(), False),
    ("group", v1(match=[{"type": "group", "values": ["devs"]}]), attrs(), True),
    ("project by id", v1(match=[{"type": "project", "values": ["p-1"]}]), attrs(), True),
    ("project by name", v1(match=[{"type": "project", "values": ["demo"]}]), attrs(), True),
    ("other project", v1(match=[{"type": "project", "values": ["prod"]}]), attrs(), False),
    ("value * matches", v1(match=[{"type": "group", "values": ["*"]}]), attrs(groups=()), True),
    (
        "AND of match entries: one fails",
        v1(match=[*ROLE_MEMBER, {"type": "user", "values": ["bob"]}]),
        attrs(),
        False,
    ),
    (
        "AND of match entries: all hold",
        v1(match=[*ROLE_MEMBER, {"type": "project", "values": ["demo"]}]),
        attrs(),
        True,
    ),
    ("unknown match type denies", v1(match=[{"type": "domain", "values": ["*"]}]), attrs(), False),
    (
        "resource policy ignores non-resource requests",
        v1(match=[]),
        attrs(resource_request=False, path="/healthz"),
        False,
    ),
]

NONRES = [{"type": "role", "values": ["member"]}]
V1_NONRESOURCE_CASES = [
    (
        "exact path",
        {"nonresource": {"verbs": ["get"], "path": "/healthz"}, "match": NONRES},
        "/healthz",
        "get",
        True,
    ),
    (
        "other path",
        {"nonresource": {"verbs": ["get"], "path": "/healthz"}, "match": NONRES},
        "/version",
        "get",
        False,
    ),
    (
        "path *",
        {"nonresource": {"verbs": ["get"], "path": "*"}, "match": NONRES},
        "/anything",
        "get",
        True,
    ),
    (
        "prefix *",
        {"nonresource": {"verbs": ["get"], "path": "/logs/*"}, "match": NONRES},
        "/logs/kubelet",
        "get",
        True,
    ),
    (
        "prefix * other",
        {"nonresource": {"verbs": ["get"], "path": "/logs/*"}, "match": NONRES},
        "/metrics",
        "get",
        False,
    ),
    (
        "verb *",
        {"nonresource": {"verbs": ["*"], "path": "/healthz"}, "match": NONRES},
        "/healthz",
        "post",
        True,
    ),
    (
        "other verb",
        {"nonresource": {"verbs": ["get"], "path": "/healthz"}, "match": NONRES},
        "/healthz",
        "post",
        False,
    ),
    (
        "empty verb skips policy",
        {"nonresource": {"verbs": ["", "get"], "path": "/healthz"}, "match": NONRES},
        "/healthz",
        "get",
        False,
    ),
    (
        "missing path skips policy",
        {"nonresource": {"verbs": ["get"]}, "match": NONRES},
        "/healthz",
        "get",
        False,
    ),
]


@pytest.mark.parametrize(
    ("case", "policy", "request_attrs", "expected"), V1_CASES, ids=[c[0] for c in V1_CASES]
)
def test_keystone_policy_v1_resource(
    case: str, policy: dict[str, Any], request_attrs: Attributes, expected: bool
) -> None:
    assert allowed(policy, request_attrs) is expected, case


@pytest.mark.parametrize(
    ("case", "policy", "path", "verb", "expected"),
    V1_NONRESOURCE_CASES,
    ids=[c[0] for c in V1_NONRESOURCE_CASES],
)
def test_keystone_policy_v1_nonresource(
    case: str, policy: dict[str, Any], path: str, verb: str, expected: bool
) -> None:
    assert allowed(policy, attrs(resource_request=False, path=path, verb=verb)) is expected, case


def v2(perms: dict[str, list[str]], users: dict[str, list[str]] | None = None) -> dict[str, Any]:
    policy: dict[str, Any] = {"resource_permissions": perms}
    if users is not None:
        policy["users"] = users
    return policy


V2_CASES = [
    ("ns/res exact", v2({"default/pods": ["get"]}), attrs(), True),
    ("verbs compare lower-cased", v2({"default/pods": ["GET"]}), attrs(), True),
    ("verb *", v2({"default/pods": ["*"]}), attrs(verb="delete"), True),
    ("verb missing", v2({"default/pods": ["list"]}), attrs(), False),
    ("ns *", v2({"*/pods": ["get"]}), attrs(namespace="team"), True),
    ("res *", v2({"default/*": ["get"]}), attrs(resource="secrets"), True),
    ("names lower-cased", v2({"Default/Pods": ["get"]}), attrs(), True),
    ("!ns excludes it", v2({"!kube-system/pods": ["get"]}), attrs(namespace="kube-system"), False),
    ("!ns admits others", v2({"!kube-system/pods": ["get"]}), attrs(), True),
    ("list of ns", v2({"['default','team']/pods": ["get"]}), attrs(namespace="team"), True),
    (
        "list of ns, not listed",
        v2({"['default','team']/pods": ["get"]}),
        attrs(namespace="x"),
        False,
    ),
    ("list with *", v2({"['*']/pods": ["get"]}), attrs(namespace="x"), True),
    (
        "negated list excludes",
        v2({"!['kube-system','kube-public']/pods": ["get"]}),
        attrs(namespace="kube-public"),
        False,
    ),
    ("negated list admits", v2({"!['kube-system','kube-public']/pods": ["get"]}), attrs(), True),
    (
        "negated resource list",
        v2({"default/!['secrets']": ["*"]}),
        attrs(resource="secrets"),
        False,
    ),
    ("malformed list skipped", v2({"['default'/pods": ["get"]}), attrs(), False),
    ("key without / ignored", v2({"pods": ["get"]}), attrs(), False),
    # CPO #1308: a cluster-scoped request is not a member of every namespace.
    (
        "cluster-scoped needs ns *",
        v2({"default/namespaces": ["list"]}),
        attrs(namespace="", resource="namespaces", verb="list"),
        False,
    ),
    (
        "cluster-scoped with ns *",
        v2({"*/namespaces": ["list"]}),
        attrs(namespace="", resource="namespaces", verb="list"),
        True,
    ),
    (
        "cluster-scoped and !ns",
        v2({"!kube-system/namespaces": ["list"]}),
        attrs(namespace="", resource="namespaces", verb="list"),
        False,
    ),
    (
        "users: role and project held",
        v2({"*/*": ["*"]}, {"roles": ["member"], "projects": ["demo"]}),
        attrs(),
        True,
    ),
    (
        "users: project by id",
        v2({"*/*": ["*"]}, {"roles": ["member"], "projects": ["p-1"]}),
        attrs(),
        True,
    ),
    (
        "users: all roles required",
        v2({"*/*": ["*"]}, {"roles": ["member", "admin"], "projects": ["demo"]}),
        attrs(),
        False,
    ),
    (
        "users: other project",
        v2({"*/*": ["*"]}, {"roles": ["member"], "projects": ["prod"]}),
        attrs(),
        False,
    ),
    ("users: no projects admits nobody", v2({"*/*": ["*"]}, {"roles": ["member"]}), attrs(), False),
    (
        "v2 takes precedence over v1 resource",
        {**v2({"default/pods": ["list"]}), **v1(match=[])},
        attrs(),
        False,
    ),
]


@pytest.mark.parametrize(
    ("case", "policy", "request_attrs", "expected"), V2_CASES, ids=[c[0] for c in V2_CASES]
)
def test_keystone_policy_v2_resource(
    case: str, policy: dict[str, Any], request_attrs: Attributes, expected: bool
) -> None:
    assert allowed(policy, request_attrs) is expected, case


def test_keystone_policy_v2_nonresource_exact_path() -> None:
    policy = {"nonresource_permissions": {"/healthz": ["get"], "/version": ["*"]}}
    assert allowed(policy, attrs(resource_request=False, path="/healthz"))
    assert allowed(policy, attrs(resource_request=False, path="/version", verb="post"))
    assert not allowed(policy, attrs(resource_request=False, path="/healthz/ready"))
    assert not allowed(policy, attrs(resource_request=False, path="/healthz", verb="post"))


def test_keystone_policy_any_policy_allows() -> None:
    deny = v2({"kube-system/*": ["*"]})
    allow = v1(match=ROLE_MEMBER)
    assert allowed([deny, allow], attrs())
    assert not allowed([deny], attrs())


def test_keystone_policy_no_policy_or_no_extras_denies() -> None:
    assert authorize((), attrs()) is False
    # CPO #1288: a user without Keystone extras (anonymous, service account) is denied.
    assert allowed(v1(match=[]), attrs(extra={})) is False


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ('{"a": 1}', "must be a JSON list"),
        ("[1]", "policy[0]"),
        ('[{"resource": {"verbs": ["get"], "version": 3}}]', "policy[0].resource.version"),
        ('[{"match": [{"type": 1}]}]', "policy[0].match[0]"),
        ('[{"match": [{"type": "user", "values": "x"}]}]', "policy[0].match[0].values"),
        ('[{"resource_permissions": {"default/pods": "get"}}]', "resource_permissions"),
        ('[{"users": {"roles": "admin"}}]', "policy[0].users.roles"),
    ],
)
def test_keystone_policy_malformed_documents_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(PolicyError) as exc:
        parse_policies(text, source="policy.json")
    assert fragment in str(exc.value)
    assert "policy.json" in str(exc.value)


def test_keystone_policy_go_decodes_field_names_in_any_case() -> None:
    doc = [
        {
            "Resource": {
                "VERBS": ["get"],
                "Resources": ["pods"],
                "Version": "*",
                "NameSpace": "default",
            },
            "MATCH": [{"Type": "role", "Values": ["member"]}],
        },
        {"Nonresource_Permissions": {"/healthz": ["get"]}},
    ]
    assert allowed(doc, attrs())
    assert not allowed(doc, attrs(extra={ROLES: ("viewer",), PROJECT_ID: ("p-1",)}))
    assert allowed(doc, attrs(resource_request=False, path="/healthz"))


@pytest.mark.parametrize(
    "broken",
    [
        {"resource": {"verbs": ["get"], "resources": ["pods"], "namespace": "*"}},  # no version
        {"resource": {"verbs": ["get"], "resources": ["pods"], "version": "*"}},  # no namespace
        {"resource": {"verbs": ["*"], "resources": ["*"], "version": None, "namespace": None}},
        None,  # a null entry
        {
            "resource": {"verbs": ["*"], "resources": ["*"], "version": "*", "namespace": "*"},
            "match": [None],
        },  # a null match entry: no type, denies as an unknown type
        {
            "resource": {"verbs": ["*"], "resources": ["*"], "version": "*", "namespace": "*"},
            "match": [{"values": ["*"]}],
        },
    ],
)
def test_keystone_policy_entries_cpo_accepts_but_crashes_on_allow_nothing(
    broken: dict[str, Any] | None,
) -> None:
    """CPO loads these, then crashes (or denies) on each request; we load them, deny what
    they would decide, and still evaluate the other entries."""
    fine = v1({"resources": ["secrets"]}, ROLE_MEMBER)
    policies = parse_policies(json.dumps([broken, fine]))
    assert len(policies) == 2
    assert authorize(policies, attrs()) is False  # pods: only the broken entry could match
    assert authorize(policies, attrs(resource="secrets")) is True
    assert authorize(policies, attrs(resource_request=False, path="/x")) is False


def test_keystone_policy_cpo_example_files_parse() -> None:
    # The shapes of CPO's documented examples (v1 list with match; v2 with users).
    doc = [
        {
            "resource": {
                "verbs": ["get", "list", "watch"],
                "resources": ["pods"],
                "version": "*",
                "namespace": "default",
            },
            "match": [
                {"type": "role", "values": ["k8s-viewer"]},
                {"type": "project", "values": ["c1f7910086964990847dc6c8b128f63c"]},
            ],
        },
        {
            "nonresource": {"verbs": ["get"], "path": "/version"},
            "match": [{"type": "role", "values": ["*"]}],
        },
        {
            "users": {"roles": ["member"], "projects": ["demo"]},
            "resource_permissions": {"*/pods": ["get", "list"]},
            "nonresource_permissions": {"/healthz": ["get"]},
        },
    ]
    policies = parse_policies(json.dumps(doc))
    assert len(policies) == 3
    assert policies[2].users == {"roles": ("member",), "projects": ("demo",)}


@pytest.mark.parametrize(
    ("definition", "value", "expected"),
    [
        ("*", "", True),
        ("x", "", False),
        ("x", "x", True),
        ("!x", "y", True),
        ("!*", "y", False),
        ("!['*']", "y", False),
    ],
)
def test_keystone_permission_definitions(definition: str, value: str, expected: bool) -> None:
    assert definition_allows(definition, value) is expected
