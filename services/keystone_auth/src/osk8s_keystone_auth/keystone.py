"""Validate a Keystone token: ``GET /v3/auth/tokens`` then the user's groups, as CPO does.

The token is both the caller (``X-Auth-Token``) and the subject (``X-Subject-Token``), so the
webhook needs no service credentials. Calls go through the core's ``OpenStackClient`` (CPO
metric names, error mapping, bounded retries of transient failures only). It never logs or
raises with the token in it, and caches nothing (``token_cache`` does).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from osk8s_core.errors import Osk8sError
from osk8s_core.secrets import SecretStr
from osk8s_keystone_auth.identity import TokenInfo

if TYPE_CHECKING:
    from osk8s_core.openstack.client import OpenStackClient


class TokenRejected(Osk8sError):
    """Keystone answered, and the token is not usable here (invalid, expired, unscoped)."""


class KeystoneTokens:
    """Token validation against one Keystone v3 endpoint."""

    def __init__(self, *, v3_url: str, client: OpenStackClient[Any]) -> None:
        self._v3 = v3_url.rstrip("/")
        self._client = client
        self.calls = 0
        """Keystone HTTP calls made (benchmark and tests: a warm cache makes none)."""

    def validate(self, token: SecretStr) -> TokenInfo:
        """The token's user, project, roles, groups and expiry; ``TokenRejected`` if unusable.

        Raises ``Unauthorized``/``NotFound`` (Keystone refused the token) or
        ``ServiceUnavailable``/``ServerError`` (Keystone could not answer) from the core tree.
        """
        headers = {"X-Auth-Token": token.reveal(), "X-Subject-Token": token.reveal()}
        body = self._get("token_validate", f"{self._v3}/auth/tokens", headers)
        data = body.get("token") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise TokenRejected("Keystone returned no token document")
        user = data.get("user") or {}
        project = data.get("project")
        if not isinstance(project, dict) or not project.get("id"):
            # CPO needs a project: groups, extras and namespaces are all per project.
            raise TokenRejected("token is not project-scoped")
        domain = user.get("domain") or {}
        user_id = str(user.get("id") or "")
        groups_body = self._get(
            "user_groups_list",
            f"{self._v3}/users/{user_id}/groups",
            {"X-Auth-Token": token.reveal()},
        )
        groups = groups_body.get("groups") if isinstance(groups_body, dict) else None
        return TokenInfo(
            user_id=user_id,
            user_name=str(user.get("name") or ""),
            domain_id=str(domain.get("id") or ""),
            domain_name=str(domain.get("name") or ""),
            project_id=str(project["id"]),
            project_name=str(project.get("name") or ""),
            roles=tuple(str(r.get("name")) for r in data.get("roles") or [] if r.get("name")),
            groups=tuple(str(g.get("name")) for g in groups or [] if g.get("name")),
            expires_at=parse_expiry(str(data.get("expires_at") or "")),
        )

    def _get(self, request: str, url: str, headers: dict[str, str]) -> Any:
        self.calls += 1

        def call() -> Any:
            response = self._client.connection.get(
                url, headers=headers, authenticated=False, raise_exc=True
            )
            return response.json()

        return self._client.call(request, call)


def parse_expiry(text: str) -> float:
    """Keystone's ``expires_at`` (ISO 8601, ``Z``) as epoch seconds; 0 when unparseable."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
