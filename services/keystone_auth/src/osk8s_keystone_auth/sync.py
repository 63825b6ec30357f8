"""Keystone → Kubernetes data sync after a successful authentication (CPO's Syncer).

``projects``: the project's namespace (``namespace-format``) is created if missing.
``role_assignments``: in that namespace, one RoleBinding ``<userID>_<role>`` per Keystone role
(subject User <username>, roleRef ClusterRole <role>), and the user's stale ``<userID>_*``
bindings are deleted. Blacklisted projects are skipped. Kubernetes access goes through the
narrow ``RbacApi``; this module never decides authentication.
"""

from __future__ import annotations

from typing import Any, Protocol

from osk8s_core.errors import KubernetesConflict, KubernetesNotFound
from osk8s_keystone_auth.identity import DOMAIN_ID, PROJECT_ID, PROJECT_NAME, ROLES, UserInfo
from osk8s_keystone_auth.sync_config import PROJECTS, ROLE_ASSIGNMENTS, SyncConfig


class RbacApi(Protocol):
    """The Kubernetes calls the syncer makes; raise ``osk8s_core.errors.Kubernetes*``."""

    def namespace_exists(self, name: str) -> bool: ...

    def create_namespace(self, name: str) -> None: ...

    def role_binding_names(self, namespace: str) -> list[str]: ...

    def create_role_binding(self, namespace: str, name: str, *, user: str, role: str) -> None: ...

    def delete_role_binding(self, namespace: str, name: str) -> None: ...


class Syncer:
    def __init__(self, *, api: RbacApi, logger: Any) -> None:
        self._api = api
        self._log = logger

    def sync(self, user: UserInfo, config: SyncConfig | None) -> str | None:
        """Sync for ``user`` (after role mappings); returns the namespace, or None if skipped."""
        if config is None or not config.data_types_to_sync:
            return None
        project_id = user.first(PROJECT_ID)
        project_name = user.first(PROJECT_NAME)
        if not project_id:
            return None
        if (
            project_id in config.projects_blacklist
            or project_name in config.projects_name_blacklist
        ):
            self._log.info("project blacklisted; not synced", project_id=project_id)
            return None
        namespace = config.namespace_for(project_id, project_name, user.first(DOMAIN_ID))
        # Projects first, then role assignments (the bindings need the namespace).
        if PROJECTS in config.data_types_to_sync:
            self._ensure_namespace(namespace)
        if ROLE_ASSIGNMENTS in config.data_types_to_sync:
            self._sync_role_bindings(user, namespace)
        return namespace

    def _ensure_namespace(self, namespace: str) -> None:
        if self._api.namespace_exists(namespace):
            return
        try:
            self._api.create_namespace(namespace)
            self._log.info("namespace created for project", namespace=namespace)
        except KubernetesConflict:
            pass  # created concurrently by another review: the goal is met

    def _sync_role_bindings(self, user: UserInfo, namespace: str) -> None:
        existing = set(self._api.role_binding_names(namespace))
        wanted = {f"{user.uid}_{role}": role for role in user.extra.get(ROLES, ())}
        for name in sorted(existing):
            owner, sep, _role = name.partition("_")
            # Bindings without "_" or of another user were made by an admin: left alone.
            if sep and owner == user.uid and name not in wanted:
                try:
                    self._api.delete_role_binding(namespace, name)
                    self._log.info("stale role binding deleted", namespace=namespace, name=name)
                except KubernetesNotFound:
                    pass
        for name, role in sorted(wanted.items()):
            if name in existing:
                continue
            try:
                self._api.create_role_binding(namespace, name, user=user.username, role=role)
                self._log.info("role binding created", namespace=namespace, name=name)
            except KubernetesConflict:
                pass
