"""Neutron security groups and rules: create (idempotent), find, list, delete.

Labels as CPO: ``security_group_create``/``_get``/``_list``/``_delete`` and
``security_group_rule_create``/``_list``/``_delete``. A group is keyed by name (CPO:
``lb-sg-<uid>-<ns>-<name>``), a rule by what it allows (``RuleSpec``), since Neutron
refuses an identical rule with 409 anyway. Which rules a Service needs is the caller's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

from osk8s_core import errors
from osk8s_core.openstack.filters import named
from osk8s_core.openstack.idempotency import create_once, single

if TYPE_CHECKING:
    from openstack.connection import Connection
    from openstack.network.v2._proxy import Proxy as NetworkApi
    from openstack.network.v2.security_group import SecurityGroup
    from openstack.network.v2.security_group_rule import SecurityGroupRule

    from osk8s_core.openstack.client import OpenStackClient

_PROTOCOL_NUMBERS: Final = {"icmp": "1", "tcp": "6", "udp": "17", "sctp": "132", "ipv6-icmp": "58"}
_ANY_PREFIX: Final = frozenset({"0.0.0.0/0", "::/0"})


def _protocol(value: object) -> str | None:
    if value is None or str(value).lower() in ("", "any"):
        return None
    text = str(value).lower()
    return _PROTOCOL_NUMBERS.get(text, text)


def _prefix(value: object) -> str | None:
    # Neutron treats "everywhere" and "no prefix" as the same rule.
    return None if value is None or value in _ANY_PREFIX else str(value)


@dataclass(frozen=True)
class RuleSpec:
    """One security group rule; equal specs are the same rule to Neutron."""

    direction: str = "ingress"
    ethertype: str = "IPv4"
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    description: str | None = None
    """Not part of the rule's identity."""

    def attributes(self) -> dict[str, Any]:
        values = {
            "direction": self.direction,
            "ethertype": self.ethertype,
            "protocol": self.protocol,
            "port_range_min": self.port_range_min,
            "port_range_max": self.port_range_max,
            "remote_ip_prefix": self.remote_ip_prefix,
            "remote_group_id": self.remote_group_id,
            "description": self.description,
        }
        return {k: v for k, v in values.items() if v is not None}

    def key(self) -> tuple[object, ...]:
        return _rule_key(self)

    def matches(self, rule: object) -> bool:
        """Whether an existing rule (an sdk resource or any object with the same fields)
        allows exactly what this spec does, modulo Neutron's normalisations."""
        return _rule_key(rule) == self.key()


def _rule_key(rule: object) -> tuple[object, ...]:
    def get(name: str) -> Any:
        return getattr(rule, name, None)

    return (
        str(get("direction") or "").lower(),
        # openstacksdk calls it ether_type; plain objects (and the API) say ethertype.
        str(get("ether_type") or get("ethertype") or "").lower(),
        _protocol(get("protocol")),
        get("port_range_min"),
        get("port_range_max"),
        _prefix(get("remote_ip_prefix")),
        get("remote_group_id"),
    )


class SecurityGroups:
    """Security groups and rules of the client's project."""

    def __init__(self, client: OpenStackClient[Connection]) -> None:
        self._client = client

    @property
    def _api(self) -> NetworkApi:
        return cast("NetworkApi", self._client.service("network"))

    def get(self, group_id: str) -> SecurityGroup:
        return self._client.call("security_group_get", self._api.get_security_group, group_id)

    def query(self, **filters: Any) -> list[SecurityGroup]:
        return self._client.call(
            "security_group_list", lambda: list(self._api.security_groups(**filters))
        )

    def find_by_name(self, name: str) -> SecurityGroup | None:
        found = named(self.query(name=name), name)
        return single(found, what=f"security groups named {name!r}")

    def create(self, name: str, *, description: str | None = None) -> SecurityGroup:
        """Idempotent by name: a group of that name is returned as is, and a lost create
        answer is resolved by looking the name up again."""
        attrs: dict[str, Any] = {"name": name}
        if description is not None:
            attrs["description"] = description
        return create_once(
            find=lambda: self.find_by_name(name),
            create=lambda: self._client.call(
                "security_group_create", self._api.create_security_group, idempotent=False, **attrs
            ),
        )

    def delete(self, group_id: str) -> None:
        """Delete; a group already gone is success (a group still used by a port is 409)."""
        self._client.call(
            "security_group_delete",
            lambda: self._api.delete_security_group(group_id, ignore_missing=True),
        )

    def rules(self, group_id: str) -> list[SecurityGroupRule]:
        return self._client.call(
            "security_group_rule_list",
            lambda: list(self._api.security_group_rules(security_group_id=group_id)),
        )

    def find_rule(self, group_id: str, spec: RuleSpec) -> SecurityGroupRule | None:
        found = [rule for rule in self.rules(group_id) if spec.matches(rule)]
        # Neutron refuses duplicates, so more than one means a normalisation we missed.
        return single(found, what=f"rules like {spec.key()} in group {group_id}")

    def create_rule(self, group_id: str, spec: RuleSpec) -> SecurityGroupRule:
        """Idempotent by what the rule allows: an equal rule is returned as is. Neutron's 409
        for a duplicate (a concurrent create) is resolved by looking the rule up again."""

        def create() -> SecurityGroupRule:
            try:
                return self._client.call(
                    "security_group_rule_create",
                    self._api.create_security_group_rule,
                    idempotent=False,
                    security_group_id=group_id,
                    **spec.attributes(),
                )
            except errors.Conflict:
                landed = self.find_rule(group_id, spec)
                if landed is None:
                    raise
                return landed

        return create_once(find=lambda: self.find_rule(group_id, spec), create=create)

    def delete_rule(self, rule_id: str) -> None:
        self._client.call(
            "security_group_rule_delete",
            lambda: self._api.delete_security_group_rule(rule_id, ignore_missing=True),
        )
