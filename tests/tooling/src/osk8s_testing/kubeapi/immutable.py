"""Built-in validation the registry strategies run on every write: ownerReferences and the
fields of built-in types that may not change once set.

Each rule is the one of kube-apiserver's ``pkg/apis/<group>/validation`` (ValidateXUpdate)
or apimachinery's ``ValidateOwnerReferences``, with its field path and message, so clients
that read ``details.causes[].field`` see the same thing. Only the types this server serves and
the fields our services touch are covered (see the README for what is not). Pure functions:
raise :class:`ApiError` 422 Invalid, never touch the store.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from osk8s_testing.kubeapi import errors
from osk8s_testing.kubeapi.meta import metadata
from osk8s_testing.kubeapi.resources import ResourceType


def _go(value: Any) -> str:
    """Roughly how field.Invalid prints a value: strings quoted, others as JSON."""
    return json.dumps(value) if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _invalid(rt: ResourceType, obj: dict[str, Any], field: str, value: Any, why: str) -> None:
    raise errors.invalid(
        rt.kind,
        rt.group,
        metadata(obj).get("name", ""),
        field,
        f"Invalid value: {_go(value)}: {why}",
    )


def _forbidden(rt: ResourceType, obj: dict[str, Any], field: str, why: str) -> None:
    error = errors.invalid(
        rt.kind, rt.group, metadata(obj).get("name", ""), field, f"Forbidden: {why}"
    )
    assert error.details is not None
    error.details["causes"][0]["reason"] = "FieldValueForbidden"
    raise error


def check_owner_references(rt: ResourceType, obj: dict[str, Any]) -> None:
    """apimachinery ValidateOwnerReferences: apiVersion, kind, name, uid required; one controller.

    The path has no index upstream (``metadata.ownerReferences.uid``).
    """
    controllers = []
    for ref in metadata(obj).get("ownerReferences") or []:
        if not isinstance(ref, dict):
            _invalid(rt, obj, "metadata.ownerReferences", ref, "must be an object")
        api_version = str(ref.get("apiVersion") or "")
        if not api_version.rpartition("/")[2]:
            _invalid(rt, obj, "metadata.ownerReferences.apiVersion", api_version,
                     "version must not be empty")  # fmt: skip
        for part in ("kind", "name", "uid"):
            if not ref.get(part):
                _invalid(rt, obj, f"metadata.ownerReferences.{part}", ref.get(part) or "",
                         f"{part} must not be empty")  # fmt: skip
        if ref.get("controller"):
            controllers.append(f"{ref.get('kind')}/{ref.get('name')}")
    if len(controllers) > 1:
        _invalid(
            rt,
            obj,
            "metadata.ownerReferences",
            metadata(obj).get("ownerReferences"),
            'Only one reference can have Controller set to true. Found "true" in references '
            f"for {controllers[0]} and {controllers[1]}",
        )


def _get(obj: dict[str, Any], path: str) -> Any:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


UpdateRule = Callable[[ResourceType, dict[str, Any], dict[str, Any]], None]


def _immutable(*paths: str) -> UpdateRule:
    """ValidateImmutableField: 'field is immutable' on each path that changed."""

    def rule(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
        for path in paths:
            if _get(old, path) != _get(new, path):
                _invalid(rt, new, path, _get(new, path), "field is immutable")

    return rule


def _service(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
    # validateUpgradeDowngradeClusterIPs: primary/secondary cluster IPs may not change (the
    # registry first syncs a changed spec.clusterIP into clusterIPs[0]); ExternalName is exempt
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if "ExternalName" in (old_spec.get("type"), new_spec.get("type")):
        return
    old_ips = list(old_spec.get("clusterIPs") or [])
    new_ips = list(new_spec.get("clusterIPs") or [])
    if new_spec.get("clusterIP") != old_spec.get("clusterIP") and new_ips == old_ips:
        new_ips[:1] = [new_spec.get("clusterIP")]
    for index, ip in enumerate(old_ips):
        if index < len(new_ips) and new_ips[index] != ip:
            _invalid(rt, new, f"spec.clusterIPs[{index}]", new_ips, "may not change once set")


def _node(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
    # ValidateNodeUpdate: podCIDR(s) and providerID may only go from unset to set
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if old_spec.get("podCIDRs") and new_spec.get("podCIDRs") != old_spec.get("podCIDRs"):
        _forbidden(rt, new, "spec.podCIDRs",
                   'node updates may not change podCIDR except from "" to valid')  # fmt: skip
    if old_spec.get("providerID") and new_spec.get("providerID") != old_spec.get("providerID"):
        _forbidden(rt, new, "spec.providerID",
                   'node updates may not change providerID except from "" to valid')  # fmt: skip


def _pvc(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
    # ValidatePersistentVolumeClaimUpdate: only resources.requests (bound claims) and
    # volumeAttributesClassName may change; volumeName may be set once (binding)
    def comparable(spec: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in spec.items() if k not in ("volumeAttributesClassName",)}
        resources = dict(out.get("resources") or {})
        resources.pop("requests", None)
        out["resources"] = resources
        if not (old.get("spec") or {}).get("volumeName"):
            out.pop("volumeName", None)
        return out

    if comparable(old.get("spec") or {}) != comparable(new.get("spec") or {}):
        _forbidden(
            rt,
            new,
            "spec",
            "spec is immutable after creation except resources.requests and "
            "volumeAttributesClassName for bound claims",
        )


_SOURCE_FIELDS = ("csi", "hostPath", "local", "nfs", "cinder", "iscsi", "fc", "rbd", "cephfs")


def _pv(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
    # ValidatePersistentVolumeUpdate: the volume source is immutable
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    for source in _SOURCE_FIELDS:
        if old_spec.get(source) != new_spec.get(source):
            _forbidden(rt, new, "spec.persistentvolumesource",
                       "spec.persistentvolumesource is immutable after creation")  # fmt: skip


def _storage_class(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
    # ValidateStorageClassUpdate
    for part in ("parameters", "provisioner", "reclaimPolicy", "volumeBindingMode"):
        if old.get(part) != new.get(part):
            _forbidden(rt, new, part, f"updates to {part} are forbidden.")


def _role_binding(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
    if old.get("roleRef") != new.get("roleRef"):
        _invalid(rt, new, "roleRef", new.get("roleRef"), "cannot change roleRef")


UPDATE_RULES: dict[tuple[str, str], UpdateRule] = {
    ("", "Service"): _service,
    ("", "Node"): _node,
    ("", "PersistentVolumeClaim"): _pvc,
    ("", "PersistentVolume"): _pv,
    ("", "Secret"): _immutable("type"),
    ("storage.k8s.io", "StorageClass"): _storage_class,
    ("storage.k8s.io", "VolumeAttachment"): _immutable("spec"),
    ("storage.k8s.io", "CSIDriver"): _immutable("spec.attachRequired", "spec.fsGroupPolicy"),
    ("networking.k8s.io", "IngressClass"): _immutable("spec.controller"),
    ("discovery.k8s.io", "EndpointSlice"): _immutable("addressType"),
    ("apps", "Deployment"): _immutable("spec.selector"),
    ("rbac.authorization.k8s.io", "RoleBinding"): _role_binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _role_binding,
}


def validate_create(rt: ResourceType, obj: dict[str, Any]) -> None:
    check_owner_references(rt, obj)


def validate_update(
    rt: ResourceType, old: dict[str, Any], new: dict[str, Any], *, subresource: str = ""
) -> None:
    """Run on the merged object of a main-resource write (status writes keep spec as stored)."""
    check_owner_references(rt, new)
    if subresource or rt.custom:
        return
    rule = UPDATE_RULES.get((rt.group, rt.kind))
    if rule is not None:
        rule(rt, old, new)
