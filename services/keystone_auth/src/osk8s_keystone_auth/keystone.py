"""Validate a Keystone token as CPO does, with Keystone's API used the way keystoneauth uses it.

- The identity v3 endpoint is *discovered* from the auth URL's version document (CPO's
  gophercloud ``ChooseVersion``, keystoneauth's discovery), never made by appending ``/v3``:
  ``https://host:5000``, ``.../v3``, ``.../identity`` and a proxy whose v3 lives elsewhere all
  work. Discovered once, on first use; a failed attempt is retried at the next review.
- ``GET /v3/auth/tokens?nocatalog``: the token is both the caller (``X-Auth-Token``) and the
  subject (``X-Subject-Token``), so the webhook needs no service credentials, and the service
  catalog (the largest part of the answer, unused here) is left out.
- The user's groups follow ``links.next`` page by page (gophercloud's ``AllPages``). No
  ``limit`` is sent: Keystone 29 answers 500 to ``/users/{id}/groups?limit=`` whenever the list
  is cut (it cannot build the next link), so we take what Keystone pages by itself.

Calls go through the core's ``OpenStackClient`` (CPO metric names, error mapping, bounded
retries of transient failures only), built on first use so start-up imports no HTTP stack. It
never logs or raises with the token in it, and caches nothing (``token_cache`` does).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from osk8s_core.errors import ConfigError, OpenStackError, Osk8sError
from osk8s_core.secrets import SecretStr
from osk8s_keystone_auth.discovery import discovery_urls, v3_from_document
from osk8s_keystone_auth.identity import TokenInfo

if TYPE_CHECKING:
    from osk8s_core.openstack.client import OpenStackClient

MAX_GROUP_PAGES = 100
"""Pages of groups followed at most (a loop guard; Keystone pages hold hundreds)."""


class TokenRejected(Osk8sError):
    """Keystone answered, and the token is not usable here (invalid, expired, unscoped)."""


class KeystoneTokens:
    """Token validation against the identity v3 endpoint discovered from ``auth_url``."""

    def __init__(
        self, *, auth_url: str, connect: Callable[[], OpenStackClient[Any]], logger: Any
    ) -> None:
        self._auth_url = auth_url
        self._connect = connect
        self._log = logger
        self._lock = threading.Lock()
        self._client: OpenStackClient[Any] | None = None
        self._v3: str | None = None
        self.calls = 0
        """Keystone HTTP calls made (benchmark and tests: a warm cache makes none)."""

    def prepare(self) -> str:
        """Build the HTTP client and discover the v3 endpoint, once; returns the endpoint.

        Raises ``ServiceUnavailable``/``ServerError`` when Keystone cannot answer (the next
        call tries again) and ``ConfigError`` when it answers without an identity v3 API.
        """
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            if self._v3 is None:
                self._v3 = self._discover(self._client)
                self._log.info("keystone identity v3 endpoint discovered", endpoint=self._v3)
            return self._v3

    def _discover(self, client: OpenStackClient[Any]) -> str:
        tried = []
        for url in discovery_urls(self._auth_url):
            try:
                document = self._get(client, "version_discovery", url, {})
            except OpenStackError as exc:
                if exc.status is None or not 400 <= exc.status < 500:
                    raise  # Keystone could not answer: try again later
                tried.append(f"{url} (HTTP {exc.status})")
                continue
            endpoint = v3_from_document(document, url=url)
            if endpoint:
                return endpoint
            tried.append(f"{url} (no stable v3 in the version document)")
        raise ConfigError(
            "no identity v3 API found: " + "; ".join(tried),
            key="keystone-url",
            expected="a Keystone URL whose version document lists v3",
        )

    def validate(self, token: SecretStr) -> TokenInfo:
        """The token's user, project, roles, groups and expiry; ``TokenRejected`` if unusable.

        Raises ``Unauthorized``/``NotFound`` (Keystone refused the token) or
        ``ServiceUnavailable``/``ServerError`` (Keystone could not answer) from the core tree.
        """
        v3 = self.prepare()
        client = self._client
        assert client is not None  # set by prepare()
        headers = {"X-Auth-Token": token.reveal(), "X-Subject-Token": token.reveal()}
        body = self._get(client, "token_validate", f"{v3}/auth/tokens?nocatalog", headers)
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
        groups = self.list_all(f"{v3}/users/{user_id}/groups", "groups", token)
        return TokenInfo(
            user_id=user_id,
            user_name=str(user.get("name") or ""),
            domain_id=str(domain.get("id") or ""),
            domain_name=str(domain.get("name") or ""),
            project_id=str(project["id"]),
            project_name=str(project.get("name") or ""),
            roles=tuple(str(r.get("name")) for r in data.get("roles") or [] if r.get("name")),
            groups=tuple(str(g.get("name")) for g in groups if g.get("name")),
            expires_at=parse_expiry(str(data.get("expires_at") or "")),
        )

    def list_all(self, url: str, key: str, token: SecretStr) -> list[dict[str, Any]]:
        """Every item of a Keystone list (``key``: ``groups``...), page by page along
        ``links.next``, as gophercloud's ``AllPages``."""
        self.prepare()
        client = self._client
        assert client is not None  # set by prepare()
        found: list[dict[str, Any]] = []
        next_url: str | None = url
        seen: set[str] = set()
        while next_url and next_url not in seen and len(seen) < MAX_GROUP_PAGES:
            seen.add(next_url)
            request = f"user_{key}_list" if "/users/" in next_url else f"{key}_list"
            page = self._get(client, request, next_url, {"X-Auth-Token": token.reveal()})
            if not isinstance(page, dict):
                break
            found.extend(item for item in page.get(key) or [] if isinstance(item, dict))
            links = page.get("links")
            href = links.get("next") if isinstance(links, dict) else None
            next_url = urljoin(next_url, href) if isinstance(href, str) and href else None
            if page.get("truncated") and not next_url:
                # Keystone's list_limit cut the list and gave no way on: fewer groups means
                # less access, never more; say so, as the operator should raise the limit.
                self._log.warning("keystone truncated a list", list=key, items=len(found))
        return found

    def _get(
        self, client: OpenStackClient[Any], request: str, url: str, headers: dict[str, str]
    ) -> Any:
        self.calls += 1

        def call() -> Any:
            response = client.connection.get(
                url,
                headers={"Accept": "application/json", **headers},
                authenticated=False,
                raise_exc=True,
            )
            return response.json()

        return client.call(request, call)


def parse_expiry(text: str) -> float:
    """Keystone's ``expires_at`` (ISO 8601, ``Z``) as epoch seconds; 0 when unparseable."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
