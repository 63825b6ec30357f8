"""``SecretReader`` over Barbican: GET ``/v1/secrets/{id}/payload`` as raw bytes.

One instrumented call per fetch (CPO metric ``openstack_api_request_*`` with request
``secret_payload_get``), through ``OpenStackClient`` for retries and error mapping. We do not
use openstacksdk's ``get_secret``: it decodes the payload as text, which corrupts binary keys.
Request logging is off for this call, so not even keystoneauth's debug log sees the payload.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from osk8s_core.openstack.client import OpenStackClient

if TYPE_CHECKING:
    from openstack.connection import Connection

REQUEST: Final = "secret_payload_get"
_ACCEPT: Final = {"Accept": "application/octet-stream"}


class BarbicanSecretReader:
    def __init__(
        self,
        *,
        client: OpenStackClient[Any],
        connection: Callable[[], Connection],
    ) -> None:
        """``connection`` is called per fetch (the factory re-reads rotated credentials)."""
        self._client = client
        self._connection = connection

    def read_secret_payload(self, secret_id: str) -> bytes:
        path = f"/secrets/{quote(secret_id, safe='')}/payload"

        def fetch() -> bytes:
            proxy = self._connection().key_manager
            response = proxy.get(path, headers=_ACCEPT, raise_exc=True, log=False)
            return bytes(response.content)

        return self._client.call(REQUEST, fetch)
