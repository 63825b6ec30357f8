"""Manila clients per credential set: the connection cache and the microversion rules.

``ManilaClients.for_secrets`` turns a request's secrets into a ``Manila`` facade (shares,
share snapshots, raw API) over a connection from the core's ``ConnectionCache``, so repeated
RPCs with the same Secret reuse one authenticated session. The server's microversion range is
checked once per connection against our minimum (2.37, as CPO). No CSI logic here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from osk8s_core.grpc.csi import FailedPrecondition
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.openstack.share_api import ShareApi, VersionRange
from osk8s_core.openstack.share_snapshots import ShareSnapshots
from osk8s_core.openstack.shares import Shares
from osk8s_core.openstack.waiting import Waiter
from osk8s_manila_csi.credentials import auth_from_secrets

if TYPE_CHECKING:
    from openstack.connection import Connection

    from osk8s_core.config.auth import AuthOptions
    from osk8s_core.metrics import ApiMetrics

MIN_MICROVERSION: Final = "2.37"
"""Oldest Manila API we talk to (share metadata on create, user messages)."""
GROUP_MICROVERSION: Final = "2.31"
"""``share_group_id`` on share create and show (older microversions drop it)."""
HINTS_MICROVERSION: Final = "2.65"
"""Scheduler hints (affinity / anti-affinity) on share create."""


@dataclass(frozen=True)
class Manila:
    """What one credential set can do on Manila."""

    shares: Shares
    snapshots: ShareSnapshots
    api: ShareApi
    versions: VersionRange


class ManilaClients:
    """Connections cached per credential set (the core cache), one facade per connection."""

    def __init__(
        self,
        *,
        connect: Callable[[AuthOptions], Connection],
        metrics: ApiMetrics,
        logger: Any,
        waiter: Waiter,
    ) -> None:
        self._connect = connect
        self._metrics = metrics
        self._log = logger
        self._waiter = waiter
        self._facades: dict[int, tuple[Connection, Manila]] = {}
        self._lock = threading.Lock()

    def for_secrets(self, secrets: Mapping[str, str]) -> Manila:
        return self.for_auth(auth_from_secrets(secrets))

    def for_auth(self, auth: AuthOptions) -> Manila:
        connection = self._connect(auth)
        with self._lock:
            cached = self._facades.get(id(connection))
            if cached is not None and cached[0] is connection:
                return cached[1]
        manila = self._build(connection)
        with self._lock:
            if len(self._facades) > 32:  # the connection cache is bounded too; stay small
                self._facades.clear()
            self._facades[id(connection)] = (connection, manila)
        return manila

    def _build(self, connection: Connection) -> Manila:
        client: OpenStackClient[Connection] = OpenStackClient(
            connection, metrics=self._metrics, logger=self._log
        )
        api = ShareApi(client)
        versions = api.version_range()
        if not versions.allows(MIN_MICROVERSION):
            low, high = (".".join(map(str, v)) for v in (versions.minimum, versions.maximum))
            raise FailedPrecondition(
                f"Manila API microversion {MIN_MICROVERSION} is outside the server's range "
                f"{low}-{high}"
            )
        return Manila(
            shares=Shares(client, waiter=self._waiter),
            snapshots=ShareSnapshots(client, waiter=self._waiter),
            api=api,
            versions=versions,
        )
