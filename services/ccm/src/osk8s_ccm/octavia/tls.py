"""``default-tls-container-ref`` checked in Barbican before any listener uses it (CPO §1.4.4
step 2): with ``container-store=barbican`` the ref must name an existing container or secret
(told apart by the ``containers``/``secrets`` segment of its URL); ``external`` skips the
check. Octavia would refuse a missing ref too, but only after the LB exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from osk8s_core import errors
from osk8s_core.openstack.raw import checked
from osk8s_core.openstack.secrets import secret_id

if TYPE_CHECKING:
    from openstack.connection import Connection
    from openstack.key_manager.v1._proxy import Proxy as KeyManagerApi

    from osk8s_core.openstack.client import OpenStackClient


class InvalidTlsRef(Exception):
    """The ref is malformed or names nothing in Barbican."""


class TlsRefs:
    def __init__(self, client: OpenStackClient[Connection]) -> None:
        self._client = client

    def validate(self, ref: str) -> None:
        api = cast("KeyManagerApi", self._client.service("key_manager"))
        parts = ref.rstrip("/").split("/")
        kind = parts[-2] if len(parts) >= 2 else ""
        ident = secret_id(ref)
        if kind not in ("containers", "secrets"):
            raise InvalidTlsRef(f"TLS ref {ref!r} names neither a Barbican container nor a secret")
        # A plain GET of the metadata: the sdk's get_secret answers a missing secret with an
        # empty resource instead of NotFound.
        label = "container_get" if kind == "containers" else "secret_get"
        try:
            self._client.call(label, lambda: checked(api.get(f"/{kind}/{ident}")))
        except errors.NotFound as exc:
            raise InvalidTlsRef(f"TLS ref {ref!r} does not exist in Barbican") from exc
