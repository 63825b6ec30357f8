"""CAPO's validating admission rules, over objects in their wire (JSON) form.

One function per webhook path of CAPO's ValidatingWebhookConfiguration: create rules and the
update (immutability) rules of capo.md §4/§7.1. Each returns a list of ``FieldError`` (empty:
allowed); ``invalid_status`` turns them into the 422 ``Status`` kube-apiserver shows, worded as
apimachinery's ``NewInvalid`` so error text carries over. Pure functions: no I/O, no clients.

Comparison is of the JSON form with empty values dropped (Go's ``omitempty`` makes a nil and an
empty slice the same object on the wire, so they must compare equal here too).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

GROUP: Final = "infrastructure.cluster.x-k8s.io"
ROOT_VOLUME_NAME: Final = "root"
TOPOLOGY_DRY_RUN: Final = "topology.cluster.x-k8s.io/dry-run"
"""Annotation CAPI's topology controller sets on dry-run objects (immutability is skipped)."""
TEMPLATE_IMMUTABLE: Final = (
    "OpenStackMachineTemplate spec.template.spec field is immutable. Please create a new "
    "resource instead. Ref doc: https://cluster-api.sigs.k8s.io/tasks/change-machine-template.html"
)
FLOATING_IP_POOL_UNSUPPORTED: Final = (
    "is not supported by osk8s yet (no OpenStackFloatingIPPool controller); remove it and give "
    "the server a floating IP another way"
)
SERVER_IMMUTABLE: Final = (
    "OpenStackServer spec field is immutable. Please create a new resource instead."
)

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class FieldError:
    """apimachinery's ``field.Error``: path, type (``Forbidden``, ``Invalid``) and detail."""

    path: str
    type: str
    detail: str

    @property
    def reason(self) -> str:
        return {"Forbidden": "FieldValueForbidden", "Invalid": "FieldValueInvalid"}[self.type]

    def message(self) -> str:
        return f"{self.type}: {self.detail}"

    def __str__(self) -> str:
        return f"{self.path}: {self.message()}"


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(path, "Forbidden", detail)


def invalid_status(kind: str, name: str, errs: list[FieldError]) -> dict[str, Any]:
    """The ``Status`` of ``apierrors.NewInvalid(GroupKind, name, errs)``."""
    aggregate = str(errs[0]) if len(errs) == 1 else "[" + ", ".join(map(str, errs)) + "]"
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'{kind}.{GROUP} "{name}" is invalid: {aggregate}',
        "reason": "Invalid",
        "details": {
            "name": name,
            "group": GROUP,
            "kind": kind,
            "causes": [{"reason": e.reason, "message": e.message(), "field": e.path} for e in errs],
        },
        "code": 422,
    }


# -- helpers ------------------------------------------------------------------------------------


def pruned(value: Any) -> Any:
    """``value`` with empty maps/lists/strings and nulls removed at every level (omitempty);
    ``False`` and ``0`` stay (pointer fields keep them on the wire)."""
    if isinstance(value, Mapping):
        out = {k: pruned(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [], "")}
    if isinstance(value, list):
        return [pruned(v) for v in value]
    return value


def _spec(obj: Obj | None) -> dict[str, Any]:
    return copy.deepcopy(dict((obj or {}).get("spec") or {}))


def _get(obj: Mapping[str, Any] | None, *path: str) -> Any:
    current: Any = obj
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def _drop_address_pairs(spec: dict[str, Any]) -> None:
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.pop("allowedAddressPairs", None)


def machine_spec_create_errors(spec: Obj, path: str) -> list[FieldError]:
    """The create checks shared by OpenStackMachine and OpenStackServer (and templates)."""
    errs: list[FieldError] = []
    if spec.get("floatingIPPoolRef"):
        # ours, not CAPO's: without an OpenStackFloatingIPPool controller the claim would
        # never be answered, so it is refused rather than silently ignored
        errs.append(forbidden(f"{path}.floatingIPPoolRef", FLOATING_IP_POOL_UNSUPPORTED))
    if spec.get("rootVolume"):
        for device in spec.get("additionalBlockDevices") or []:
            if device.get("name") == ROOT_VOLUME_NAME:
                errs.append(
                    forbidden(
                        f"{path}.additionalBlockDevices",
                        'cannot contain a device named "root" when rootVolume is set',
                    )
                )
    for port in spec.get("ports") or []:
        if port.get("enablePortSecurity") is False and port.get("securityGroups"):
            errs.append(
                forbidden(
                    f"{path}.ports",
                    "cannot have security groups when port security is disabled",
                )
            )
    return errs


