"""Keystone API use, at the wire of the fake Keystone: v3 discovered from the auth URL's version
document (never ``/v3`` appended), ``nocatalog`` on validation, group lists followed page by
page. The same against the real Keystone is in test_keystone_contract.py."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import requests

from osk8s_keystone_auth.discovery import discovery_urls, v3_from_document
from osk8s_testing.tls import TlsFiles

from .conftest import FakeKeystone, FakeUser
from .test_keystone_webhook import alice, options, start, token_review, url

__all__ = ["alice", "start"]  # fixtures shared with the webhook suite


def review(hook: Any, tls: TlsFiles, token: str = "tok-alice") -> requests.Response:
    return requests.post(url(hook), json=token_review(token), verify=tls.cert, timeout=30)


@pytest.mark.parametrize("suffix", ["", "/", "/v3", "/v3/", "/v2.0"])
def test_keystone_v3_discovered_from_any_auth_url_form(
    start: Any, tls_files: TlsFiles, fake_keystone: FakeKeystone, alice: FakeUser, suffix: str
) -> None:
    root = fake_keystone.url.removesuffix("/v3")
    hook = start(replace(options(tls_files, fake_keystone), keystone_url=root + suffix))
    response = review(hook, tls_files)
    assert response.status_code == 200, response.text
    assert response.json()["status"]["user"]["username"] == "alice"
    validations = [c for c in fake_keystone.calls if c.startswith("/v3/auth/tokens")]
    assert validations == ["/v3/auth/tokens?nocatalog"]
    assert "/v2.0/v3/auth/tokens" not in fake_keystone.calls  # nothing appended to the URL


def test_keystone_v3_where_the_version_document_says(
    start: Any, tls_files: TlsFiles, fake_keystone: FakeKeystone, alice: FakeUser
) -> None:
    """The document's link wins over the URL given (Keystone behind a proxy that moves it)."""
    real = fake_keystone.url.removesuffix("/v3")
    fake_keystone.public_endpoint = real
    given = real.replace("127.0.0.1", "localhost") + "/"
    hook = start(replace(options(tls_files, fake_keystone), keystone_url=given))
    assert review(hook, tls_files).status_code == 200
    assert hook.keystone.prepare() == f"{real}/v3"


def test_keystone_without_v3_denies_and_says_why(
    start: Any, tls_files: TlsFiles, fake_keystone: FakeKeystone, alice: FakeUser
) -> None:
    root = fake_keystone.url.removesuffix("/v3")
    hook = start(replace(options(tls_files, fake_keystone), keystone_url=f"{root}/nothing-here"))
    response = review(hook, tls_files)
    assert response.status_code == 401
    assert response.json()["status"] == {"authenticated": False, "error": "Keystone is unavailable"}
    with pytest.raises(Exception, match="no identity v3 API found"):
        hook.keystone.prepare()


def test_keystone_groups_followed_across_pages(
    start: Any, tls_files: TlsFiles, fake_keystone: FakeKeystone
) -> None:
    names = tuple(f"group-{i}" for i in range(7))
    fake_keystone.tokens["tok-many"] = FakeUser(user_id="u-many", name="many", groups=names)
    fake_keystone.group_page_size = 3
    hook = start(options(tls_files, fake_keystone))
    response = review(hook, tls_files, "tok-many")
    assert response.status_code == 200
    assert response.json()["status"]["user"]["groups"] == [*names, "p-1"]
    pages = [c for c in fake_keystone.calls if "/groups" in c]
    assert pages == [
        "/v3/users/u-many/groups",
        "/v3/users/u-many/groups?marker=3",
        "/v3/users/u-many/groups?marker=6",
    ]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {
                "version": {
                    "id": "v3.14",
                    "status": "stable",
                    "links": [{"rel": "self", "href": "http://k/v3/"}],
                }
            },
            "http://k/v3",
        ),
        (
            {
                "versions": {
                    "values": [
                        {
                            "id": "v2.0",
                            "status": "deprecated",
                            "links": [{"rel": "self", "href": "http://k/v2.0/"}],
                        },
                        {
                            "id": "v3.10",
                            "status": "stable",
                            "links": [{"rel": "self", "href": "http://k/v3/"}],
                        },
                        {
                            "id": "v3.14",
                            "status": "current",
                            "links": [{"rel": "self", "href": "http://k/id/v3/"}],
                        },
                    ]
                }
            },
            "http://k/id/v3",
        ),
        (
            {"versions": [{"id": "v3.0", "links": [{"rel": "self", "href": "/identity/v3"}]}]},
            "http://k:5000/identity/v3",
        ),
        (
            {
                "versions": {
                    "values": [
                        {
                            "id": "v2.0",
                            "status": "stable",
                            "links": [{"rel": "self", "href": "http://k/v2.0/"}],
                        }
                    ]
                }
            },
            None,
        ),
        (
            {
                "version": {
                    "id": "v3.14",
                    "status": "experimental",
                    "links": [{"rel": "self", "href": "http://k/v3/"}],
                }
            },
            None,
        ),
        ({"error": {"code": 404}}, None),
        ([], None),
    ],
)
def test_keystone_version_document_parsing(document: Any, expected: str | None) -> None:
    assert v3_from_document(document, url="http://k:5000/") == expected


def test_keystone_discovery_falls_back_to_the_unversioned_root() -> None:
    assert discovery_urls("https://k:5000") == ["https://k:5000"]
    assert discovery_urls("https://k:5000/v3/") == ["https://k:5000/v3/", "https://k:5000/"]
    assert discovery_urls("https://k/identity/v2.0") == [
        "https://k/identity/v2.0",
        "https://k/identity/",
    ]
