"""Auth method choice, completeness checks, and the keystoneauth plugins built for each."""

from __future__ import annotations

from typing import Any

import pytest
from keystoneauth1.identity import v3

from osk8s_core.config import AuthOptions
from osk8s_core.credentials import AuthMethod, build_auth_plugin, keystone_v3_url, select_method
from osk8s_core.errors import CredentialsError
from osk8s_core.secrets import SecretStr

URL = "https://keystone.example:5000/v3"


def opts(**kw: Any) -> AuthOptions:
    for key in ("password", "token", "application_credential_secret", "trustee_password"):
        if isinstance(kw.get(key), str):
            kw[key] = SecretStr(kw[key])
    kw.setdefault("auth_url", URL)
    return AuthOptions(**kw)


def method_attrs(plugin: Any) -> dict[str, Any]:
    (method,) = plugin.auth_methods
    return dict(vars(method))


def test_password_with_user_id_and_project_id() -> None:
    plugin = build_auth_plugin(opts(user_id="u1", password="pw", project_id="p1"))
    assert type(plugin) is v3.Password
    assert plugin.auth_url == URL
    assert (plugin.project_id, plugin.project_name, plugin.trust_id) == ("p1", None, None)
    attrs = method_attrs(plugin)
    assert attrs["user_id"] == "u1" and attrs["password"] == "pw"
    assert attrs["username"] is None


def test_password_with_names_and_domains() -> None:
    auth = opts(
        username="bob",
        user_domain_name="UD",
        password="pw",
        project_name="proj",
        project_domain_id="pd-id",
    )
    plugin = build_auth_plugin(auth)
    attrs = method_attrs(plugin)
    assert (attrs["username"], attrs["user_domain_name"]) == ("bob", "UD")
    assert (plugin.project_name, plugin.project_domain_id) == ("proj", "pd-id")
    assert plugin.project_domain_name is None


def test_domain_keys_default_user_and_project_domain() -> None:
    auth = opts(username="bob", password="pw", project_name="proj", domain_name="Shared")
    plugin = build_auth_plugin(auth)
    assert method_attrs(plugin)["user_domain_name"] == "Shared"
    assert plugin.project_domain_name == "Shared"
    assert plugin.domain_name is None  # never a domain-scoped token (as CPO)


def test_application_credential_by_id_ignores_user() -> None:
    auth = opts(application_credential_id="ac", application_credential_secret="s", username="x")
    plugin = build_auth_plugin(auth)
    assert type(plugin) is v3.ApplicationCredential
    attrs = method_attrs(plugin)
    assert (attrs["application_credential_id"], attrs["application_credential_secret"]) == (
        "ac",
        "s",
    )
    assert attrs["username"] is None


def test_application_credential_by_name_needs_user() -> None:
    auth = opts(
        application_credential_name="acn",
        application_credential_secret="s",
        username="bob",
        user_domain_id="default",
    )
    attrs = method_attrs(build_auth_plugin(auth))
    assert attrs["application_credential_name"] == "acn"
    assert (attrs["username"], attrs["user_domain_id"]) == ("bob", "default")
    with pytest.raises(CredentialsError, match="missing user-id or username"):
        select_method(opts(application_credential_name="acn", application_credential_secret="s"))


def test_trust_uses_trustee_and_no_project_scope() -> None:
    auth = opts(
        trust_id="t1",
        trustee_id="trustee",
        trustee_password="tpw",
        user_id="ignored",
        password="ignored-pw",
        project_id="p1",
    )
    plugin = build_auth_plugin(auth)
    assert type(plugin) is v3.Password
    assert plugin.trust_id == "t1"
    assert plugin.project_id is None
    attrs = method_attrs(plugin)
    assert (attrs["user_id"], attrs["password"]) == ("trustee", "tpw")


def test_trust_falls_back_to_user_and_password() -> None:
    attrs = method_attrs(build_auth_plugin(opts(trust_id="t", user_id="u", password="pw")))
    assert (attrs["user_id"], attrs["password"]) == ("u", "pw")


def test_token() -> None:
    plugin = build_auth_plugin(opts(token="tk", project_id="p"))
    assert type(plugin) is v3.Token
    assert method_attrs(plugin)["token"] == "tk"
    assert plugin.project_id == "p"


@pytest.mark.parametrize(
    ("auth", "method"),
    [
        (
            dict(
                trust_id="t",
                user_id="u",
                password="p",
                application_credential_id="a",
                application_credential_secret="s",
            ),
            AuthMethod.TRUST,
        ),
        (
            dict(
                user_id="u",
                password="p",
                token="t",
                application_credential_id="a",
                application_credential_secret="s",
            ),
            AuthMethod.PASSWORD,
        ),
        (
            dict(token="t", application_credential_id="a", application_credential_secret="s"),
            AuthMethod.TOKEN,
        ),
        (
            dict(application_credential_id="a", application_credential_secret="s"),
            AuthMethod.APPLICATION_CREDENTIAL,
        ),
    ],
)
def test_precedence_follows_gophercloud(auth: dict[str, Any], method: AuthMethod) -> None:
    assert select_method(opts(**auth)) is method


@pytest.mark.parametrize(
    ("auth", "fragments"),
    [
        (dict(auth_url=None, user_id="u", password="p"), ["missing auth-url"]),
        (dict(auth_url="keystone:5000", user_id="u", password="p"), ["not an http(s) URL"]),
        (dict(password="p"), ["missing user-id or username"]),
        (dict(username="bob", password="p"), ["user-domain-id or user-domain-name"]),
        (dict(user_id="u", password="p", project_name="x"), ["tenant-domain-id"]),
        (dict(application_credential_id="a"), ["missing application-credential-secret"]),
        (dict(application_credential_secret="s"), ["application-credential-id or"]),
        (dict(trust_id="t", trustee_id="x"), ["missing trustee-password or password"]),
        (dict(trust_id="t", password="p"), ["missing user-id or username"]),
        (
            dict(user_id="u", password="p", trustee_id="x"),
            ["trustee-id/trustee-password need trust-id"],
        ),
        (dict(user_id="u", password="p", cert_file="/c"), ["cert-file and key-file"]),
        (dict(auth_url=None, password="p"), ["missing auth-url", "missing user-id"]),
        ({}, ["no credentials"]),
        (dict(password=""), ["no credentials"]),
    ],
)
def test_incomplete_credentials_name_what_is_missing(
    auth: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(CredentialsError) as info:
        build_auth_plugin(opts(**auth))
    for fragment in fragments:
        assert fragment in str(info.value)


def test_errors_never_show_secret_values() -> None:
    with pytest.raises(CredentialsError) as info:
        select_method(opts(username="bob", password="Sup3r-Secret"))
    assert "Sup3r-Secret" not in str(info.value) and "Sup3r-Secret" not in repr(info.value)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://k:5000", "https://k:5000/v3"),
        ("https://k:5000/", "https://k:5000/v3"),
        ("https://k:5000/v3/", "https://k:5000/v3"),
        ("https://k/identity", "https://k/identity/v3"),
        ("https://k/identity/v3", "https://k/identity/v3"),
    ],
)
def test_keystone_v3_url(given: str, expected: str) -> None:
    assert keystone_v3_url(given) == expected
