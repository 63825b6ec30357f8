"""Which Octavia features CCM may use, from the API version and the provider (CPO §1.4.2).

CPO takes the last entry of Octavia's version list as the API version and caches it for the
life of the process; ``FeatureProbe`` does the same per provider object (one ``version_list``
request, then none). The ovn provider never gets timeouts, flavors, VIP ACLs, availability
zones or HTTP monitors, whatever the version says.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from osk8s_core.openstack.raw import checked

if TYPE_CHECKING:
    from openstack.connection import Connection

    from osk8s_core.openstack.client import OpenStackClient

OVN: Final = "ovn"
Version = tuple[int, int]


def parse_version(text: str) -> Version | None:
    """``v2.27`` / ``2.27`` → (2, 27); anything else → None."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)", text.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def version_from_listing(body: dict[str, Any]) -> Version:
    """The last parseable entry of Octavia's ``GET /`` answer (matches CPO: the last one,
    not the highest nor the CURRENT one); (2, 0) when there is none."""
    versions = [parse_version(str(v.get("id", ""))) for v in body.get("versions", [])]
    known = [v for v in versions if v is not None]
    return known[-1] if known else (2, 0)


@dataclass(frozen=True)
class OctaviaFeatures:
    """What the cloud's Octavia and the configured provider allow."""

    version: Version
    provider: str = "amphora"

    @property
    def is_ovn(self) -> bool:
        return self.provider == OVN

    def _at_least(self, minor: int, *, ovn_allowed: bool) -> bool:
        return self.version >= (2, minor) and (ovn_allowed or not self.is_ovn)

    @property
    def tags(self) -> bool:
        """LB and listener tags (needed for shared LBs)."""
        return self._at_least(5, ovn_allowed=True)

    @property
    def timeouts(self) -> bool:
        return self._at_least(1, ovn_allowed=False)

    @property
    def flavors(self) -> bool:
        return self._at_least(6, ovn_allowed=False)

    @property
    def vip_acl(self) -> bool:
        """Listener ``allowed_cidrs``."""
        return self._at_least(12, ovn_allowed=False)

    @property
    def availability_zones(self) -> bool:
        return self._at_least(14, ovn_allowed=False)

    @property
    def http_monitor_on_udp(self) -> bool:
        return self._at_least(16, ovn_allowed=False)

    @property
    def http_monitors(self) -> bool:
        return not self.is_ovn


class FeatureProbe:
    """Asks Octavia its version once and remembers it (thread-safe)."""

    def __init__(self, client: OpenStackClient[Connection], *, provider: str) -> None:
        self._client = client
        self._provider = provider
        self._lock = threading.Lock()
        self._features: OctaviaFeatures | None = None

    def features(self) -> OctaviaFeatures:
        with self._lock:
            if self._features is None:
                self._features = OctaviaFeatures(self._fetch_version(), self._provider)
            return self._features

    def _fetch_version(self) -> Version:
        api = self._client.service("load_balancer")

        def listing() -> dict[str, Any]:
            # The unversioned root lists the versions; the catalog URL ends in /v2(.0).
            endpoint = str(self._client.connection.load_balancer.get_endpoint())
            root = re.sub(r"/v2(\.0)?/?$", "/", endpoint)
            body: dict[str, Any] = checked(api.get("/", endpoint_override=root)).json()
            return body

        return version_from_listing(self._client.call("version_list", listing))
