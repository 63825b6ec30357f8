"""Session wiring inspected on the built objects: TLS, timeout, UA, region, interface."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from keystoneauth1.identity import v3
from openstack.connection import Connection

from osk8s_core.config import AuthOptions
from osk8s_core.credentials import CaFileStore, ClientSettings, build_connection
from osk8s_core.errors import CredentialsError
from osk8s_core.secrets import SecretStr

from .certs import Pki

SETTINGS = ClientSettings(component="cinder-csi-plugin", version="0.1.0", timeout=12.5)


def auth(**kw: Any) -> AuthOptions:
    return AuthOptions(auth_url="https://k:5000/v3", user_id="u", password=SecretStr("p"), **kw)


def build(options: AuthOptions, store: CaFileStore | None = None) -> Connection:
    return build_connection(options, settings=SETTINGS, ca_store=store or CaFileStore())


def test_connection_carries_session_plugin_region_interface() -> None:
    conn = build(auth(region="R2", endpoint_type="internal"))
    assert isinstance(conn, Connection)
    assert isinstance(conn.session.auth, v3.Password)
    assert conn.config.get_region_name() == "R2"
    assert conn.config.get_interface() == "internal"
    assert conn.session.verify is True
    assert conn.session.cert is None
    assert conn.session.timeout == 12.5
    assert conn.session.user_agent.startswith("cinder-csi-plugin/0.1.0 keystoneauth1/")


def test_ca_file_and_client_cert(pki: Pki) -> None:
    options = auth(
        ca_file=str(pki.ca_file), cert_file=str(pki.client_cert), key_file=str(pki.client_key)
    )
    conn = build(options)
    assert conn.session.verify == str(pki.ca_file)
    assert conn.session.cert == (str(pki.client_cert), str(pki.client_key))


def test_insecure_wins_over_ca(pki: Pki) -> None:
    assert build(auth(ca_file=str(pki.ca_file), tls_insecure=True)).session.verify is False


def test_inline_ca_wins_over_ca_file_and_is_shared(pki: Pki) -> None:
    store = CaFileStore()
    first = build(auth(ca_data=pki.ca_pem, ca_file=str(pki.ca_file)), store)
    second = build(auth(ca_data=pki.ca_pem, region="other"), store)
    assert first.session.verify == second.session.verify != str(pki.ca_file)
    assert store.directory is not None and len(list(store.directory.iterdir())) == 1
    store.close()


@pytest.mark.parametrize("key", ["ca_file", "cert_file"])
def test_missing_tls_files_fail_before_any_call(tmp_path: Path, pki: Pki, key: str) -> None:
    files = {"ca_file": None, "cert_file": str(pki.client_cert), "key_file": str(pki.client_key)}
    files[key] = str(tmp_path / "absent.pem")
    if key == "ca_file":
        files["cert_file"] = files["key_file"] = None
    with pytest.raises(CredentialsError, match=key.replace("_", "-")):
        build(auth(**files))


def test_incomplete_credentials_fail_before_any_call() -> None:
    with pytest.raises(CredentialsError, match="auth-url"):
        build(AuthOptions(user_id="u", password=SecretStr("p")))
