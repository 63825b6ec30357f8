"""Choose and check the Keystone auth method for an ``AuthOptions``, then build its plugin.

Completeness is checked here, before any call to Keystone, so a missing key gives a
``CredentialsError`` naming the cloud.conf keys to set. Method choice follows gophercloud, as
CPO does: trust-id first, then password, then token, then application credential. It never
logs and never puts a secret value into an error message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

from osk8s_core.config.auth import AuthOptions
from osk8s_core.errors import CredentialsError
from osk8s_core.secrets import SecretStr

if TYPE_CHECKING:
    from keystoneauth1.identity.v3 import Auth as V3Auth


class AuthMethod(StrEnum):
    PASSWORD = "password"
    APPLICATION_CREDENTIAL = "application credential"
    TRUST = "trust"
    TOKEN = "token"


def select_method(auth: AuthOptions) -> AuthMethod:
    """The auth method ``auth`` asks for; raises ``CredentialsError`` if it is incomplete."""
    problems = _common_problems(auth)
    method = _method(auth)
    problems += _METHOD_CHECKS[method](auth)
    if problems:
        raise CredentialsError(f"incomplete {method} credentials: {'; '.join(problems)}")
    return method


def build_auth_plugin(auth: AuthOptions) -> V3Auth:
    """A keystoneauth v3 plugin for ``auth`` (validated first)."""
    from keystoneauth1.identity import v3  # noqa: PLC0415 - lazy: keep imports cheap

    method = select_method(auth)
    url = keystone_v3_url(auth.auth_url or "")
    user_domain_id, user_domain_name = auth.effective_user_domain
    user: dict[str, Any] = {
        "user_id": auth.user_id,
        "username": None if auth.user_id else auth.username,
        "user_domain_id": None if auth.user_id else user_domain_id,
        "user_domain_name": None if auth.user_id or user_domain_id else user_domain_name,
    }
    if method is AuthMethod.TRUST:
        # The trust carries the scope; a project scope next to it is refused by Keystone.
        trustee = auth.trustee_id or auth.user_id
        return v3.Password(
            url,
            **{**user, "user_id": trustee, "username": None if trustee else auth.username},
            password=_reveal(auth.trustee_password or auth.password),
            trust_id=auth.trust_id,
        )
    scope = _project_scope(auth)
    if method is AuthMethod.PASSWORD:
        return v3.Password(url, **user, password=_reveal(auth.password), **scope)
    if method is AuthMethod.TOKEN:
        return v3.Token(url, token=_reveal(auth.token), **scope)
    by_id = bool(auth.application_credential_id)
    return v3.ApplicationCredential(
        url,
        application_credential_secret=_reveal(auth.application_credential_secret),
        application_credential_id=auth.application_credential_id,
        application_credential_name=None if by_id else auth.application_credential_name,
        **({} if by_id else user),
    )


def keystone_v3_url(auth_url: str) -> str:
    """The v3 root: CPO configs often give ``https://host:5000`` or ``.../v3/``."""
    parts = urlsplit(auth_url.strip())
    path = parts.path.rstrip("/")
    if not path.endswith("/v3"):
        path = f"{path}/v3"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _method(auth: AuthOptions) -> AuthMethod:
    if auth.trust_id:
        return AuthMethod.TRUST
    if _set(auth.password):
        return AuthMethod.PASSWORD
    if _set(auth.token):
        return AuthMethod.TOKEN
    if (
        _set(auth.application_credential_secret)
        or auth.application_credential_id
        or auth.application_credential_name
    ):
        return AuthMethod.APPLICATION_CREDENTIAL
    raise CredentialsError(
        "no credentials: set password, application-credential-secret, token or trust-id"
        " in [Global] (or use-clouds with a clouds.yaml entry)"
    )


def _reveal(secret: SecretStr | None) -> str:
    # Only called after select_method() checked the secret is present.
    return "" if secret is None else secret.reveal()


def _set(secret: SecretStr | None) -> bool:
    return secret is not None and bool(secret)


def _common_problems(auth: AuthOptions) -> list[str]:
    problems = []
    if not auth.auth_url:
        problems.append("missing auth-url")
    elif (
        urlsplit(auth.auth_url).scheme not in ("http", "https")
        or not urlsplit(auth.auth_url).netloc
    ):
        problems.append("auth-url is not an http(s) URL")
    if bool(auth.cert_file) != bool(auth.key_file):
        problems.append("cert-file and key-file must be set together")
    if (auth.trustee_id or _set(auth.trustee_password)) and not auth.trust_id:
        problems.append("trustee-id/trustee-password need trust-id")
    return problems


def _user_problems(auth: AuthOptions, *, user_id: str | None) -> list[str]:
    if user_id:
        return []
    if not auth.username:
        return ["missing user-id or username"]
    if not any(auth.effective_user_domain):
        return ["username needs user-domain-id or user-domain-name (or domain-id/-name)"]
    return []


def _scope_problems(auth: AuthOptions) -> list[str]:
    if auth.project_id or not auth.project_name or any(auth.effective_project_domain):
        return []
    return ["tenant-name needs tenant-domain-id or tenant-domain-name (or domain-id/-name)"]


def _password_problems(auth: AuthOptions) -> list[str]:
    return _user_problems(auth, user_id=auth.user_id) + _scope_problems(auth)


def _trust_problems(auth: AuthOptions) -> list[str]:
    problems = _user_problems(auth, user_id=auth.trustee_id or auth.user_id)
    if not (_set(auth.trustee_password) or _set(auth.password)):
        problems.append("missing trustee-password or password")
    return problems


def _token_problems(auth: AuthOptions) -> list[str]:
    return _scope_problems(auth)


def _app_credential_problems(auth: AuthOptions) -> list[str]:
    problems = []
    if not _set(auth.application_credential_secret):
        problems.append("missing application-credential-secret")
    if auth.application_credential_id:
        return problems
    if not auth.application_credential_name:
        return [*problems, "missing application-credential-id or application-credential-name"]
    return problems + _user_problems(auth, user_id=auth.user_id)


_METHOD_CHECKS: Final[Mapping[AuthMethod, Callable[[AuthOptions], list[str]]]] = MappingProxyType(
    {
        AuthMethod.PASSWORD: _password_problems,
        AuthMethod.TRUST: _trust_problems,
        AuthMethod.TOKEN: _token_problems,
        AuthMethod.APPLICATION_CREDENTIAL: _app_credential_problems,
    }
)


def _project_scope(auth: AuthOptions) -> dict[str, Any]:
    if auth.project_id:
        return {"project_id": auth.project_id}
    if not auth.project_name:
        return {}
    domain_id, domain_name = auth.effective_project_domain
    return {
        "project_name": auth.project_name,
        "project_domain_id": domain_id,
        "project_domain_name": None if domain_id else domain_name,
    }
