"""Manila shares: create (idempotent by name), get, find, access rules, export locations,
extend, delete, waits.

Labels ``share_create``/``_get``/``_list``/``_extend``/``_delete``,
``share_access_create``/``_list``/``_delete``, ``share_export_locations_list``. Extend is
sent by hand with ``X-OpenStack-Manila-API-Version: 2.7``: openstacksdk's ``resize_share``
sends no microversion and Manila answers 404, since the ``extend`` action exists from 2.7.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, cast

from osk8s_core.openstack.filters import named
from osk8s_core.openstack.idempotency import create_once, require_match, single
from osk8s_core.openstack.raw import checked
from osk8s_core.openstack.waiting import Waiter

if TYPE_CHECKING:
    from openstack.connection import Connection
    from openstack.shared_file_system.v2._proxy import Proxy as SharesApi
    from openstack.shared_file_system.v2.share import Share
    from openstack.shared_file_system.v2.share_access_rule import ShareAccessRule
    from openstack.shared_file_system.v2.share_export_locations import ShareExportLocation

    from osk8s_core.openstack.client import OpenStackClient

EXTEND_MICROVERSION: Final = "2.7"
_VERSION_HEADER: Final = "X-OpenStack-Manila-API-Version"


@dataclass(frozen=True)
class ShareSpec:
    """A share to create; ``name`` is the idempotency key (the CSI volume name)."""

    name: str
    size_gb: int
    protocol: str = "NFS"
    share_type: str | None = None
    availability_zone: str | None = None
    share_network_id: str | None = None
    snapshot_id: str | None = None
    description: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    share_group_id: str | None = None

    def attributes(self) -> dict[str, Any]:
        values = {
            "share_type": self.share_type,
            "availability_zone": self.availability_zone,
            "share_network_id": self.share_network_id,
            "snapshot_id": self.snapshot_id,
            "description": self.description,
            "share_group_id": self.share_group_id,
        }
        attrs: dict[str, Any] = {
            "name": self.name,
            "size": self.size_gb,
            "share_protocol": self.protocol,
            **{k: v for k, v in values.items() if v is not None},
        }
        if self.metadata:
            attrs["metadata"] = dict(self.metadata)
        return attrs


@dataclass(frozen=True)
class AccessRuleSpec:
    """Who may mount: ``access_type`` ip/cert/user/cephx, ``access_to`` e.g. a CIDR."""

    access_type: str
    access_to: str
    access_level: str = "rw"

    def matches(self, rule: object) -> bool:
        return (
            getattr(rule, "access_type", None) == self.access_type
            and getattr(rule, "access_to", None) == self.access_to
            and getattr(rule, "access_level", None) == self.access_level
        )


class Shares:
    """Manila shares of the client's project."""

    def __init__(
        self, client: OpenStackClient[Connection], *, waiter: Waiter | None = None
    ) -> None:
        self._client = client
        self._waiter = waiter if waiter is not None else Waiter()

    @property
    def _api(self) -> SharesApi:
        return cast("SharesApi", self._client.service("shared_file_system"))

    def get(self, share_id: str) -> Share:
        return self._client.call("share_get", self._api.get_share, share_id)

    def query(self, **filters: Any) -> list[Share]:
        return self._client.call("share_list", lambda: list(self._api.shares(**filters)))

    def find_by_name(self, name: str) -> Share | None:
        return single(named(self.query(name=name), name), what=f"shares named {name!r}")

    def create(self, spec: ShareSpec, *, wait: bool = True) -> Share:
        """Create, or return the share of that name an earlier (maybe crashed) call made.

        Idempotent by name: found with the same size and protocol it is returned, otherwise
        AlreadyExists; a lost create answer is resolved by looking the name up again.
        """
        wanted = {"size": spec.size_gb, "share_protocol": spec.protocol}
        share = create_once(
            find=lambda: self.find_by_name(spec.name),
            create=lambda: self._client.call(
                "share_create", self._api.create_share, idempotent=False, **spec.attributes()
            ),
            check=lambda found: require_match(found, wanted, what=f"share {spec.name!r}"),
        )
        return self.wait_available(share.id) if wait else share

    def wait_available(self, share_id: str) -> Share:
        return self._waiter.until(
            lambda: self.get(share_id),
            target="available",
            failure=("error", "extending_error"),
            describe=f"share {share_id}",
        )

    def extend(self, share_id: str, size_gb: int, *, wait: bool = True) -> Share:
        """Grow to ``size_gb``; a no-op when it is that size or larger (a repeat is safe)."""
        share = self.get(share_id)
        if share.size is not None and share.size >= size_gb:
            return share
        body = {"extend": {"new_size": size_gb}}
        headers = {_VERSION_HEADER: EXTEND_MICROVERSION}
        self._client.call(
            "share_extend",
            lambda: checked(
                self._api.post(f"/shares/{share_id}/action", json=body, headers=headers)
            ),
            idempotent=False,
        )
        return self.wait_available(share_id) if wait else self.get(share_id)

    def delete(self, share_id: str, *, wait: bool = False) -> None:
        """Delete; a share already gone is success (a share with snapshots is refused)."""
        self._client.call(
            "share_delete", lambda: self._api.delete_share(share_id, ignore_missing=True)
        )
        if wait:
            self._waiter.until_gone(
                lambda: self.get(share_id),
                describe=f"share {share_id} deletion",
                failure=("error_deleting",),
            )

    # Access rules and export locations

    def access_rules(self, share_id: str) -> list[ShareAccessRule]:
        return self._client.call(
            "share_access_list", lambda: list(self._api.access_rules(share_id))
        )

    def grant(self, share_id: str, spec: AccessRuleSpec, *, wait: bool = True) -> ShareAccessRule:
        """Allow ``spec``; idempotent by (type, to, level): an equal rule is returned, and a
        lost answer or Manila's "already exists" is resolved by listing the rules again.
        ``wait``: until the rule is ``active``."""
        rule = create_once(
            find=lambda: single(
                [r for r in self.access_rules(share_id) if spec.matches(r)],
                what=f"access rules {spec} on share {share_id}",
            ),
            create=lambda: self._client.call(
                "share_access_create",
                self._api.create_access_rule,
                share_id,
                idempotent=False,
                access_type=spec.access_type,
                access_to=spec.access_to,
                access_level=spec.access_level,
            ),
        )
        return self.wait_rule_active(share_id, rule.id) if wait else rule

    def get_access_rule(self, rule_id: str) -> ShareAccessRule:
        return self._client.call("share_access_get", self._api.get_access_rule, rule_id)

    def wait_rule_active(self, share_id: str, rule_id: str) -> ShareAccessRule:
        def fetch() -> ShareAccessRule:
            return self.get_access_rule(rule_id)

        return self._waiter.until(
            fetch,
            target="active",
            failure=("error",),
            describe=f"access rule {rule_id} of share {share_id}",
            status_of=lambda rule: str(rule.state or ""),
        )

    def revoke(self, share_id: str, rule_id: str) -> None:
        """Remove an access rule; one already gone is success."""
        self._client.call(
            "share_access_delete",
            lambda: self._api.delete_access_rule(rule_id, share_id, ignore_missing=True),
        )

    def export_locations(self, share_id: str) -> list[ShareExportLocation]:
        """Where to mount from (``path``, ``is_preferred``...)."""
        return self._client.call(
            "share_export_locations_list", lambda: list(self._api.export_locations(share_id))
        )
