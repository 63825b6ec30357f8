"""Barbican secrets: store (idempotent by name), read the payload, find, delete.

Labels ``secret_create``, ``secret_get``, ``secret_list``, ``secret_delete``. Payloads go
in and come out as ``SecretStr`` (text) or bytes the caller must not log; they are never
put in an error message or a log line here. Payloads are read with a plain GET of
``/secrets/{id}/payload`` through the key-manager proxy (the sdk's ``get_secret`` decodes
binary payloads as text, and the catalog URL is unversioned, so only the proxy finds /v1).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, cast

from osk8s_core.openstack.filters import named
from osk8s_core.openstack.idempotency import create_once, single
from osk8s_core.openstack.raw import checked
from osk8s_core.secrets import SecretStr

if TYPE_CHECKING:
    import requests
    from openstack.connection import Connection
    from openstack.key_manager.v1._proxy import Proxy as KeyManagerApi
    from openstack.key_manager.v1.secret import Secret

    from osk8s_core.openstack.client import OpenStackClient


def secret_id(ref: str) -> str:
    """The id of a secret from its href (``https://kms/v1/secrets/<id>``) or the id itself."""
    return ref.rstrip("/").rsplit("/", 1)[-1]


class Secrets:
    """Barbican secrets of the client's project."""

    def __init__(self, client: OpenStackClient[Connection]) -> None:
        self._client = client

    @property
    def _api(self) -> KeyManagerApi:
        return cast("KeyManagerApi", self._client.service("key_manager"))

    def query(self, **filters: Any) -> list[Secret]:
        """Secrets' metadata (never payloads) by Barbican filters (``name``, ``limit``...)."""
        return self._client.call("secret_list", lambda: list(self._api.secrets(**filters)))

    def find_by_name(self, name: str) -> Secret | None:
        return single(named(self.query(name=name), name), what=f"secrets named {name!r}")

    def get(self, ref: str) -> Secret:
        """The secret's metadata; NotFound when it does not exist."""
        return self._client.call("secret_get", self._api.get_secret, secret_id(ref))

    def store_text(
        self, name: str, payload: SecretStr, *, secret_type: str = "opaque", **attrs: Any
    ) -> str:
        """Store a text payload; returns the secret's href. Idempotent by name (see
        ``_store``)."""
        return self._store(
            name,
            payload=payload.reveal(),
            payload_content_type="text/plain",
            secret_type=secret_type,
            **attrs,
        )

    def store_bytes(
        self, name: str, payload: bytes, *, secret_type: str = "symmetric", **attrs: Any
    ) -> str:
        """Store binary key material (``algorithm``, ``bit_length``, ``mode`` in ``attrs``);
        returns the href. Idempotent by name (see ``_store``)."""
        return self._store(
            name,
            payload=base64.b64encode(payload).decode("ascii"),
            payload_content_type="application/octet-stream",
            payload_content_encoding="base64",
            secret_type=secret_type,
            **attrs,
        )

    def _store(self, name: str, **attrs: Any) -> str:
        """Barbican allows many secrets of one name, so the name is our key: a secret of
        that name is returned as is (its payload is not read back and compared), and a lost
        create answer is resolved by looking the name up again. Give unique names."""
        secret = create_once(
            find=lambda: self.find_by_name(name),
            create=lambda: self._client.call(
                "secret_create", self._api.create_secret, idempotent=False, name=name, **attrs
            ),
        )
        return str(secret.secret_ref)

    def _payload(self, ref: str, accept: str) -> requests.Response:
        path = f"/secrets/{secret_id(ref)}/payload"
        return self._client.call(
            "secret_get",
            lambda: checked(self._api.get(path, headers={"Accept": accept})),
        )

    def payload_text(self, ref: str) -> SecretStr:
        """A text payload, wrapped so it prints as ``***``."""
        return SecretStr(self._payload(ref, "text/plain").text)

    def payload_bytes(self, ref: str) -> bytes:
        """A binary payload (key material) as stored."""
        return self._payload(ref, "application/octet-stream").content

    def delete(self, ref: str) -> None:
        """Delete; a secret already gone is success."""
        self._client.call(
            "secret_delete",
            lambda: self._api.delete_secret(secret_id(ref), ignore_missing=True),
        )