def _dry_run_topology(obj: Obj, dry_run: bool) -> bool:
    annotations = _get(obj, "metadata", "annotations") or {}
    return dry_run and TOPOLOGY_DRY_RUN in annotations


# -- OpenStackMachine ---------------------------------------------------------------------------


def validate_machine(new: Obj, old: Obj | None, *, dry_run: bool = False) -> list[FieldError]:
    """Create: no "root" extra device with a rootVolume; no SGs on ports without port security.
    Update: the spec is immutable except ``providerID`` (set once), ``identityRef`` and the
    ports' ``allowedAddressPairs`` (accepted as CAPO's webhook does; applying the change to
    existing Neutron ports, CAPO #3056, is not done yet: see the README)."""
    del dry_run
    if old is None:
        return machine_spec_create_errors(_spec(new), "spec")
    new_spec, old_spec = _spec(new), _spec(old)
    if not old_spec.get("providerID"):
        new_spec.pop("providerID", None)
        old_spec.pop("providerID", None)
    for spec in (new_spec, old_spec):
        spec.pop("identityRef", None)
        _drop_address_pairs(spec)
    if pruned(new_spec) != pruned(old_spec):
        return [forbidden("spec", "cannot be modified")]
    return []


# -- OpenStackMachineTemplate -------------------------------------------------------------------


def validate_machine_template(
    new: Obj, old: Obj | None, *, dry_run: bool = False
) -> list[FieldError]:
    """Create: ``providerID`` cannot be set. Update: ``spec.template.spec`` is immutable except
    ports' ``allowedAddressPairs``; CAPI topology dry-run requests are not checked."""
    if old is None:
        if _get(new, "spec", "template", "spec", "providerID"):
            return [forbidden("spec.template.spec.providerID", "cannot be set in templates")]
        if _get(new, "spec", "template", "spec", "floatingIPPoolRef"):
            return [forbidden("spec.template.spec.floatingIPPoolRef", FLOATING_IP_POOL_UNSUPPORTED)]
        return []
    if _dry_run_topology(new, dry_run):
        return []
    new_spec = copy.deepcopy(_get(new, "spec", "template", "spec") or {})
    old_spec = copy.deepcopy(_get(old, "spec", "template", "spec") or {})
    _drop_address_pairs(new_spec)
    _drop_address_pairs(old_spec)
    if pruned(new_spec) != pruned(old_spec):
        return [FieldError("spec.template.spec", "Invalid", TEMPLATE_IMMUTABLE)]
    return []


# -- OpenStackServer ----------------------------------------------------------------------------


def validate_server(new: Obj, old: Obj | None, *, dry_run: bool = False) -> list[FieldError]:
    """Create: the machine create checks. Update: the whole spec is immutable."""
    if old is None:
        return machine_spec_create_errors(_spec(new), "spec")
    if _dry_run_topology(new, dry_run):
        return []
    if pruned(_spec(new)) != pruned(_spec(old)):
        return [forbidden("spec", SERVER_IMMUTABLE)]
    return []


# -- OpenStackClusterTemplate -------------------------------------------------------------------


def validate_cluster_template(
    new: Obj, old: Obj | None, *, dry_run: bool = False
) -> list[FieldError]:
    """Create: no bastion ``floatingIPPoolRef`` (ours). Update: ``spec.template.spec`` is
    immutable (topology dry runs excepted)."""
    if old is None:
        return _bastion_pool_errors(
            _get(new, "spec", "template", "spec") or {}, "spec.template.spec"
        )
    if _dry_run_topology(new, dry_run):
        return []
    new_spec = _get(new, "spec", "template", "spec") or {}
    old_spec = _get(old, "spec", "template", "spec") or {}
    if pruned(new_spec) != pruned(old_spec):
        return [forbidden("spec.template.spec", "cannot be modified")]
    return []


# -- OpenStackCluster ---------------------------------------------------------------------------

RULE_LISTS: Final = (
    "clusterNodesSecurityGroupRules",
    "controlPlaneNodesSecurityGroupRules",
    "workerNodesSecurityGroupRules",
)


