"""Sync config parsing/validation, namespace names and role mappings (CPO §5.3)."""

from __future__ import annotations

import pytest

from osk8s_keystone_auth.identity import ROLES, UserInfo
from osk8s_keystone_auth.sync_config import (
    RoleMapping,
    SyncConfig,
    SyncConfigError,
    apply_role_mappings,
    parse_sync_config,
)

CPO_EXAMPLE = """
role-mappings:
  - keystone-role: member
    groups: ["members"]
  - keystone-role: admin
    username: cluster-admin
    groups: ["system:masters"]
data-types-to-sync: [projects, role_assignments]
namespace-format: "%n-%i"
projects-blacklist: ["p-bad"]
projects-name-blacklist: ["admin"]
"""


def test_keystone_sync_config_parses_all_keys() -> None:
    config = parse_sync_config(CPO_EXAMPLE)
    assert config.data_types_to_sync == ("projects", "role_assignments")
    assert config.namespace_format == "%n-%i"
    assert config.projects_blacklist == ("p-bad",)
    assert config.projects_name_blacklist == ("admin",)
    assert config.role_mappings[1] == RoleMapping("admin", "cluster-admin", ("system:masters",))


def test_keystone_sync_config_defaults() -> None:
    assert parse_sync_config("") == SyncConfig()
    assert SyncConfig().namespace_format == "%i"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("namespace-format: '%n'", "%i"),
        ("namespace-format: '-%i'", "alphanumeric"),
        ("namespace-format: '%i/x'", "alphanumeric"),
        ("data-types-to-sync: [users]", "unsupported data type 'users'"),
        ("role-mappings: [1]", "role-mappings[0]"),
        ("- a\n- b", "YAML mapping"),
        ("a: [", "not valid YAML"),
    ],
)
def test_keystone_sync_config_invalid(text: str, fragment: str) -> None:
    with pytest.raises(SyncConfigError) as exc:
        parse_sync_config(text, source="sync.yaml")
    assert fragment in str(exc.value)


def test_keystone_namespace_name_format_and_length() -> None:
    config = SyncConfig(namespace_format="%d-%n-%i")
    assert config.namespace_for("p1", "demo", "default") == "default-demo-p1"
    long_name = "x" * 60
    assert config.namespace_for("p1", long_name, "default") == "p1"


def user(roles: tuple[str, ...]) -> UserInfo:
    return UserInfo(username="alice", uid="u1", groups=("p1",), extra={ROLES: roles})


def test_keystone_role_mappings_add_groups_and_rename() -> None:
    config = parse_sync_config(CPO_EXAMPLE)
    mapped = apply_role_mappings(user(("member", "admin")), config)
    assert mapped.username == "cluster-admin"
    assert mapped.groups == ("p1", "members", "system:masters")
    untouched = apply_role_mappings(user(("reader",)), config)
    assert untouched == user(("reader",))
    assert apply_role_mappings(user(("admin",)), None).username == "alice"
