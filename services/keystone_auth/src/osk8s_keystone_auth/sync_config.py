"""The sync config (CPO's YAML): role mappings, data types to sync, namespace format, blacklists.

``parse_sync_config`` reads the YAML of ``--sync-config-file`` or the ConfigMap key
``syncConfig`` into a frozen ``SyncConfig`` and validates it as CPO does (``%i`` required, a
DNS-ish name, known data types), raising ``SyncConfigError``. ``apply_role_mappings`` rewrites
a TokenReview's user. No Kubernetes calls here (``sync`` does those).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Final

from osk8s_core.errors import ConfigError
from osk8s_keystone_auth.identity import ROLES, UserInfo

PROJECTS: Final = "projects"
ROLE_ASSIGNMENTS: Final = "role_assignments"
DATA_TYPES: Final = (PROJECTS, ROLE_ASSIGNMENTS)
MAX_NAMESPACE: Final = 63
_NAME_RE: Final = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*[a-zA-Z0-9]$")


class SyncConfigError(ConfigError):
    """The sync config is not valid."""


@dataclass(frozen=True)
class RoleMapping:
    """``role-mappings`` entry: a user holding ``keystone_role`` gets these groups/username."""

    keystone_role: str
    username: str = ""
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class SyncConfig:
    data_types_to_sync: tuple[str, ...] = ()
    """``data-types-to-sync``: ``projects`` (namespaces) and/or ``role_assignments``."""
    namespace_format: str = "%i"
    """``namespace-format``: ``%i`` project id (required), ``%n`` name, ``%d`` domain id."""
    projects_blacklist: tuple[str, ...] = ()
    """``projects-blacklist``: project ids never synced."""
    projects_name_blacklist: tuple[str, ...] = ()
    """``projects-name-blacklist``: project names never synced."""
    role_mappings: tuple[RoleMapping, ...] = ()
    """``role-mappings``: applied to every successful TokenReview."""

    def namespace_for(self, project_id: str, project_name: str, domain_id: str) -> str:
        """The namespace of a project; the bare id when the result is over 63 characters."""
        name = (
            self.namespace_format.replace("%i", project_id)
            .replace("%n", project_name)
            .replace("%d", domain_id)
        )
        return project_id if len(name) > MAX_NAMESPACE else name


def parse_sync_config(text: str, *, source: str = "sync config") -> SyncConfig:
    import yaml  # noqa: PLC0415 - only when a sync config is given

    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise SyncConfigError(f"not valid YAML: {exc}", file=source) from exc
    data = data or {}
    if not isinstance(data, dict):
        raise SyncConfigError("the document must be a YAML mapping", file=source)
    config = SyncConfig(
        data_types_to_sync=_strings(data, "data-types-to-sync", source),
        namespace_format=str(data.get("namespace-format") or "%i"),
        projects_blacklist=_strings(data, "projects-blacklist", source),
        projects_name_blacklist=_strings(data, "projects-name-blacklist", source),
        role_mappings=tuple(
            _role_mapping(m, source, i) for i, m in enumerate(data.get("role-mappings") or [])
        ),
    )
    validate(config, source=source)
    return config


def validate(config: SyncConfig, *, source: str) -> None:
    fmt = config.namespace_format
    if "%i" not in fmt:
        raise SyncConfigError(
            "must contain %i (the Keystone project id)", file=source, key="namespace-format"
        )
    probe = fmt.replace("%i", "aa").replace("%n", "aa").replace("%d", "aa")
    if not _NAME_RE.match(probe):
        raise SyncConfigError(
            "namespace names must consist of alphanumerics, '-', '_' or '.', and start and end "
            "with an alphanumeric",
            file=source,
            key="namespace-format",
        )
    for data_type in config.data_types_to_sync:
        if data_type not in DATA_TYPES:
            raise SyncConfigError(
                f"unsupported data type {data_type!r}",
                file=source,
                key="data-types-to-sync",
                expected=", ".join(DATA_TYPES),
            )


def apply_role_mappings(user: UserInfo, config: SyncConfig | None) -> UserInfo:
    """Append mapped groups and replace the username for each role the user holds."""
    if config is None or not config.role_mappings or ROLES not in user.extra:
        return user
    roles = set(user.extra[ROLES])
    groups = list(user.groups)
    username = user.username
    for mapping in config.role_mappings:
        if mapping.keystone_role and mapping.keystone_role in roles:
            groups.extend(mapping.groups)
            if mapping.username:
                username = mapping.username
    return replace(user, username=username, groups=tuple(groups))


def _strings(data: dict[str, Any], key: str, source: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise SyncConfigError("must be a list", file=source, key=key)
    return tuple(str(v) for v in value)


def _role_mapping(value: object, source: str, index: int) -> RoleMapping:
    key = f"role-mappings[{index}]"
    if not isinstance(value, dict):
        raise SyncConfigError("must be a mapping", file=source, key=key)
    groups = value.get("groups") or []
    if not isinstance(groups, list):
        raise SyncConfigError("must be a list", file=source, key=f"{key}.groups")
    return RoleMapping(
        keystone_role=str(value.get("keystone-role") or ""),
        username=str(value.get("username") or ""),
        groups=tuple(str(g) for g in groups),
    )
