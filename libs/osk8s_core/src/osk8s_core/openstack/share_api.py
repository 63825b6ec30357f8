"""Manila API facts beyond the resource modules: the server's microversion range, user
messages of a resource, and a share create with scheduler hints (a 2.65 body the SDK lacks).

Labels ``share_versions_get``, ``share_messages_list``, ``share_create``. Raw requests name
their microversion in ``X-OpenStack-Manila-API-Version``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

from osk8s_core.openstack.raw import checked

if TYPE_CHECKING:
    from openstack.connection import Connection
    from openstack.shared_file_system.v2._proxy import Proxy as SharesApi

    from osk8s_core.openstack.client import OpenStackClient

VERSION_HEADER: Final = "X-OpenStack-Manila-API-Version"


def parse_version(text: str) -> tuple[int, int]:
    """``"2.37"`` -> ``(2, 37)``; ValueError on anything else."""
    major, _, minor = text.strip().partition(".")
    return int(major), int(minor or 0)


@dataclass(frozen=True)
class VersionRange:
    """The microversions the server accepts (``min_version``..``version`` of its v2 doc)."""

    minimum: tuple[int, int]
    maximum: tuple[int, int]

    def allows(self, version: str) -> bool:
        return self.minimum <= parse_version(version) <= self.maximum


@dataclass(frozen=True)
class UserMessage:
    """One Manila user message: why an asynchronous action failed."""

    detail_id: str
    action_id: str
    text: str


class ShareApi:
    """Raw Manila calls through the client's call layer."""

    def __init__(self, client: OpenStackClient[Connection]) -> None:
        self._client = client

    @property
    def _api(self) -> SharesApi:
        return cast("SharesApi", self._client.service("shared_file_system"))

    def version_range(self) -> VersionRange:
        """From keystoneauth's discovery of the endpoint (cached by the session)."""

        def discover() -> VersionRange:
            data = self._api.get_endpoint_data()
            if data is None:
                return VersionRange(minimum=(2, 0), maximum=(2, 0))
            low = tuple(data.min_microversion or (2, 0))
            high = tuple(data.max_microversion or (2, 0))
            return VersionRange(
                minimum=(int(low[0]), int(low[1])), maximum=(int(high[0]), int(high[1]))
            )

        return self._client.call("share_versions_get", discover)

    def show(self, share_id: str, *, version: str = "2.45") -> dict[str, Any]:
        """The share as Manila shows it at ``version`` (the SDK's model lacks the capability
        fields ``snapshot_support``/``create_share_from_snapshot_support`` of 2.2/2.24)."""

        def fetch() -> dict[str, Any]:
            resp = checked(self._api.get(f"/shares/{share_id}", headers={VERSION_HEADER: version}))
            share: dict[str, Any] = resp.json()["share"]
            return share

        return self._client.call("share_get", fetch)

    def create_at(self, attributes: dict[str, Any], *, version: str) -> str:
        """POST /shares at ``version`` (e.g. 2.31 for ``share_group_id``, which older
        microversions silently drop); returns the new share's id. Not idempotent."""
        body = {"share": dict(attributes)}

        def post() -> str:
            resp = checked(self._api.post("/shares", json=body, headers={VERSION_HEADER: version}))
            return str(resp.json()["share"]["id"])

        return self._client.call("share_create", post, idempotent=False)

    def delete_in_group(self, share_id: str, share_group_id: str) -> None:
        """DELETE a share of a share group (Manila wants the group id as a parameter, 2.31)."""

        def delete() -> None:
            resp = self._api.delete(
                f"/shares/{share_id}?share_group_id={share_group_id}",
                headers={VERSION_HEADER: "2.31"},
            )
            if resp.status_code != 404:
                checked(resp)

        self._client.call("share_delete", delete)

    def messages(self, resource_id: str) -> list[UserMessage]:
        """User messages about ``resource_id``, newest first (Manila >= 2.37)."""

        def fetch() -> list[UserMessage]:
            resp = checked(
                self._api.get(
                    f"/messages?resource_id={resource_id}&sort_key=created_at&sort_dir=desc",
                    headers={VERSION_HEADER: "2.37"},
                )
            )
            body: dict[str, Any] = resp.json()
            return [
                UserMessage(
                    detail_id=str(m.get("detail_id") or ""),
                    action_id=str(m.get("action_id") or ""),
                    text=str(m.get("user_message") or ""),
                )
                for m in body.get("messages", [])
            ]

        return self._client.call("share_messages_list", fetch)

    def create_with_hints(
        self, attributes: dict[str, Any], hints: dict[str, str], *, version: str = "2.65"
    ) -> str:
        """POST /shares with ``scheduler_hints`` (2.65); returns the new share's id. Not
        idempotent: callers look the name up first and again after an unknown outcome."""
        body = {"share": {**attributes, "scheduler_hints": hints}}

        def post() -> str:
            resp = checked(self._api.post("/shares", json=body, headers={VERSION_HEADER: version}))
            return str(resp.json()["share"]["id"])

        return self._client.call("share_create", post, idempotent=False)
