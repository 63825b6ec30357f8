"""Auth against the real Keystone through the core: cloud.conf password auth, a wrong
password mapped to Unauthorized without leaking it, and application credentials."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, cast

import pytest

from osk8s_core import errors
from osk8s_core.config.auth import AuthOptions
from osk8s_core.credentials.connection import build_connection
from osk8s_core.credentials.factory import ConnectionFactory
from osk8s_core.credentials.tls import CaFileStore
from osk8s_core.openstack.networking import Networking
from osk8s_core.secrets import SecretStr

from ..conftest import TestCloud
from .conftest import SETTINGS, Cleanup, Core

if TYPE_CHECKING:
    from openstack.identity.v3._proxy import Proxy as IdentityV3

pytestmark = pytest.mark.contract


def test_password_auth_from_cloud_conf(core: Core, testcloud: TestCloud) -> None:
    with ConnectionFactory([testcloud.layout.cloud_conf], settings=SETTINGS) as factory:
        conn = factory.get()
        assert factory.get() is conn  # cached while the file is unchanged
        networks = Networking(core.client_for(conn)).networks()
        assert testcloud.network["network_id"] in {n.id for n in networks}
        assert conn.current_project_id == testcloud.state["identity"]["demo_project_id"]
    assert core.requests("network_list") == 1


def test_wrong_password_is_unauthorized_and_not_leaked(core: Core, core_auth: AuthOptions) -> None:
    wrong = "osk8s-wrong-" + "x" * 12
    auth = dataclasses.replace(core_auth, password=SecretStr(wrong))
    conn = build_connection(auth, settings=SETTINGS, ca_store=CaFileStore())
    try:
        with pytest.raises(errors.Unauthorized) as info:
            Networking(core.client_for(conn)).networks()
    finally:
        conn.close()
    assert wrong not in str(info.value)
    assert wrong not in repr(core.logger.warnings)
    assert core.logger.warnings, "the failed call is logged (without the password)"


def test_application_credential_auth(
    core: Core, core_auth: AuthOptions, testcloud: TestCloud, cleanup: Cleanup, name: str
) -> None:
    identity = cast("IdentityV3", core.conn.identity)
    user_id = core.conn.current_user_id
    assert user_id is not None
    try:
        credential = core.client.call(
            "application_credential_create",
            identity.create_application_credential,
            user_id,
            name,
            idempotent=False,
        )
    except errors.Conflict as exc:
        # Keystone on SQLite runs without foreign keys, so a deleted credential leaves its
        # application_credential_role rows behind and the next one (same internal id) clashes.
        pytest.skip(f"test cloud Keystone cannot store application credentials: {exc}")
    cleanup.add(lambda: identity.delete_application_credential(user_id, credential.id))
    assert credential.secret
    auth = AuthOptions(
        auth_url=core_auth.auth_url,
        application_credential_id=credential.id,
        application_credential_secret=SecretStr(credential.secret),
        region=core_auth.region,
    )
    assert credential.secret not in repr(auth)
    conn = build_connection(auth, settings=SETTINGS, ca_store=CaFileStore())
    try:
        networks = Networking(core.client_for(conn)).networks()
        assert testcloud.network["network_id"] in {n.id for n in networks}
        assert conn.current_project_id == testcloud.state["identity"]["demo_project_id"]
    finally:
        conn.close()
