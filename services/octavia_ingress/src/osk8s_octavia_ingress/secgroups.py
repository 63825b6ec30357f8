"""``octavia.manage-security-groups``: one Neutron security group per Ingress on the nodes.

As CPO: named like the LB, described ``Security group created for Ingress <ns>/<name> from
cluster <cluster>``, tagged ``octavia.ingress.kubernetes.io`` and ``<ns>_<name>``; TCP rules
from the VIP subnet's CIDR to every NodePort the Ingress uses; added to the Neutron ports of
the nodes (found by the server id of their ``providerID``). Rules no longer needed are
removed; on delete the group leaves the ports and is deleted. Find-first throughout.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from osk8s_core.openstack.security_groups import RuleSpec, SecurityGroups
from osk8s_octavia_ingress import naming

_PROVIDER_PREFIX = "openstack:///"


def server_id(node: Mapping[str, Any]) -> str | None:
    provider = str((node.get("spec") or {}).get("providerID") or "")
    if not provider.startswith(_PROVIDER_PREFIX):
        return None
    return provider.removeprefix(_PROVIDER_PREFIX).rsplit("/", 1)[-1] or None


class IngressSecurityGroups:
    def __init__(
        self, groups: SecurityGroups, *, client: Any, cluster: str, subnet_id: str
    ) -> None:
        self._groups = groups
        self._client = client
        self._cluster = cluster
        self._subnet_id = subnet_id
        self._cidr: str | None = None

    @property
    def _net(self) -> Any:
        return self._client.service("network")

    def _subnet_cidr(self) -> str:
        if self._cidr is None:
            subnet = self._client.call("subnet_get", self._net.get_subnet, self._subnet_id)
            self._cidr = str(subnet.cidr)
        return self._cidr

    def ensure(
        self,
        namespace: str,
        name: str,
        node_ports: Sequence[int],
        nodes: Iterable[Mapping[str, Any]],
    ) -> str:
        resource = naming.resource_name(self._cluster, namespace, name)
        group = self._groups.create(
            resource, description=naming.sg_description(self._cluster, namespace, name)
        )
        tags = list(naming.sg_tags(namespace, name))
        if sorted(group.tags or []) != sorted(tags):
            self._client.call("security_group_update", lambda: self._net.set_tags(group, tags))
        cidr = self._subnet_cidr()
        wanted = [
            RuleSpec(protocol="tcp", port_range_min=p, port_range_max=p, remote_ip_prefix=cidr)
            for p in node_ports
        ]
        existing = self._groups.rules(group.id)
        for rule in existing:
            if rule.direction == "ingress" and not any(spec.matches(rule) for spec in wanted):
                self._groups.delete_rule(rule.id)
        for spec in wanted:
            if not any(spec.matches(rule) for rule in existing):
                self._groups.create_rule(group.id, spec)
        for node in nodes:
            device = server_id(node)
            if device is None:
                continue
            ports = self._client.call(
                "port_list", lambda d=device: list(self._net.ports(device_id=d))
            )
            for port in ports:
                current = list(port.security_group_ids or [])
                if group.id not in current:
                    self._client.call(
                        "port_update",
                        lambda p=port, c=current: self._net.update_port(
                            p.id, security_groups=[*c, group.id]
                        ),
                    )
        return str(group.id)

    def delete(self, namespace: str, name: str) -> None:
        group = self._groups.find_by_name(naming.resource_name(self._cluster, namespace, name))
        if group is None:
            return
        ports = self._client.call(
            "port_list", lambda: list(self._net.ports(security_groups=[group.id]))
        )
        for port in ports:
            remaining = [g for g in (port.security_group_ids or []) if g != group.id]
            self._client.call(
                "port_update",
                lambda p=port, r=remaining: self._net.update_port(p.id, security_groups=r),
            )
        self._groups.delete(group.id)
