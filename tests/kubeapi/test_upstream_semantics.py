"""Semantics pinned to kube-apiserver v1.36: each test names the upstream behaviour and where
it is documented (docs URL or the Kubernetes source path that implements it)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client, dynamic, watch

from osk8s_testing.kubeapi import KubeApiServer

from .conftest import status_body

# -- deletion propagation ----------------------------------------------------------------------
# https://kubernetes.io/docs/concepts/architecture/garbage-collection/#foreground-deletion
# and staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go
# (deletionFinalizersForGarbageCollection): the owner stays with deletionTimestamp and the
# foregroundDeletion / orphan finalizer until the collector has handled its dependents.


def _ref(owner: Any, *, block: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": owner.metadata.name,
        "uid": owner.metadata.uid,
        "blockOwnerDeletion": block,
    }


def _events(core: client.CoreV1Api, since: str) -> list[tuple[str, str, list[str]]]:
    """Watch events from ``since`` until the owner is DELETED."""
    seen = []
    w = watch.Watch()
    for event in w.stream(
        core.list_namespaced_config_map, "default", resource_version=since, timeout_seconds=5
    ):
        obj = event["object"]
        seen.append((event["type"], obj.metadata.name, list(obj.metadata.finalizers or [])))
        if seen[-1][:2] == ("DELETED", "owner"):
            w.stop()
    return seen


def test_foreground_delete_shows_finalizer_then_deleted(core: client.CoreV1Api) -> None:
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    response = core.delete_namespaced_config_map(
        "owner", "default", propagation_policy="Foreground"
    )
    # the DELETE answers the object pending its finalizer, not a Success Status
    assert response["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert response["metadata"]["deletionTimestamp"]
    assert _events(core, owner.metadata.resource_version) == [
        ("MODIFIED", "owner", ["foregroundDeletion"]),
        ("MODIFIED", "owner", []),
        ("DELETED", "owner", []),
    ]


def test_foreground_deletes_dependents_before_owner(core: client.CoreV1Api) -> None:
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    child = core.create_namespaced_config_map(
        "default", {"metadata": {"name": "child", "ownerReferences": [_ref(owner, block=True)]}}
    )
    core.delete_namespaced_config_map("owner", "default", propagation_policy="Foreground")
    events = _events(core, child.metadata.resource_version)
    assert [name for kind, name, _ in events if kind == "DELETED"] == ["child", "owner"]
    assert events[0] == ("MODIFIED", "owner", ["foregroundDeletion"])
    # the dependent is itself deleted in the foreground, the owner's finalizer goes last
    assert ("MODIFIED", "child", ["foregroundDeletion"]) in events
    assert events[-2:] == [("MODIFIED", "owner", []), ("DELETED", "owner", [])]


def test_orphan_delete_shows_orphan_finalizer_and_keeps_dependents(
    core: client.CoreV1Api,
) -> None:
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    child = core.create_namespaced_config_map(
        "default", {"metadata": {"name": "child", "ownerReferences": [_ref(owner)]}}
    )
    response = core.delete_namespaced_config_map("owner", "default", propagation_policy="Orphan")
    assert response["metadata"]["finalizers"] == ["orphan"]
    events = _events(core, child.metadata.resource_version)
    assert events == [
        ("MODIFIED", "owner", ["orphan"]),
        ("MODIFIED", "child", []),  # owner reference removed
        ("MODIFIED", "owner", []),
        ("DELETED", "owner", []),
    ]
    assert core.read_namespaced_config_map("child", "default").metadata.owner_references is None


def test_background_is_the_default_and_answers_success_status(core: client.CoreV1Api) -> None:
    # DefaultGarbageCollectionPolicy is DeleteDependents for the types served here
    # (pkg/registry/*/strategy.go; Orphan only for legacy extensions/apps beta versions)
    core.create_namespaced_config_map("default", {"metadata": {"name": "gone"}})
    response = core.delete_namespaced_config_map("gone", "default")
    assert response["status"] == "Success"


# -- ownerReferences validation ----------------------------------------------------------------
# staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go validateOwnerReference


@pytest.mark.parametrize("missing", ["uid", "name", "kind"])
def test_owner_reference_fields_are_required(api_client: Any, missing: str) -> None:
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "u-1"}
    ref[missing] = ""  # the typed client refuses a missing field before sending
    configmaps = dynamic.DynamicClient(api_client).resources.get(api_version="v1", kind="ConfigMap")
    with pytest.raises(client.ApiException) as exc:
        configmaps.create(
            body={"metadata": {"name": "child", "ownerReferences": [ref]}}, namespace="default"
        )
    assert exc.value.status == 422
    body = status_body(exc.value)
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == f"metadata.ownerReferences.{missing}"
    assert f"{missing} must not be empty" in body["message"]


def test_owner_reference_without_uid_refused_on_patch(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "child"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": ""}
    with pytest.raises(client.ApiException) as exc:
        core.patch_namespaced_config_map(
            "child", "default", {"metadata": {"ownerReferences": [ref]}}
        )
    assert exc.value.status == 422


def test_only_one_controller_reference(core: client.CoreV1Api) -> None:
    refs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": n, "uid": n, "controller": True}
        for n in ("a", "b")
    ]
    with pytest.raises(client.ApiException) as exc:
        core.create_namespaced_config_map(
            "default", {"metadata": {"name": "child", "ownerReferences": refs}}
        )
    assert exc.value.status == 422
    assert "Only one reference can have Controller set to true" in status_body(exc.value)["message"]


# -- label selectors ---------------------------------------------------------------------------
# staging/src/k8s.io/apimachinery/pkg/labels/selector.go (Parse -> NewRequirement validation);
# kube-apiserver answers 400 BadRequest for a selector it cannot parse


@pytest.mark.parametrize("selector", ["a=b=c", "a b", "x in ()", "-bad-=v", "a=" + "v" * 64])
def test_unparsable_label_selector_is_400(core: client.CoreV1Api, selector: str) -> None:
    with pytest.raises(client.ApiException) as exc:
        core.list_namespaced_config_map("default", label_selector=selector)
    assert exc.value.status == 400
    assert status_body(exc.value)["reason"] == "BadRequest"


def test_valid_label_selectors_still_parse(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "a", "labels": {"example.com/app": "web"}}}
    )
    for selector in ("example.com/app=web", "example.com/app in (web,db)", "example.com/app"):
        listed = core.list_namespaced_config_map("default", label_selector=selector)
        assert [c.metadata.name for c in listed.items] == ["a"]


# -- remainingItemCount ------------------------------------------------------------------------
# staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go GetList: "Only set
# remainingItemCount if the predicate is empty" (API concepts: "Retrieving large results
# sets in chunks", https://kubernetes.io/docs/reference/using-api/api-concepts/)


def test_remaining_item_count_only_without_selector(core: client.CoreV1Api) -> None:
    for name in ("a", "b", "c"):
        core.create_namespaced_config_map(
            "default", {"metadata": {"name": name, "labels": {"k": "v"}}}
        )
    plain = core.list_namespaced_config_map("default", limit=1)
    assert plain.metadata.remaining_item_count == 2
    selected = core.list_namespaced_config_map("default", limit=1, label_selector="k=v")
    assert selected.metadata._continue
    assert selected.metadata.remaining_item_count is None
    last = core.list_namespaced_config_map("default", limit=5)
    assert last.metadata.remaining_item_count is None and last.metadata._continue is None


# -- resourceVersionMatch=Exact at a compacted version -----------------------------------------
# https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions: "410 Gone"
# with reason Expired when the requested version has been compacted


def test_exact_list_at_compacted_version_is_410_expired(
    kube_api: KubeApiServer, core: client.CoreV1Api
) -> None:
    made = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    core.patch_namespaced_config_map("a", "default", {"data": {"v": "2"}})
    kube_api.store.compact()
    with pytest.raises(client.ApiException) as exc:
        core.list_namespaced_config_map(
            "default",
            resource_version=made.metadata.resource_version,
            resource_version_match="Exact",
        )
    assert exc.value.status == 410
    body = status_body(exc.value)
    assert body["reason"] == "Expired"
    assert "too old" in body["message"]


# -- strategic merge patch list order ----------------------------------------------------------
# staging/src/k8s.io/apimachinery/pkg/util/strategicpatch/patch.go mergeSlice ->
# normalizeElementOrder -> mergeSortedSlice(serverOnly, patch, serverOrder): an item the live
# list does not have is placed before the server-only items; $setElementOrder sets the order


def _service(core: client.CoreV1Api) -> None:
    core.create_namespaced_service(
        "default",
        {
            "metadata": {"name": "web"},
            "spec": {"ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]},
        },
    )


def test_smp_added_port_comes_first(core: client.CoreV1Api) -> None:
    _service(core)
    patched = core.patch_namespaced_service(
        "web", "default", {"spec": {"ports": [{"name": "alt", "port": 8080}]}}
    )
    assert [p.port for p in patched.spec.ports] == [8080, 80, 443]


def test_smp_set_element_order_is_honoured(core: client.CoreV1Api) -> None:
    _service(core)
    patched = core.patch_namespaced_service(
        "web",
        "default",
        {
            "spec": {
                "$setElementOrder/ports": [{"port": 443}, {"port": 80}, {"port": 8080}],
                "ports": [{"name": "alt", "port": 8080}],
            }
        },
    )
    assert [p.port for p in patched.spec.ports] == [443, 80, 8080]


def test_smp_finalizer_added_first(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "f", "finalizers": ["example.com/a"]}}
    )
    patched = core.patch_namespaced_config_map(
        "f", "default", {"metadata": {"finalizers": ["example.com/b"]}}
    )
    assert patched.metadata.finalizers == ["example.com/b", "example.com/a"]
    core.patch_namespaced_config_map("f", "default", {"metadata": {"finalizers": None}})


# -- immutable fields of built-in types --------------------------------------------------------
# pkg/apis/core/validation/validation.go (ValidateServiceUpdate ->
# validateUpgradeDowngradeClusterIPs, ValidateNodeUpdate, ValidateSecretUpdate,
# ValidatePersistentVolumeClaimUpdate), pkg/apis/storage/validation (ValidateStorageClassUpdate),
# pkg/apis/networking/validation (ValidateIngressClassUpdate)


def _invalid_field(exc: pytest.ExceptionInfo[client.ApiException]) -> str:
    assert exc.value.status == 422
    body = status_body(exc.value)
    assert body["reason"] == "Invalid"
    return str(body["details"]["causes"][0]["field"])


def test_service_cluster_ip_is_immutable(core: client.CoreV1Api) -> None:
    _service(core)
    with pytest.raises(client.ApiException) as exc:
        core.patch_namespaced_service("web", "default", {"spec": {"clusterIP": "10.96.99.99"}})
    assert _invalid_field(exc) == "spec.clusterIPs[0]"
    assert "may not change once set" in status_body(exc.value)["message"]
    # other spec changes still go through
    core.patch_namespaced_service("web", "default", {"spec": {"sessionAffinity": "ClientIP"}})


def test_node_provider_id_only_from_unset(core: client.CoreV1Api) -> None:
    core.create_node({"metadata": {"name": "n1"}})
    core.patch_node("n1", {"spec": {"providerID": "openstack:///a"}})  # "" -> set is allowed
    with pytest.raises(client.ApiException) as exc:
        core.patch_node("n1", {"spec": {"providerID": "openstack:///b"}})
    assert _invalid_field(exc) == "spec.providerID"


def test_secret_type_is_immutable(core: client.CoreV1Api) -> None:
    core.create_namespaced_secret("default", {"metadata": {"name": "s"}, "type": "Opaque"})
    with pytest.raises(client.ApiException) as exc:
        core.patch_namespaced_secret("s", "default", {"type": "kubernetes.io/tls"})
    assert _invalid_field(exc) == "type"


def test_pvc_spec_immutable_except_requests(core: client.CoreV1Api) -> None:
    core.create_namespaced_persistent_volume_claim(
        "default",
        {
            "metadata": {"name": "c"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "storageClassName": "a",
            },
        },
    )
    core.patch_namespaced_persistent_volume_claim(
        "c", "default", {"spec": {"resources": {"requests": {"storage": "2Gi"}}}}
    )
    with pytest.raises(client.ApiException) as exc:
        core.patch_namespaced_persistent_volume_claim(
            "c", "default", {"spec": {"storageClassName": "b"}}
        )
    assert _invalid_field(exc) == "spec"


def test_storage_class_parameters_and_ingress_class_controller_immutable(
    api_client: Any,
) -> None:
    storage = client.StorageV1Api(api_client)
    storage.create_storage_class(
        {"metadata": {"name": "sc"}, "provisioner": "cinder.csi.openstack.org"}
    )
    with pytest.raises(client.ApiException) as exc:
        storage.patch_storage_class("sc", {"parameters": {"type": "ssd"}})
    assert _invalid_field(exc) == "parameters"
    networking = client.NetworkingV1Api(api_client)
    networking.create_ingress_class(
        {"metadata": {"name": "ic"}, "spec": {"controller": "k8s.io/octavia-ingress"}}
    )
    with pytest.raises(client.ApiException) as exc2:
        networking.patch_ingress_class("ic", {"spec": {"controller": "example.com/other"}})
    assert _invalid_field(exc2) == "spec.controller"


def test_status_subresource_write_skips_spec_immutability(core: client.CoreV1Api) -> None:
    _service(core)
    patched = core.patch_namespaced_service_status(
        "web", "default", {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}}
    )
    assert patched.status.load_balancer.ingress[0].ip == "192.0.2.10"


# -- what the cloud controller manager does to a LoadBalancer Service ---------------------------
# https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer and
# pkg/apis/core/types.go: status.loadBalancer.ingress has no patch strategy (atomic: replaced
# by a strategic merge patch); /status writes change status only


def test_ccm_load_balancer_service_flow(core: client.CoreV1Api) -> None:
    core.create_namespaced_service(
        "default",
        {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}},
    )
    cleanup = "service.kubernetes.io/load-balancer-cleanup"
    core.patch_namespaced_service("lb", "default", {"metadata": {"finalizers": [cleanup]}})
    core.patch_namespaced_service_status(
        "lb", "default", {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}
    )
    patched = core.patch_namespaced_service_status(
        "lb",
        "default",
        {
            "spec": {"type": "ClusterIP"},  # ignored on /status
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.2", "ipMode": "VIP"}]}},
        },
    )
    assert [i.ip for i in patched.status.load_balancer.ingress] == ["192.0.2.2"]
    assert patched.spec.type == "LoadBalancer"
    assert patched.spec.ports[0].node_port  # allocated for LoadBalancer services
    deleting = core.delete_namespaced_service("lb", "default")
    assert deleting.metadata.deletion_timestamp is not None  # held by the cleanup finalizer
    core.patch_namespaced_service(
        "lb", "default", {"metadata": {"$deleteFromPrimitiveList/finalizers": [cleanup]}}
    )
    with pytest.raises(client.ApiException) as exc:
        core.read_namespaced_service("lb", "default")
    assert exc.value.status == 404


def test_smp_set_element_order_alone_reorders_a_primitive_list(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "o", "finalizers": ["example.com/a", "example.com/b"]}}
    )
    patched = core.patch_namespaced_config_map(
        "o",
        "default",
        {"metadata": {"$setElementOrder/finalizers": ["example.com/b", "example.com/a"]}},
    )
    assert patched.metadata.finalizers == ["example.com/b", "example.com/a"]
    core.patch_namespaced_config_map("o", "default", {"metadata": {"finalizers": None}})


# -- ListOptions validation --------------------------------------------------------------------
# staging/src/k8s.io/apimachinery/pkg/apis/meta/internalversion/validation ValidateListOptions,
# answered as NewInvalid(ListOptions) by handlers/get.go ListResource


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"resource_version_match": "Exact"},
            'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
            "resourceVersionMatch is forbidden unless resourceVersion is provided",
        ),
        (
            {"resource_version_match": "Exact", "resource_version": "0"},
            'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
            'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
        ),
        (
            {"resource_version_match": "Nearest", "resource_version": "1"},
            'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: '
            '"Nearest": supported values: "Exact", "NotOlderThan", ""',
        ),
    ],
)
def test_invalid_list_options_are_422(
    core: client.CoreV1Api, kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(client.ApiException) as exc:
        core.list_namespaced_config_map("default", **kwargs)
    assert exc.value.status == 422
    assert status_body(exc.value)["message"] == message


# -- built-in admission: DefaultIngressClass / DefaultStorageClass -----------------------------
# https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/
# (#defaultingressclass, #defaultstorageclass): a create without a class gets the default one


def test_default_ingress_class_is_filled_in(networking: client.NetworkingV1Api) -> None:
    default = {"ingressclass.kubernetes.io/is-default-class": "true"}
    networking.create_ingress_class(
        {
            "metadata": {"name": "octavia", "annotations": default},
            "spec": {"controller": "openstack.org/octavia-ingress-controller"},
        }
    )
    made = networking.create_namespaced_ingress("default", {"metadata": {"name": "a"}})
    assert made.spec.ingress_class_name == "octavia"
    legacy = networking.create_namespaced_ingress(
        "default",
        {"metadata": {"name": "b", "annotations": {"kubernetes.io/ingress.class": "nginx"}}},
    )
    assert legacy.spec is None or legacy.spec.ingress_class_name is None
    chosen = networking.create_namespaced_ingress(
        "default", {"metadata": {"name": "c"}, "spec": {"ingressClassName": "other"}}
    )
    assert chosen.spec.ingress_class_name == "other"


def test_default_storage_class_is_filled_in(api_client: Any, core: client.CoreV1Api) -> None:
    storage = client.StorageV1Api(api_client)
    for name in ("b-default", "a-default"):
        storage.create_storage_class(
            {
                "metadata": {
                    "name": name,
                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                },
                "provisioner": "cinder.csi.openstack.org",
            }
        )
    claim = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    made = core.create_namespaced_persistent_volume_claim(
        "default", {"metadata": {"name": "c1"}, "spec": claim}
    )
    # two defaults created in the same second: the newest wins, ties by name
    assert made.spec.storage_class_name == "a-default"
    explicit_none = core.create_namespaced_persistent_volume_claim(
        "default", {"metadata": {"name": "c2"}, "spec": {**claim, "storageClassName": ""}}
    )
    assert explicit_none.spec.storage_class_name == ""


@pytest.mark.parametrize(
    ("api_version", "kind", "body", "change", "field"),
    [
        ("v1", "Node", {"spec": {"podCIDRs": ["10.244.0.0/24"]}},
         {"spec": {"podCIDRs": ["10.244.1.0/24"]}}, "spec.podCIDRs"),
        ("v1", "PersistentVolume",
         {"spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                   "csi": {"driver": "cinder.csi.openstack.org", "volumeHandle": "v1"}}},
         {"spec": {"csi": {"volumeHandle": "v2"}}}, "spec.persistentvolumesource"),
        ("storage.k8s.io/v1", "VolumeAttachment",
         {"spec": {"attacher": "cinder.csi.openstack.org", "nodeName": "n1",
                   "source": {"persistentVolumeName": "pv"}}},
         {"spec": {"nodeName": "n2"}}, "spec"),
        ("storage.k8s.io/v1", "CSIDriver", {"spec": {"attachRequired": True}},
         {"spec": {"attachRequired": False}}, "spec.attachRequired"),
        ("discovery.k8s.io/v1", "EndpointSlice", {"addressType": "IPv4", "endpoints": []},
         {"addressType": "IPv6"}, "addressType"),
        ("apps/v1", "Deployment",
         {"spec": {"selector": {"matchLabels": {"app": "a"}},
                   "template": {"metadata": {"labels": {"app": "a"}}}}},
         {"spec": {"selector": {"matchLabels": {"app": "b"}}}}, "spec.selector"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding",
         {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "a"}},
         {"roleRef": {"name": "b"}}, "roleRef"),
    ],
)  # fmt: skip
def test_more_immutable_fields(
    api_client: Any,
    *,
    api_version: str,
    kind: str,
    body: dict[str, Any],
    change: dict[str, Any],
    field: str,
) -> None:
    resource = dynamic.DynamicClient(api_client).resources.get(api_version=api_version, kind=kind)
    namespace = "default" if resource.namespaced else None
    resource.create(body={"metadata": {"name": "x"}, **body}, namespace=namespace)
    with pytest.raises(client.ApiException) as exc:
        resource.patch(
            name="x",
            namespace=namespace,
            body=change,
            content_type="application/merge-patch+json",
        )
    assert _invalid_field(exc) == field
