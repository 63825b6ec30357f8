"""Managed security groups (``manage-security-groups=true``, CPO §1.4.9): one group per
Service allowing its node ports from the member subnet (amphora) or from the allowed source
ranges (ovn keeps the client address), plus the health-check node port, attached to the
member ports of the nodes; removed from every port and deleted when the Service goes or the
option is off. Rules are diffed, so an unchanged Service writes nothing.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Sequence
from typing import Any

from osk8s_ccm.lb_provider import LoadBalancerService
from osk8s_ccm.lb_settings import ServiceLoadBalancerSettings
from osk8s_ccm.octavia.desired import NodeTarget
from osk8s_ccm.octavia.features import OctaviaFeatures
from osk8s_core import errors
from osk8s_core.openstack.networking import Networking
from osk8s_core.openstack.ports import Ports
from osk8s_core.openstack.security_groups import RuleSpec, SecurityGroups


def wanted_rules(
    service: LoadBalancerService,
    settings: ServiceLoadBalancerSettings,
    features: OctaviaFeatures,
    subnet_cidr: str,
) -> set[RuleSpec]:
    ethertype = "IPv6" if ipaddress.ip_network(subnet_cidr, strict=False).version == 6 else "IPv4"
    sources = list(settings.source_ranges) if features.is_ovn else [subnet_cidr]
    rules: set[RuleSpec] = set()
    for port in service.ports:
        if not port.node_port or not service.allocate_load_balancer_node_ports:
            continue
        for cidr in sources:
            if ipaddress.ip_network(cidr, strict=False).version != (
                6 if ethertype == "IPv6" else 4
            ):
                continue
            rules.add(
                RuleSpec(
                    ethertype=ethertype,
                    protocol=port.protocol.lower(),
                    port_range_min=port.node_port,
                    port_range_max=port.node_port,
                    remote_ip_prefix=cidr,
                )
            )
    if service.health_check_node_port:
        rules.add(
            RuleSpec(
                ethertype=ethertype,
                protocol="tcp",
                port_range_min=service.health_check_node_port,
                port_range_max=service.health_check_node_port,
                remote_ip_prefix=subnet_cidr,
            )
        )
    return rules


class ServiceSecurityGroups:
    def __init__(self, groups: SecurityGroups, ports: Ports, networking: Networking) -> None:
        self._groups = groups
        self._ports = ports
        self._networking = networking

    def ensure(
        self,
        *,
        name: str,
        description: str,
        service: LoadBalancerService,
        settings: ServiceLoadBalancerSettings,
        features: OctaviaFeatures,
        nodes: Sequence[NodeTarget],
        member_subnet: str,
    ) -> str:
        group = self._groups.create(name, description=description)
        subnet = self._networking.get_subnet(member_subnet)
        wanted = wanted_rules(service, settings, features, str(subnet.cidr))
        existing = [r for r in self._groups.rules(group.id) if r.direction == "ingress"]
        for spec in wanted:
            if not any(spec.matches(r) for r in existing):
                self._groups.create_rule(group.id, spec)
        for rule in existing:
            if not any(spec.matches(rule) for spec in wanted):
                with contextlib.suppress(errors.NotFound):
                    self._groups.delete_rule(rule.id)
        addresses = {n.address for n in nodes}
        for port in self._ports.query(fixed_ips=[f"subnet_id={member_subnet}"]):
            if not port.is_port_security_enabled:
                continue
            if not any(ip.get("ip_address") in addresses for ip in port.fixed_ips or []):
                continue
            groups = list(port.security_group_ids or [])
            if group.id not in groups:
                self._ports.update(port.id, security_groups=[*groups, group.id])
        return str(group.id)

    def delete(self, name: str) -> None:
        group = self._groups.find_by_name(name)
        if group is None:
            return
        for port in self._users(group.id):
            remaining = [g for g in port.security_group_ids or [] if g != group.id]
            self._ports.update(port.id, security_groups=remaining)
        self._groups.delete(group.id)

    def _users(self, group_id: str) -> list[Any]:
        return [
            p
            for p in self._ports.query(security_groups=[group_id])
            if group_id in (p.security_group_ids or [])
        ]
