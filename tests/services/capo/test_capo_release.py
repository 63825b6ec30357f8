"""CAPO's release artefacts: infrastructure-components.yaml installs, metadata.yaml maps the
0.15 series to the v1beta2 contract, and every cluster template renders with clusterctl's
substitution into objects the CRDs (CEL rules, defaults) of the in-memory API server accept.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from osk8s_testing.kubeapi import KubeApiServer

from . import capo_release_objects as rel

TEMPLATES = ("cluster-template.yaml", "cluster-template-without-lb.yaml")
CAPO_VARIABLES = {
    "CLUSTER_NAME",
    "KUBERNETES_VERSION",
    "WORKER_MACHINE_COUNT",
    "OPENSTACK_CLOUD",
    "OPENSTACK_CLOUD_YAML_B64",
    "OPENSTACK_CLOUD_CACERT_B64",
    "OPENSTACK_EXTERNAL_NETWORK_ID",
    "OPENSTACK_DNS_NAMESERVERS",
    "OPENSTACK_FAILURE_DOMAIN",
    "OPENSTACK_IMAGE_NAME",
    "OPENSTACK_SSH_KEY_NAME",
    "OPENSTACK_CONTROL_PLANE_MACHINE_FLAVOR",
    "OPENSTACK_NODE_MACHINE_FLAVOR",
}
ENV = {
    "CLUSTER_NAME": "demo",
    "KUBERNETES_VERSION": "v1.34.1",
    "CONTROL_PLANE_MACHINE_COUNT": "3",
    "WORKER_MACHINE_COUNT": "2",
    "OPENSTACK_CLOUD": "openstack",
    "OPENSTACK_CLOUD_YAML_B64": base64.b64encode(b"clouds: {}\n").decode(),
    "OPENSTACK_CLOUD_CACERT_B64": base64.b64encode(b"\n").decode(),
    "OPENSTACK_EXTERNAL_NETWORK_ID": "90297b8b-763c-4308-89b3-aae14e78d087",
    "OPENSTACK_DNS_NAMESERVERS": "192.0.2.53",
    "OPENSTACK_FAILURE_DOMAIN": "az-1",
    "OPENSTACK_IMAGE_NAME": "ubuntu-2404-kube-v1.34.1",
    "OPENSTACK_SSH_KEY_NAME": "ops",
    "OPENSTACK_CONTROL_PLANE_MACHINE_FLAVOR": "m1.medium",
    "OPENSTACK_NODE_MACHINE_FLAVOR": "m1.small",
}
CLUSTER_SCOPED = {
    "ClusterRole",
    "ClusterRoleBinding",
    "Namespace",
    "CustomResourceDefinition",
    "ValidatingWebhookConfiguration",
}
# Kinds of the CAPI core/kubeadm providers whose CRDs are not vendored (CAPO never reads them):
# their objects are checked for references only.
NOT_SERVED_HERE = {"KubeadmControlPlane", "MachineDeployment", "KubeadmConfigTemplate"}


def test_envsubst_semantics() -> None:
    text = "a=${A} b=${B:=dflt} c=${C:-x} d=${D=y} e=$E"
    assert rel.envsubst(text, {"A": "1", "B": "", "C": "3", "D": "", "E": "5"}) == (
        "a=1 b=dflt c=3 d= e=5"
    )
    with pytest.raises(rel.MissingVariables, match=r"\[A, E\]"):
        rel.envsubst(text, {})
    assert rel.variables(text) == ({"A", "E"}, {"B", "C", "D"})


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_uses_capos_variables(name: str) -> None:
    required, optional = rel.variables((rel.RELEASE / name).read_text())
    assert required - {"CONTROL_PLANE_MACHINE_COUNT"} == CAPO_VARIABLES
    assert not optional
    with pytest.raises(rel.MissingVariables, match="OPENSTACK_IMAGE_NAME"):
        rel.envsubst((rel.RELEASE / name).read_text(), {**ENV, "OPENSTACK_IMAGE_NAME": None})  # type: ignore[dict-item]


def test_metadata_maps_015_to_v1beta2() -> None:
    meta = yaml.safe_load((rel.RELEASE / "metadata.yaml").read_text())
    assert meta["apiVersion"] == "clusterctl.cluster.x-k8s.io/v1alpha3"
    series = {(s["major"], s["minor"]): s["contract"] for s in meta["releaseSeries"]}
    assert series[(0, 15)] == "v1beta2" and series[(0, 14)] == "v1beta1"


def test_components_file_is_current_and_labelled() -> None:
    build = rel.RELEASE / "build.py"
    done = subprocess.run(
        [sys.executable, str(build), "--check"], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout
    docs = rel.documents(rel.COMPONENTS.read_text())
    kinds = sorted({d["kind"] for d in docs})
    assert "ValidatingWebhookConfiguration" in kinds and "Deployment" in kinds
    for doc in docs:
        labels = doc["metadata"].get("labels") or {}
        assert labels.get("cluster.x-k8s.io/provider") == "infrastructure-openstack", doc["kind"]
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"]["namespace"] == "capo-system", doc["metadata"]["name"]
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    assert len(crds) == 7
    for crd in crds:
        # the contract label clusterctl and CAPI read to pick the version to use
        assert crd["metadata"]["labels"]["cluster.x-k8s.io/v1beta2"] == "v1beta2"
    hooks = next(d for d in docs if d["kind"] == "ValidatingWebhookConfiguration")["webhooks"]
    assert {h["clientConfig"]["service"]["name"] for h in hooks} == {"capo-webhook-service"}
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    ports = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert {"containerPort": 9443, "name": "webhook-server", "protocol": "TCP"} in ports


@pytest.fixture(scope="module")
def api_with_crds() -> Iterator[Any]:
    """One API server with the CRDs for the module (installing them takes seconds); each
    test works in its own namespace."""
    with KubeApiServer() as server:
        api = server.api_client()
        rel.install_capo_and_capi(api)
        yield api


def test_components_install_into_the_api_server(api_with_crds: Any) -> None:
    ext = k8s.ApiextensionsV1Api(api_with_crds)
    names = {c.metadata.name for c in ext.list_custom_resource_definition().items}
    assert "openstackmachines.infrastructure.cluster.x-k8s.io" in names
    assert "openstackservers.infrastructure.cluster.x-k8s.io" in names


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_renders_to_objects_the_crds_accept(api_with_crds: Any, name: str) -> None:
    namespace = rel.namespace(api_with_crds, name.removesuffix(".yaml"))
    docs = rel.documents(rel.envsubst((rel.RELEASE / name).read_text(), ENV))
    kinds = [d["kind"] for d in docs]
    assert kinds.count("OpenStackMachineTemplate") == 2 and "OpenStackCluster" in kinds
    created: dict[str, dict[str, Any]] = {}
    for doc in docs:
        if doc["kind"] in NOT_SERVED_HERE:
            continue
        created[doc["kind"] + "/" + doc["metadata"]["name"]] = rel.create(
            api_with_crds, doc, namespace
        )
    osc = created["OpenStackCluster/demo"]
    # the CRD's defaults were applied, as kube-apiserver would
    assert osc["spec"]["identityRef"]["type"] == "Secret"
    if name == "cluster-template.yaml":
        assert osc["spec"]["apiServer"]["managedLoadBalancer"]["enabled"] is True
    else:
        assert "managedLoadBalancer" not in osc["spec"]["apiServer"]
        kcp = next(d for d in docs if d["kind"] == "KubeadmControlPlane")
        assert kcp["spec"]["replicas"] == 1
    cluster = created["Cluster/demo"]
    assert cluster["spec"]["infrastructureRef"] == {
        "apiGroup": "infrastructure.cluster.x-k8s.io",
        "kind": "OpenStackCluster",
        "name": "demo",
    }
    # every reference between the rendered objects resolves to a rendered object
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    md = next(d for d in docs if d["kind"] == "MachineDeployment")["spec"]["template"]["spec"]
    kcp = next(d for d in docs if d["kind"] == "KubeadmControlPlane")["spec"]
    for ref in (
        md["infrastructureRef"],
        md["bootstrap"]["configRef"],
        kcp["machineTemplate"]["spec"]["infrastructureRef"],
        cluster["spec"]["controlPlaneRef"],
    ):
        assert (ref["kind"], ref["name"]) in names, ref
    assert md["failureDomain"] == "az-1"


def test_crds_reject_what_upstream_rejects(api_with_crds: Any) -> None:
    docs = rel.documents(rel.envsubst((rel.RELEASE / TEMPLATES[0]).read_text(), ENV))
    tmpl = next(d for d in docs if d["kind"] == "OpenStackMachineTemplate")
    # ID-or-filter is one of: both is refused by the schema (maxProperties)
    tmpl["spec"]["template"]["spec"]["flavor"] = {"id": "x", "filter": {"name": "y"}}
    with pytest.raises(ApiException) as err:
        rel.create(api_with_crds, tmpl, "default")
    assert err.value.status == 422


def test_release_manager_args_are_accepted_by_our_binary() -> None:
    """The Deployment's args, rendered with their defaults as clusterctl would, parse with
    capo-controller-manager's flags (the webhook port and cert dir match the mounts)."""
    from osk8s_capo.cli import build_parser

    docs = rel.documents(rel.envsubst(rel.COMPONENTS.read_text(), {}))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    args = build_parser().parse_args(container["args"])
    assert args.leader_elect is True
    assert args.feature_gates == {"PriorityQueue": True, "AutoScaleFromZero": False}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "cert")
    assert args.webhook_cert_dir.rstrip("/") == mount["mountPath"].rstrip("/")
    assert {"containerPort": args.webhook_port, "name": "webhook-server", "protocol": "TCP"} in (
        container["ports"]
    )