def _rule_errors(spec: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    groups = spec.get("managedSecurityGroups")
    if not isinstance(groups, Mapping):
        return errs
    for name in RULE_LISTS:
        for index, rule in enumerate(groups.get(name) or []):
            remotes = [k for k in ("remoteManagedGroups", "remoteGroupID", "remoteIPPrefix")
                       if rule.get(k) is not None]  # fmt: skip
            if len(remotes) > 1:
                errs.append(
                    forbidden(
                        f"spec.managedSecurityGroups.{name}[{index}]",
                        "only one of remoteManagedGroups, remoteGroupID, or remoteIPPrefix "
                        "can be set",
                    )
                )
    return errs


def _bastion_enabled(bastion: Obj | None) -> bool:
    return bastion is not None and bastion.get("enabled", True) is not False


def _subnet_filter_to_id_ok(old: Obj, new_spec: Obj, old_spec: Obj) -> bool:
    """Each ``spec.subnets`` entry keeps its value, or moves from a filter to the ID status
    shows for the subnet of that filter's name; never from an ID to a filter."""
    new_subnets = list(new_spec.get("subnets") or [])
    old_subnets = list(old_spec.get("subnets") or [])
    known = _get(old, "status", "network", "subnets") or []
    if len(new_subnets) != len(old_subnets) or not known:
        return False
    for was, now in zip(old_subnets, new_subnets, strict=True):
        was_filter, now_filter = was.get("filter"), now.get("filter")
        if was_filter and now.get("id") and not now_filter:
            name = was_filter.get("name")
            if not any(s.get("name") == name and s.get("id") == now["id"] for s in known):
                return False
        if was.get("id") and now_filter:
            return False
        if was_filter and now_filter and was_filter.get("name") != now_filter.get("name"):
            return False
        if was.get("id") and now.get("id") and was["id"] != now["id"]:
            return False
    return True


def _relax_endpoint_and_api(new_spec: dict[str, Any], old_spec: dict[str, Any], old: Obj) -> None:
    """Drop the endpoint and apiServer fields that may still change from both specs."""
    old_endpoint = old_spec.get("controlPlaneEndpoint")
    if not old_endpoint or not old_endpoint.get("host"):
        new_spec.pop("controlPlaneEndpoint", None)
        old_spec.pop("controlPlaneEndpoint", None)
    old_api = old_spec.setdefault("apiServer", {})
    new_api = new_spec.setdefault("apiServer", {})
    if old_api.get("enableFloatingIP") is False:
        # without a floating IP the user supplies the endpoint: fixedIP and port may be set
        # the first time only
        if not old_api.get("fixedIP"):
            old_api.pop("fixedIP", None)
            new_api.pop("fixedIP", None)
        if old_api.get("port") is None:
            new_api.pop("port", None)
    lb_ip = _get(old, "status", "apiServerManagedLoadBalancer", "ip")
    if lb_ip and new_api.get("floatingIP") == lb_ip:
        new_api.pop("floatingIP", None)
        old_api.pop("floatingIP", None)
    new_lb, old_lb = new_api.get("managedLoadBalancer"), old_api.get("managedLoadBalancer")
    if isinstance(new_lb, dict) and isinstance(old_lb, dict):
        for lb in (new_lb, old_lb):
            lb.pop("allowedCIDRs", None)
            lb.pop("monitor", None)


def _relax_security_groups(new_spec: dict[str, Any], old_spec: dict[str, Any]) -> None:
    if new_spec.get("managedSecurityGroups") is not None:
        old_groups = old_spec.get("managedSecurityGroups") or {}
        old_spec["managedSecurityGroups"] = old_groups
        for groups in (new_spec["managedSecurityGroups"], old_groups):
            for name in (*RULE_LISTS, "allowAllInClusterTraffic"):
                groups.pop(name, None)


def _managed_subnet_errors(new_spec: dict[str, Any], old_spec: dict[str, Any]) -> list[FieldError]:
    """Same count and CIDRs; only ``dnsNameservers`` may change (dropped from both)."""
    new_subnets, old_subnets = new_spec.get("managedSubnets"), old_spec.get("managedSubnets")
    if new_subnets is None or old_subnets is None:
        return []
    if len(new_subnets) != len(old_subnets):
        return [forbidden("spec.managedSubnets", "cannot add or remove subnets")]
    errs: list[FieldError] = []
    by_cidr = {s.get("cidr"): s for s in old_subnets}
    for subnet in new_subnets:
        match = by_cidr.get(subnet.get("cidr"))
        if match is None:
            detail = f"cannot change subnet CIDR from existing value to {subnet.get('cidr')}"
            errs.append(forbidden("spec.managedSubnets", detail))
            continue
        match.pop("dnsNameservers", None)
        subnet.pop("dnsNameservers", None)
    return errs


def _relax_resolved_network(new_spec: dict[str, Any], old_spec: dict[str, Any], old: Obj) -> None:
    old_network = _get(old, "status", "network")
    if new_spec.get("network") and old_spec.get("network") and old_network:
        if _subnet_filter_to_id_ok(old, new_spec, old_spec):
            new_spec.pop("subnets", None)
            old_spec.pop("subnets", None)
        if new_spec["network"].get("id") == old_network.get("id"):
            new_spec.pop("network", None)
            old_spec.pop("network", None)


def _cluster_update_errors(new: Obj, old: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    new_spec, old_spec = _spec(new), _spec(old)
    for spec in (new_spec, old_spec):
        spec.pop("identityRef", None)
        # mutable: where new control-plane machines go, and which subnet new ports use
        spec.pop("controlPlaneAvailabilityZones", None)
        spec.pop("controlPlaneOmitAvailabilityZone", None)
        spec.pop("primarySubnet", None)
    _relax_endpoint_and_api(new_spec, old_spec, old)
    if new_spec.get("bastion") is None and _bastion_enabled(old_spec.get("bastion")):
        errs.append(forbidden("spec.bastion", "cannot be removed before disabling it"))
    new_spec.pop("bastion", None)
    old_spec.pop("bastion", None)
    _relax_security_groups(new_spec, old_spec)
    errs += _managed_subnet_errors(new_spec, old_spec)
    _relax_resolved_network(new_spec, old_spec, old)
    if pruned(new_spec) != pruned(old_spec):
        errs.append(forbidden("spec", "cannot be modified"))
    return errs


def validate_cluster(new: Obj, old: Obj | None, *, dry_run: bool = False) -> list[FieldError]:
    """Create and update: SG rules name at most one remote. Update: the spec is immutable
    except the fields capo.md §4 lists (identityRef, endpoint until its host is set, bastion,
    SG rules, DNS servers of managed subnets, LB allowedCIDRs/monitor, control-plane AZs,
    primarySubnet, floatingIP equal to the LB's, filter→resolved ID for network/subnets)."""
    del dry_run
    errs = _rule_errors(_spec(new))
    if old is None or not _get(old, "spec", "bastion", "spec", "floatingIPPoolRef"):
        errs += _bastion_pool_errors(_spec(new), "spec")
    if old is not None:
        errs += _cluster_update_errors(new, old)
    return errs


def _bastion_pool_errors(spec: Obj, path: str) -> list[FieldError]:
    """Ours, as for machines: the bastion's ``floatingIPPoolRef`` would never be answered
    without an OpenStackFloatingIPPool controller, so it is refused when set (an object that
    already carried it before this rule is left to the controller's condition)."""
    if _get(spec, "bastion", "spec", "floatingIPPoolRef"):
        return [forbidden(f"{path}.bastion.spec.floatingIPPoolRef", FLOATING_IP_POOL_UNSUPPORTED)]
    return []


Validator = Callable[..., list[FieldError]]

WEBHOOKS: Final[Mapping[str, tuple[str, Validator]]] = {
    "/validate-infrastructure-cluster-x-k8s-io-v1beta2-openstackcluster": (
        "OpenStackCluster",
        validate_cluster,
    ),
    "/validate-infrastructure-cluster-x-k8s-io-v1beta2-openstackclustertemplate": (
        "OpenStackClusterTemplate",
        validate_cluster_template,
    ),
    "/validate-infrastructure-cluster-x-k8s-io-v1beta2-openstackmachine": (
        "OpenStackMachine",
        validate_machine,
    ),
    "/validate-infrastructure-cluster-x-k8s-io-v1beta2-openstackmachinetemplate": (
        "OpenStackMachineTemplate",
        validate_machine_template,
    ),
    "/validate-infrastructure-cluster-x-k8s-io-v1alpha1-openstackserver": (
        "OpenStackServer",
        validate_server,
    ),
}
"""Path → (kind, validator), the paths of CAPO's ValidatingWebhookConfiguration."""
