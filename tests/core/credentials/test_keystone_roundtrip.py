"""Real HTTP round trips against a fake Keystone on 127.0.0.1: bodies, catalog, UA, TLS."""

from __future__ import annotations

import os
import stat
from typing import Any

import pytest
from keystoneauth1 import exceptions as ksa_exc

from osk8s_core.config import AuthOptions
from osk8s_core.credentials import CaFileStore, ClientSettings, build_connection
from osk8s_core.secrets import SecretStr

from .certs import Pki
from .fake_keystone import ISSUED_TOKEN, FakeKeystone

SETTINGS = ClientSettings(
    component="openstack-cloud-controller-manager",
    version="1.2.3",
    user_agent_extras=("magnum/9", "site-x"),
    timeout=5.0,
)


def connect(keystone: FakeKeystone, store: CaFileStore | None = None, **kw: Any) -> Any:
    for key in ("password", "token", "application_credential_secret", "trustee_password"):
        if isinstance(kw.get(key), str):
            kw[key] = SecretStr(kw[key])
    auth = AuthOptions(auth_url=keystone.url, **kw)
    return build_connection(auth, settings=SETTINGS, ca_store=store or CaFileStore())


def identity(keystone: FakeKeystone) -> dict[str, Any]:
    (request,) = keystone.auth_requests()
    return request.body["auth"]


def test_password_body_and_token(keystone: FakeKeystone) -> None:
    conn = connect(
        keystone,
        username="bob",
        user_domain_name="Default",
        password="pw-1",
        project_name="proj",
        project_domain_id="default",
    )
    assert conn.session.get_token() == ISSUED_TOKEN
    body = identity(keystone)
    assert body["identity"] == {
        "methods": ["password"],
        "password": {"user": {"name": "bob", "domain": {"name": "Default"}, "password": "pw-1"}},
    }
    assert body["scope"] == {"project": {"name": "proj", "domain": {"id": "default"}}}


def test_application_credential_body(keystone: FakeKeystone) -> None:
    conn = connect(keystone, application_credential_id="ac-1", application_credential_secret="acs")
    conn.session.get_token()
    body = identity(keystone)
    assert body["identity"] == {
        "methods": ["application_credential"],
        "application_credential": {"id": "ac-1", "secret": "acs"},
    }
    assert "scope" not in body  # the credential carries its project


def test_trust_body(keystone: FakeKeystone) -> None:
    conn = connect(keystone, trust_id="tr-1", trustee_id="trustee", trustee_password="tpw")
    conn.session.get_token()
    body = identity(keystone)
    assert body["identity"]["password"]["user"] == {"id": "trustee", "password": "tpw"}
    assert body["scope"] == {"OS-TRUST:trust": {"id": "tr-1"}}


def test_token_body(keystone: FakeKeystone) -> None:
    conn = connect(keystone, token="old-token", project_id="p-1")
    conn.session.get_token()
    body = identity(keystone)
    assert body["identity"] == {"methods": ["token"], "token": {"id": "old-token"}}
    assert body["scope"] == {"project": {"id": "p-1"}}


def test_auth_url_without_version_gets_v3(keystone: FakeKeystone) -> None:
    conn = connect(keystone, user_id="u", password="p")
    conn.session.get_token()
    assert keystone.auth_requests()[0].path == "/v3/auth/tokens"


@pytest.mark.parametrize(
    ("region", "interface"),
    [("RegionOne", "public"), ("RegionTwo", "internal"), ("RegionTwo", "admin")],
)
def test_region_and_interface_select_the_catalog_endpoint(
    keystone: FakeKeystone, region: str, interface: str
) -> None:
    conn = connect(keystone, user_id="u", password="p", region=region, endpoint_type=interface)
    assert (conn.config.get_region_name(), conn.config.get_interface()) == (region, interface)
    endpoint = conn.session.get_endpoint(
        service_type="compute",
        interface=conn.config.get_interface(),
        region_name=conn.config.get_region_name(),
    )
    assert endpoint == keystone.compute_url(region, interface)


def test_user_agent_component_version_and_extras(keystone: FakeKeystone) -> None:
    connect(keystone, user_id="u", password="p").session.get_token()
    agent = keystone.auth_requests()[0].headers["User-Agent"]
    # CPO prepends each --user-agent to the base in turn (gophercloud UserAgent.Prepend).
    assert agent.startswith(
        "site-x magnum/9 openstack-cloud-controller-manager/1.2.3 keystoneauth1/"
    )


def test_keystone_401_is_an_auth_error(keystone: FakeKeystone) -> None:
    keystone.status = 401
    conn = connect(keystone, user_id="u", password="p")
    with pytest.raises(ksa_exc.Unauthorized):
        conn.session.get_token()


def test_tls_with_ca_file(tls_keystone: FakeKeystone, pki: Pki) -> None:
    conn = connect(tls_keystone, user_id="u", password="p", ca_file=str(pki.ca_file))
    assert conn.session.get_token() == ISSUED_TOKEN


def test_tls_with_inline_ca_in_private_file(tls_keystone: FakeKeystone, pki: Pki) -> None:
    store = CaFileStore()
    conn = connect(tls_keystone, store, user_id="u", password="p", ca_data=pki.ca_pem)
    assert conn.session.get_token() == ISSUED_TOKEN
    assert store.directory is not None
    (written,) = list(store.directory.iterdir())
    assert stat.S_IMODE(os.stat(store.directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(written).st_mode) == 0o600
    assert written.read_text() == pki.ca_pem
    assert conn.session.verify == str(written)
    store.close()
    assert not written.exists()


def test_tls_unknown_ca_is_refused(tls_keystone: FakeKeystone) -> None:
    conn = connect(tls_keystone, user_id="u", password="p")
    with pytest.raises(ksa_exc.SSLError):
        conn.session.get_token()
    assert tls_keystone.auth_requests() == []


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")
def test_tls_insecure_skips_verification(tls_keystone: FakeKeystone) -> None:
    conn = connect(tls_keystone, user_id="u", password="p", tls_insecure=True)
    assert conn.session.get_token() == ISSUED_TOKEN


def test_client_certificate_is_presented(pki: Pki) -> None:
    with FakeKeystone(tls=pki.server_context(require_client_cert=True)) as keystone:
        without = connect(keystone, user_id="u", password="p", ca_file=str(pki.ca_file))
        with pytest.raises((ksa_exc.SSLError, ksa_exc.ConnectFailure)):
            without.session.get_token()
        with_cert = connect(
            keystone,
            user_id="u",
            password="p",
            ca_file=str(pki.ca_file),
            cert_file=str(pki.client_cert),
            key_file=str(pki.client_key),
        )
        assert with_cert.session.get_token() == ISSUED_TOKEN
