"""Nova servers: get, find by name, create, delete, their Neutron ports, volume attach/detach.

Labels as CPO: ``server_get``, ``server_list``, ``server_create``, ``server_delete``,
``port_list``, ``volume_attach``, ``volume_detach``, ``volume_attachment_list``.
Attachments go through Nova's ``os-volume_attachments`` (what CPO's cinder CSI does), never
Cinder's attachments API directly. Thin layer; waits for the Cinder side belong to ``volumes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, cast

from osk8s_core import errors
from osk8s_core.openstack.filters import named, nova_name_regex
from osk8s_core.openstack.idempotency import create_once, single
from osk8s_core.openstack.waiting import Waiter

GONE_STATES: Final = ("DELETED", "SOFT_DELETED")

if TYPE_CHECKING:
    from openstack.compute.v2._proxy import Proxy as ComputeApi
    from openstack.compute.v2.server import Server
    from openstack.compute.v2.volume_attachment import VolumeAttachment
    from openstack.connection import Connection
    from openstack.network.v2._proxy import Proxy as NetworkApi
    from openstack.network.v2.port import Port

    from osk8s_core.openstack.client import OpenStackClient


class Servers:
    """Nova servers of the client's project."""

    def __init__(
        self, client: OpenStackClient[Connection], *, waiter: Waiter | None = None
    ) -> None:
        self._client = client
        self._waiter = waiter if waiter is not None else Waiter()

    @property
    def _compute(self) -> ComputeApi:
        # Deferred: the proxy (auth, discovery) is resolved inside the call layer.
        return cast("ComputeApi", self._client.service("compute"))

    def get(self, server_id: str) -> Server:
        """The server; NotFound when it does not exist."""
        return self._client.call("server_get", self._compute.get_server, server_id)

    def query(self, **filters: Any) -> list[Server]:
        """Servers (with details) matching Nova's list filters."""
        compute = self._compute
        return self._client.call("server_list", lambda: list(compute.servers(**filters)))

    def find_by_name(self, name: str) -> Server | None:
        """The live server named exactly ``name`` (Nova's filter is a regex, so it is anchored
        and escaped, then checked again); AmbiguousMatch when several carry the name. A server
        already ``DELETED``/``SOFT_DELETED`` (still listed for a while) is ignored, so a new
        server of the same name is booted, never the gone one adopted."""
        found = [
            server
            for server in named(self.query(name=nova_name_regex(name)), name)
            if str(server.status).upper() not in GONE_STATES
        ]
        return single(found, what=f"servers named {name!r}")

    def create(self, name: str, **attrs: Any) -> Server:
        """Boot a server named ``name`` (``flavor_id``, ``image_id``, ``networks``,
        ``block_device_mapping``... in ``attrs``) unless one of that exact name exists, which
        is returned as is (CAPO's adoption by name); a lost create answer is looked up again,
        so a retry never boots a second server."""
        return create_once(
            find=lambda: self.find_by_name(name),
            create=lambda: self._client.call(
                "server_create", self._compute.create_server, idempotent=False, name=name, **attrs
            ),
        )

    def delete(self, server_id: str) -> None:
        """Delete; a server already gone is success (Nova deletes asynchronously)."""
        compute = self._compute
        self._client.call(
            "server_delete", lambda: compute.delete_server(server_id, ignore_missing=True)
        )

    def wait_gone(self, server_id: str) -> None:
        """Poll until the server is gone, ``DELETED`` or ``SOFT_DELETED`` (CAPO #2618)."""

        def fetch() -> object:
            server = self.get(server_id)
            if str(server.status).upper() in GONE_STATES:
                raise errors.NotFound(f"server {server_id} is {server.status}")
            return server

        self._waiter.until_gone(fetch, describe=f"server {server_id} deletion", failure=())

    def wait_active(self, server_id: str) -> Server:
        return self._waiter.until(
            lambda: self.get(server_id), target="ACTIVE", describe=f"server {server_id}"
        )

    def ports(self, server_id: str, **filters: Any) -> list[Port]:
        """The Neutron ports bound to the server (``device_id``), e.g. for node addresses."""
        network = cast("NetworkApi", self._client.service("network"))
        return self._client.call(
            "port_list", lambda: list(network.ports(device_id=server_id, **filters))
        )

    def volume_attachments(self, server_id: str) -> list[VolumeAttachment]:
        compute = self._compute
        return self._client.call(
            "volume_attachment_list", lambda: list(compute.volume_attachments(server_id))
        )

    def attachment_of(self, server_id: str, volume_id: str) -> VolumeAttachment | None:
        """The attachment of ``volume_id`` to the server, if there is one."""
        found = [a for a in self.volume_attachments(server_id) if a.volume_id == volume_id]
        return single(found, what=f"attachments of volume {volume_id}")

    def attach_volume(self, server_id: str, volume_id: str) -> VolumeAttachment:
        """Attach through Nova; an existing attachment to this server is returned as is.

        Idempotent: the attachments are listed first, and when the attach answer is lost
        (or Nova says 409, a concurrent attach of the same volume) they are listed again.
        The device path Nova reports is a hint only (CPO reads the real one on the node).
        """
        existing = self.attachment_of(server_id, volume_id)
        if existing is not None:
            return existing
        compute = self._compute
        try:
            return self._client.call(
                "volume_attach",
                compute.create_volume_attachment,
                server_id,
                volume_id,
                idempotent=False,
            )
        except (errors.ServiceUnavailable, errors.ServerError, errors.Conflict):
            landed = self.attachment_of(server_id, volume_id)
            if landed is None:
                raise
            return landed

    def detach_volume(self, server_id: str, volume_id: str) -> None:
        """Detach through Nova; a volume not attached (any more), or a server that is gone,
        is success (matches CPO's ControllerUnpublish). Nova detaches asynchronously: wait
        on the volume's status for ``available``."""
        # A typed server, because given two plain ids openstacksdk first looks the server up
        # and swaps the arguments when it is not found (a shim for its 1.0 order change).
        from openstack.compute.v2.server import Server  # noqa: PLC0415 - sdk is loaded

        compute = self._compute
        try:
            self._client.call(
                "volume_detach",
                compute.delete_volume_attachment,
                Server.new(id=server_id),
                volume_id,
                ignore_missing=True,
            )
        except errors.NotFound:
            return
        except errors.BadRequest:
            # Nova removes its attachment record a moment after Cinder shows the volume
            # detached; a repeated detach in that window is refused with 400 ("status must be
            # in-use"). Cinder is the truth: not attached to this server means done.
            if self._cinder_attached(server_id, volume_id):
                raise

    def _cinder_attached(self, server_id: str, volume_id: str) -> bool:
        block_storage = self._client.service("block_storage")
        try:
            volume = self._client.call("volume_get", block_storage.get_volume, volume_id)
        except errors.NotFound:
            return False
        attachments = getattr(volume, "attachments", None) or []
        return any(a.get("server_id") == server_id for a in attachments)
