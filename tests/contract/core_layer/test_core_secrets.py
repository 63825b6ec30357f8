"""Barbican through the core layer: text and binary payload round trips, idempotent
store by name, delete; payloads stay wrapped and out of logs."""

from __future__ import annotations

import os

import pytest

from osk8s_core import errors
from osk8s_core.openstack.secrets import Secrets, secret_id
from osk8s_core.secrets import SecretStr

from .conftest import Cleanup, Core

pytestmark = pytest.mark.contract


def test_text_secret_round_trip(core: Core, cleanup: Cleanup, name: str) -> None:
    secrets = Secrets(core.client)
    value = "osk8s-contract-" + os.urandom(8).hex()
    ref = secrets.store_text(name, SecretStr(value))
    cleanup.add(lambda: secrets.delete(ref))
    assert secrets.store_text(name, SecretStr(value)) == ref
    assert core.requests("secret_create") == 1

    payload = secrets.payload_text(ref)
    assert payload.reveal() == value
    assert value not in repr(payload)
    assert secrets.get(ref).name == name
    found = secrets.find_by_name(name)
    assert found is not None and found.secret_ref == ref

    secrets.delete(ref)
    secrets.delete(ref)
    with pytest.raises(errors.NotFound):
        secrets.payload_text(ref)
    assert value not in repr(core.logger.warnings)


def test_binary_key_round_trip(core: Core, cleanup: Cleanup, name: str) -> None:
    secrets = Secrets(core.client)
    key = os.urandom(32)
    ref = secrets.store_bytes(name, key, algorithm="aes", bit_length=256, mode="cbc")
    cleanup.add(lambda: secrets.delete(ref))
    assert secrets.payload_bytes(ref) == key
    assert secret_id(ref) == secret_id(secret_id(ref))
    assert secrets.get(secret_id(ref)).secret_type == "symmetric"
