"""Managed security groups (capo.md §2.4): control plane, worker and (with a bastion)
bastion, their default rules plus the user's rules, reconciled by diff.

Groups are created first (rules refer to group IDs), found by name
``k8s-cluster-<ns>-<name>-secgroup-<role>``. Rules are compared on what they allow
(direction, ethertype, ports, protocol, remote group, remote prefix; never the
description): extra rules are deleted, missing ones created, so a changed
``clusterNodesSecurityGroupRules`` list converges and an unchanged one makes no write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from osk8s_capo import naming
from osk8s_capo.cluster_network import ClusterRef, NetworkError, set_tags
from osk8s_capo.scope import Scope
from osk8s_core import errors
from osk8s_core.errors import Osk8sError
from osk8s_core.openstack.security_groups import RuleSpec

CONTROL_PLANE: Final = "controlplane"
WORKER: Final = "worker"
BASTION: Final = "bastion"
_NODE_PORTS: Final = (30000, 32767)


def _rule(
    description: str,
    *,
    protocol: str | None = None,
    ports: tuple[int, int] | None = None,
    remote_group: str | None = None,
    prefix: str | None = None,
    direction: str = "ingress",
    ethertype: str = "IPv4",
) -> RuleSpec:
    return RuleSpec(
        direction=direction,
        ethertype=ethertype,
        protocol=protocol,
        port_range_min=ports[0] if ports else None,
        port_range_max=ports[1] if ports else None,
        remote_ip_prefix=prefix,
        remote_group_id=remote_group,
        description=description,
    )


def _egress() -> list[RuleSpec]:
    # Neutron puts these two on every new group; listing them keeps the diff from deleting them.
    return [
        _rule("Full open", direction="egress", ethertype="IPv4"),
        _rule("Full open", direction="egress", ethertype="IPv6"),
    ]


def _user_rules(rules: list[Mapping[str, Any]], groups: Mapping[str, str]) -> list[RuleSpec]:
    out = []
    for rule in rules:
        ports = None
        if rule.get("portRangeMin") is not None or rule.get("portRangeMax") is not None:
            low = rule.get("portRangeMin", rule.get("portRangeMax"))
            ports = (int(low), int(rule.get("portRangeMax", low)))
        base: dict[str, Any] = {
            "protocol": rule.get("protocol"),
            "ports": ports,
            "direction": rule.get("direction") or "ingress",
            "ethertype": rule.get("etherType") or "IPv4",
        }
        description = str(rule.get("description") or rule.get("name") or "")
        managed = rule.get("remoteManagedGroups") or []
        if managed:
            for role in managed:
                if role in groups:
                    out.append(_rule(description, remote_group=groups[role], **base))
            continue
        out.append(
            _rule(
                description,
                remote_group=rule.get("remoteGroupID"),
                prefix=rule.get("remoteIPPrefix"),
                **base,
            )
        )
    return out


def desired_rules(
    spec: Mapping[str, Any], groups: Mapping[str, str], subnet_cidrs: list[str]
) -> dict[str, list[RuleSpec]]:
    """Rules per role given the group IDs (§2.4's table)."""
    managed = spec.get("managedSecurityGroups") or {}
    cp, worker = groups[CONTROL_PLANE], groups[WORKER]
    bastion = groups.get(BASTION)
    lb = (spec.get("apiServer") or {}).get("managedLoadBalancer") or {}
    port = int((spec.get("apiServer") or {}).get("port") or 6443)
    control = [
        *_egress(),
        _rule("Kubernetes API", protocol="tcp", ports=(port, port)),
        _rule("Etcd", protocol="tcp", ports=(2379, 2380), remote_group=cp),
        _rule("Kubelet API", protocol="tcp", ports=(10250, 10250), remote_group=cp),
        _rule("Kubelet API", protocol="tcp", ports=(10250, 10250), remote_group=worker),
    ]
    for extra in lb.get("additionalPorts") or []:
        control.append(_rule("Additional port", protocol="tcp", ports=(int(extra), int(extra))))
    workers = [
        *_egress(),
        _rule("Kubelet API", protocol="tcp", ports=(10250, 10250), remote_group=worker),
        _rule("Kubelet API", protocol="tcp", ports=(10250, 10250), remote_group=cp),
    ]
    for proto in ("tcp", "udp"):
        for remote in (worker, cp):
            workers.append(
                _rule("Node Port Services", protocol=proto, ports=_NODE_PORTS, remote_group=remote)
            )
        for cidr in subnet_cidrs:
            if ":" not in cidr:
                workers.append(
                    _rule("Node Port Services", protocol=proto, ports=_NODE_PORTS, prefix=cidr)
                )
    if bastion:
        for rules in (control, workers):
            rules.append(_rule("SSH", protocol="tcp", ports=(22, 22), remote_group=bastion))
    if managed.get("allowAllInClusterTraffic"):
        for rules in (control, workers):
            rules.append(_rule("In-cluster Ingress", remote_group=cp))
            rules.append(_rule("In-cluster Ingress", remote_group=worker))
    cluster_rules = _user_rules(managed.get("clusterNodesSecurityGroupRules") or [], groups)
    control += cluster_rules + _user_rules(
        managed.get("controlPlaneNodesSecurityGroupRules") or [], groups
    )
    workers += cluster_rules + _user_rules(
        managed.get("workerNodesSecurityGroupRules") or [], groups
    )
    out = {CONTROL_PLANE: _unique(control), WORKER: _unique(workers)}
    if bastion:
        out[BASTION] = [*_egress(), _rule("SSH", protocol="tcp", ports=(22, 22))]
    return out


def _unique(rules: list[RuleSpec]) -> list[RuleSpec]:
    seen: dict[tuple[object, ...], RuleSpec] = {}
    for rule in rules:
        seen.setdefault(rule.key(), rule)
    return list(seen.values())


def bastion_enabled(spec: Mapping[str, Any]) -> bool:
    bastion = spec.get("bastion") or {}
    return bool(bastion) and bastion.get("enabled", True) is not False


def reconcile(
    scope: Scope,
    cluster: ClusterRef,
    spec: Mapping[str, Any],
    *,
    subnet_cidrs: list[str],
    tags: list[str],
) -> dict[str, dict[str, str]]:
    """Ensure groups and rules; returns status fields ``controlPlaneSecurityGroup``...
    Without ``managedSecurityGroups`` nothing is made and {} is returned."""
    if spec.get("managedSecurityGroups") is None:
        return {}
    sgs = scope.security_groups
    roles = [CONTROL_PLANE, WORKER] + ([BASTION] if bastion_enabled(spec) else [])
    groups: dict[str, Any] = {}
    try:
        for role in roles:
            name = naming.security_group_name(cluster.namespace, cluster.name, role)
            group = sgs.create(name, description=cluster.description)
            set_tags(scope, group, tags, request="security_group_tag_replace")
            groups[role] = group
        ids = {role: group.id for role, group in groups.items()}
        wanted = desired_rules(spec, ids, subnet_cidrs)
        for role, group in groups.items():
            _sync_rules(scope, group, wanted[role])
    except Osk8sError as exc:
        raise NetworkError(
            "SecurityGroupCreateFailed",
            str(exc),
            condition="SecurityGroupsReady",
            event="FailedCreateSecurityGroup",
        ) from exc
    field = {
        CONTROL_PLANE: "controlPlaneSecurityGroup",
        WORKER: "workerSecurityGroup",
        BASTION: "bastionSecurityGroup",
    }
    return {field[role]: {"id": g.id, "name": g.name} for role, g in groups.items()}


def _sync_rules(scope: Scope, group: Any, wanted: list[RuleSpec]) -> None:
    sgs = scope.security_groups
    observed = sgs.rules(group.id)
    wanted_keys = {rule.key() for rule in wanted}
    present = set()
    for rule in observed:
        key = RuleSpec(
            direction=rule.direction,
            ethertype=getattr(rule, "ether_type", None) or "",
            protocol=rule.protocol,
            port_range_min=rule.port_range_min,
            port_range_max=rule.port_range_max,
            remote_ip_prefix=rule.remote_ip_prefix,
            remote_group_id=rule.remote_group_id,
        ).key()
        if key in wanted_keys and key not in present:
            present.add(key)
        else:
            sgs.delete_rule(rule.id)
    missing = [spec for spec in wanted if spec.key() not in present]
    if not missing:
        return
    # One bulk POST for all missing rules (Neutron creates them in one transaction); a
    # duplicate (409: a concurrent or lost earlier create) falls back to one-by-one
    # find-or-create, which adopts what landed.
    api = scope.client.service("network")
    body = [{"security_group_id": group.id, **spec.attributes()} for spec in missing]
    try:
        scope.client.call(
            "security_group_rule_create",
            lambda: list(api.create_security_group_rules(body)),
            idempotent=False,
        )
    except errors.Conflict:
        for spec in missing:
            sgs.create_rule(group.id, spec)
