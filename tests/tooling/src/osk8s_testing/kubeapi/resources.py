"""Which resource types the fake API serves, and how each behaves.

A :class:`ResourceType` is pure data (names, scope, subresources, per-type quirks of the real
kube-apiserver such as "Nodes keep status on create"). :class:`Registry` holds the built-in
types plus those registered at run time from CustomResourceDefinitions. No storage here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One served resource (one group/version/plural)."""

    group: str
    """API group; "" for the core group (served under /api/v1)."""
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    status_subresource: bool = False
    """Whether /status exists: then main writes keep status and status writes keep the rest."""
    tracks_generation: bool = False
    """Whether metadata.generation starts at 1 and is bumped on spec changes."""
    custom: bool = False
    """Served from a CRD: no strategic merge patch, PUT needs resourceVersion, objects keep kind."""
    keep_status_on_create: bool = False
    """Matches kube-apiserver for Nodes: status given on create is kept (kubelet registers so)."""
    return_deleted_object: bool = False
    """DELETE answers with the object instead of a Status (pods, custom resources)."""
    virtual: bool = False
    """Create-only review resources (TokenReview...): never stored."""
    create_on_update: bool = False
    """PUT to a missing object creates it (201), as for Leases, Endpoints, Events, Services."""
    storage_group: str | None = None
    """Group whose storage this type shares (events.k8s.io Events live with core Events)."""
    storage_plural: str | None = None
    field_selectors: tuple[str, ...] = ()
    """Type-specific field selector labels besides metadata.name / metadata.namespace."""
    categories: tuple[str, ...] = ()
    extra_subresources: tuple[str, ...] = ()
    """Subresources listed in discovery only (e.g. namespaces/finalize)."""
    path_segment_names: bool = False
    """Names are validated as path segments, not DNS subdomains (RBAC types upstream: any
    name without '/' or '%' other than '.' and '..', so e.g. ``<userID>_<role>`` is valid)."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def storage_key(self) -> tuple[str, str]:
        """(group, plural) under which objects are stored; versions share storage."""
        group = self.group if self.storage_group is None else self.storage_group
        return (group, self.storage_plural or self.plural)

    @property
    def verbs(self) -> tuple[str, ...]:
        return ("create",) if self.virtual else STANDARD_VERBS


def _t(
    group: str, version: str, plural: str, kind: str, *, namespaced: bool = True, **kw: object
) -> ResourceType:
    singular = kind.lower()
    return ResourceType(group, version, plural, singular, kind, namespaced, **kw)  # type: ignore[arg-type]


_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _t(
        "",
        "v1",
        "namespaces",
        "Namespace",
        namespaced=False,
        short_names=("ns",),
        status_subresource=True,
        return_deleted_object=True,
        field_selectors=("status.phase",),
        extra_subresources=("finalize",),
    ),
    _t("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    _t("", "v1", "secrets", "Secret", field_selectors=("type",)),
    _t("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",)),
    _t(
        "",
        "v1",
        "services",
        "Service",
        short_names=("svc",),
        status_subresource=True,
        categories=("all",),
        create_on_update=True,
    ),
    _t("", "v1", "endpoints", "Endpoints", short_names=("ep",), create_on_update=True),
    _t(
        "",
        "v1",
        "events",
        "Event",
        short_names=("ev",),
        field_selectors=_EVENT_FIELDS,
        create_on_update=True,
    ),
    _t(
        "",
        "v1",
        "nodes",
        "Node",
        namespaced=False,
        short_names=("no",),
        status_subresource=True,
        keep_status_on_create=True,
        field_selectors=("spec.unschedulable",),
    ),
    _t(
        "",
        "v1",
        "pods",
        "Pod",
        short_names=("po",),
        status_subresource=True,
        return_deleted_object=True,
        categories=("all",),
        field_selectors=(
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ),
    ),
    _t(
        "",
        "v1",
        "persistentvolumes",
        "PersistentVolume",
        namespaced=False,
        short_names=("pv",),
        status_subresource=True,
    ),
    _t(
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        short_names=("pvc",),
        status_subresource=True,
    ),
    _t("coordination.k8s.io", "v1", "leases", "Lease", create_on_update=True),
    _t("rbac.authorization.k8s.io", "v1", "roles", "Role", path_segment_names=True),
    _t("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", path_segment_names=True),
    _t(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        namespaced=False,
        path_segment_names=True,
    ),
    _t(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        namespaced=False,
        path_segment_names=True,
    ),
    _t(
        "events.k8s.io",
        "v1",
        "events",
        "Event",
        short_names=("ev",),
        storage_group="",
        create_on_update=True,
        field_selectors=(
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "regarding.apiVersion",
            "regarding.resourceVersion",
            "regarding.fieldPath",
            "reason",
            "reportingController",
            "type",
        ),
    ),
    _t(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "Ingress",
        short_names=("ing",),
        status_subresource=True,
        tracks_generation=True,
    ),
    _t(
        "networking.k8s.io",
        "v1",
        "ingressclasses",
        "IngressClass",
        namespaced=False,
        tracks_generation=True,
    ),
    _t("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    _t(
        "storage.k8s.io",
        "v1",
        "storageclasses",
        "StorageClass",
        namespaced=False,
        short_names=("sc",),
    ),
    _t("storage.k8s.io", "v1", "csidrivers", "CSIDriver", namespaced=False),
    _t("storage.k8s.io", "v1", "csinodes", "CSINode", namespaced=False),
    _t(
        "storage.k8s.io",
        "v1",
        "volumeattachments",
        "VolumeAttachment",
        namespaced=False,
        status_subresource=True,
    ),
    _t(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short_names=("deploy",),
        status_subresource=True,
        tracks_generation=True,
        categories=("all",),
    ),
    _t(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        status_subresource=True,
        tracks_generation=True,
    ),
    _t(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        namespaced=False,
        tracks_generation=True,
    ),
    _t(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        namespaced=False,
        tracks_generation=True,
    ),
    _t(
        "authentication.k8s.io", "v1", "tokenreviews", "TokenReview", namespaced=False, virtual=True
    ),
    _t(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        namespaced=False,
        virtual=True,
    ),
)


@dataclass
class _Group:
    versions: dict[str, dict[str, ResourceType]] = field(default_factory=dict)


class Registry:
    """Thread-safe index of served types by (group, version, plural)."""

    def __init__(self, types: Iterable[ResourceType] = BUILTIN_TYPES) -> None:
        self._lock = threading.Lock()
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for rt in types:
            self._types[(rt.group, rt.version, rt.plural)] = rt

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        with self._lock:
            return self._types.get((group, version, plural))

    def all(self) -> list[ResourceType]:
        with self._lock:
            return list(self._types.values())

    def by_storage(self, group: str, plural: str) -> list[ResourceType]:
        """Every served version of the stored resource (group, plural)."""
        return [rt for rt in self.all() if rt.storage_key == (group, plural)]

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        for rt in self.all():
            if rt.api_version == api_version and rt.kind == kind:
                return rt
        return None

    def replace_group_resource(
        self, group: str, plural: str, types: Iterable[ResourceType]
    ) -> None:
        """Swap every version served for (group, plural) at once (CRD created/updated/gone)."""
        with self._lock:
            for key in [k for k in self._types if k[0] == group and k[2] == plural]:
                del self._types[key]
            for rt in types:
                self._types[(rt.group, rt.version, rt.plural)] = rt

    def groups(self) -> dict[str, list[str]]:
        """Group name -> served versions, preferred (first registered) first."""
        out: dict[str, list[str]] = {}
        for rt in self.all():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return out


def with_version(rt: ResourceType, version: str) -> ResourceType:
    return replace(rt, version=version)
