"""``octavia.manage-security-groups``: one Neutron security group per Ingress on the nodes.

As CPO: named like the LB, described ``Security group created for Ingress <ns>/<name> from
cluster <cluster>``, tagged ``octavia.ingress.kubernetes.io`` and ``<ns>_<name>``; TCP rules
from the VIP subnet's CIDR to every NodePort the Ingress uses; added to the Neutron ports of
the member nodes (found by the server id of their ``providerID``). Rules no longer needed are
removed; on delete the group leaves the ports and is deleted. Find-first throughout.

Beyond CPO, the periodic node sync converges the group too (``sync``). CPO's node sync
(``nodeSyncLoop``, every 60 s) acts only when the set of ready worker nodes changed, and then
only replaces each Ingress LB's pool members; it never reads or writes a security group, so
there a node that joins after its Ingress was processed gets members but not the group on
its port, and a node that leaves the member set keeps the group, until the Ingress itself
changes. Here each node sync also puts the group on the ports of new member nodes' servers,
takes it off the ports of the other nodes' servers and keeps the rules on the NodePorts the
members use (the sync moves members to a changed NodePort): see ``port_groups``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from osk8s_core.openstack.ports import Ports
from osk8s_core.openstack.security_groups import RuleSpec, SecurityGroups
from osk8s_octavia_ingress import naming
from osk8s_octavia_ingress.port_groups import NodePorts, NodeServers, PortGroups, PortStore


class IngressSecurityGroups:
    def __init__(
        self,
        groups: SecurityGroups,
        *,
        client: Any,
        cluster: str,
        subnet_id: str,
        ports: PortStore | None = None,
    ) -> None:
        self._groups = groups
        self._client = client
        self._store: PortStore = ports if ports is not None else Ports(client)
        self._attach = PortGroups(self._store)
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

    def node_ports(self, servers: NodeServers) -> NodePorts:
        """The nodes' ports for one node sync (read once, on first use)."""
        return self._attach.node_ports(servers)

    def ensure(
        self, namespace: str, name: str, node_ports: Sequence[int], servers: NodeServers
    ) -> str:
        """The group (found or made), its tags and rules, on the members' ports only."""
        resource = naming.resource_name(self._cluster, namespace, name)
        group = self._groups.create(
            resource, description=naming.sg_description(self._cluster, namespace, name)
        )
        tags = list(naming.sg_tags(namespace, name))
        if sorted(group.tags or []) != sorted(tags):
            self._client.call("security_group_update", lambda: self._net.set_tags(group, tags))
        self._ensure_rules(str(group.id), node_ports)
        self._attach.converge(str(group.id), servers, self._attach.node_ports(servers))
        return str(group.id)

    def sync(
        self,
        namespace: str,
        name: str,
        node_ports: Sequence[int],
        servers: NodeServers,
        ports: NodePorts,
    ) -> int:
        """The node sync's part: rules and ports of an existing group follow the nodes and
        NodePorts; no group yet means nothing to do (processing the Ingress makes it).
        Returns the number of writes (0 when nothing changed)."""
        group = self._groups.find_by_name(naming.resource_name(self._cluster, namespace, name))
        if group is None:
            return 0
        writes = self._ensure_rules(str(group.id), node_ports)
        return writes + self._attach.converge(str(group.id), servers, ports)

    def _ensure_rules(self, group_id: str, node_ports: Sequence[int]) -> int:
        cidr = self._subnet_cidr()
        wanted = [
            RuleSpec(protocol="tcp", port_range_min=p, port_range_max=p, remote_ip_prefix=cidr)
            for p in node_ports
        ]
        existing = self._groups.rules(group_id)
        writes = 0
        for rule in existing:
            if rule.direction == "ingress" and not any(spec.matches(rule) for spec in wanted):
                self._groups.delete_rule(rule.id)
                writes += 1
        for spec in wanted:
            if not any(spec.matches(rule) for rule in existing):
                self._groups.create_rule(group_id, spec)
                writes += 1
        return writes

    def delete(self, namespace: str, name: str) -> None:
        """The group off every port that carries it, then gone. Each port write is guarded
        by its revision as in the node sync (which may be writing the same ports meanwhile),
        so another Ingress's group put there concurrently is kept."""
        group = self._groups.find_by_name(naming.resource_name(self._cluster, namespace, name))
        if group is None:
            return
        self._attach.remove(str(group.id), self._store.query(security_groups=[str(group.id)]))
        self._groups.delete(group.id)
