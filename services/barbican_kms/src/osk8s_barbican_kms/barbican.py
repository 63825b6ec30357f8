"""``SecretReader`` over Barbican: GET ``{key-manager endpoint}/v1/secrets/{id}/payload``.

One instrumented call per fetch (CPO metric ``openstack_api_request_*``, request
``secret_payload_get``) through ``OpenStackClient`` for retries and error mapping. It uses a
keystoneauth session directly, not openstacksdk: that one GET does not need the SDK, whose
import costs seconds of start-up and ~20 MiB, and whose ``get_secret`` decodes the payload
as text. Request logging is off here, so no debug log ever sees the payload.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import quote

from osk8s_core.config import AuthOptions
from osk8s_core.openstack.client import OpenStackClient

if TYPE_CHECKING:
    from keystoneauth1.session import Session

REQUEST: Final = "secret_payload_get"
SERVICE_TYPE: Final = "key-manager"
_ACCEPT: Final = {"Accept": "application/octet-stream"}


class SessionSource(Protocol):
    """The credentials factory, as far as the reader needs it."""

    def get(self) -> Any:
        """A keystoneauth ``Session`` for the current credentials."""

    @property
    def auth(self) -> AuthOptions | None: ...


class BarbicanSecretReader:
    def __init__(self, *, client: OpenStackClient[Any], sessions: SessionSource) -> None:
        """``sessions.get()`` is called per fetch, so rotated credentials are picked up."""
        self._client = client
        self._sessions = sessions

    def read_secret_payload(self, secret_id: str) -> bytes:
        # `openstack secret store` prints the secret's href; accept it as well as the UUID.
        uuid = secret_id.rstrip("/").rsplit("/", 1)[-1]

        def fetch() -> bytes:
            session: Session = self._sessions.get()
            url = f"{self._base_url(session)}/secrets/{quote(uuid, safe='')}/payload"
            response = session.get(url, headers=_ACCEPT, raise_exc=True, log=False)
            return bytes(response.content)

        return self._client.call(REQUEST, fetch)

    def _base_url(self, session: Session) -> str:
        auth = self._sessions.auth or AuthOptions()
        endpoint = session.get_endpoint(
            service_type=SERVICE_TYPE, interface=auth.endpoint_type, region_name=auth.region
        )
        if not endpoint:
            from osk8s_core.errors import EndpointNotFound  # noqa: PLC0415 - rare path

            raise EndpointNotFound(f"no {SERVICE_TYPE} endpoint in the catalog", request=REQUEST)
        base = str(endpoint).rstrip("/")
        # Matches CPO (gophercloud NewKeyManagerV1): catalogs list Barbican unversioned.
        return base if base.endswith("/v1") else f"{base}/v1"
