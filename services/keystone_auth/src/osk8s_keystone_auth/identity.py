"""The Kubernetes user a Keystone token stands for, with CPO's ``extra`` keys.

``UserInfo`` is what a TokenReview answers and what a SubjectAccessReview carries back; the
``extra`` key names are CPO's, so policies and RBAC written for CPO keep working. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

ROLES: Final = "alpha.kubernetes.io/identity/roles"
PROJECT_ID: Final = "alpha.kubernetes.io/identity/project/id"
PROJECT_NAME: Final = "alpha.kubernetes.io/identity/project/name"
DOMAIN_ID: Final = "alpha.kubernetes.io/identity/user/domain/id"
DOMAIN_NAME: Final = "alpha.kubernetes.io/identity/user/domain/name"


@dataclass(frozen=True)
class UserInfo:
    """Kubernetes ``UserInfo``: name, uid, groups and multi-valued extras."""

    username: str
    uid: str
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def first(self, key: str) -> str:
        """The first value of an extra key, or "" when absent."""
        values = self.extra.get(key, ())
        return values[0] if values else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "uid": self.uid,
            "groups": list(self.groups),
            "extra": {key: list(values) for key, values in self.extra.items()},
        }


@dataclass(frozen=True)
class TokenInfo:
    """What Keystone says about a valid project-scoped token."""

    user_id: str
    user_name: str
    domain_id: str
    domain_name: str
    project_id: str
    project_name: str
    roles: tuple[str, ...]
    groups: tuple[str, ...]
    """Names of the Keystone groups the user belongs to."""
    expires_at: float
    """Token expiry, seconds since the epoch (UTC)."""

    def user_info(self) -> UserInfo:
        """The user as CPO reports it: groups are the Keystone groups plus the project id."""
        return UserInfo(
            username=self.user_name,
            uid=self.user_id,
            groups=(*self.groups, self.project_id),
            extra={
                ROLES: self.roles,
                PROJECT_ID: (self.project_id,),
                PROJECT_NAME: (self.project_name,),
                DOMAIN_ID: (self.domain_id,),
                DOMAIN_NAME: (self.domain_name,),
            },
        )
