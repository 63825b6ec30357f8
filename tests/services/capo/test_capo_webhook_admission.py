"""The real admission path: the released CRDs and ValidatingWebhookConfiguration in the
in-memory API server, which calls our HTTPS webhook server as kube-apiserver would
(AdmissionReview v1, v1beta1 for OpenStackServer), with the CA cert-manager would inject.
Edits of immutable fields are refused with CAPO's message; allowed edits go through.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from osk8s_capo.webhooks_server import WebhookServer, WebhookServerOptions
from osk8s_testing.kubeapi import KubeApiServer, ServerConfig
from osk8s_testing.kubeapi.admission import AdmissionConfig
from osk8s_testing.tls import self_signed_localhost

from . import capo_release_objects as rel

GROUP = "infrastructure.cluster.x-k8s.io"
NET = "6e2f5f0a-9a39-4d3c-9d6e-2d9f7b1c0a11"
IMG = "0b6c9d6e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    certs: Path = tmp_path_factory.mktemp("webhook-certs")
    self_signed_localhost(certs)
    options = WebhookServerOptions(cert_dir=str(certs), port=0, host="127.0.0.1")
    with WebhookServer(options) as hooks:
        endpoints = {("capo-system", "capo-webhook-service"): hooks.address[1]}
        config = ServerConfig(admission=AdmissionConfig(service_endpoints=endpoints))
        with KubeApiServer(config) as server:
            client = server.api_client()
            rel.install_capo_and_capi(client)
            docs = rel.documents(rel.COMPONENTS.read_text())
            webhook_config = next(d for d in docs if d["kind"] == "ValidatingWebhookConfiguration")
            ca = base64.b64encode((certs / "tls.crt").read_bytes()).decode()
            for hook in webhook_config["webhooks"]:
                hook["clientConfig"]["caBundle"] = ca  # what cert-manager's cainjector does
            k8s.AdmissionregistrationV1Api(client).create_validating_webhook_configuration(
                webhook_config
            )
            yield client


def custom(api: Any) -> k8s.CustomObjectsApi:
    return k8s.CustomObjectsApi(api)


def machine_body(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1beta2",
        "kind": "OpenStackMachine",
        "metadata": {"name": name},
        "spec": {
            "flavor": {"filter": {"name": "m1.small"}},
            "image": {"filter": {"name": "ubuntu"}},
            "ports": [{"network": {"id": NET}, "allowedAddressPairs": [{"ipAddress": "10.0.0.5"}]}],
        },
    }


@dataclass(frozen=True)
class Denial:
    status: int
    message: str


def denied(call: Any) -> Denial:
    with pytest.raises(ApiException) as err:
        call()
    return Denial(err.value.status, json.loads(err.value.body)["message"])


def test_machine_immutable_fields(api: Any) -> None:
    objs = custom(api)
    created = objs.create_namespaced_custom_object(
        GROUP, "v1beta2", "default", "openstackmachines", machine_body("m-immutable")
    )
    # allowed: providerID once, identityRef, allowedAddressPairs
    patch = {
        "spec": {
            "providerID": "openstack:///0b1c",
            "identityRef": {"name": "rotated", "cloudName": "openstack"},
            "ports": [{"network": {"id": NET}, "allowedAddressPairs": [{"ipAddress": "10.0.0.6"}]}],
        }
    }
    objs.patch_namespaced_custom_object(
        GROUP, "v1beta2", "default", "openstackmachines", "m-immutable", patch
    )
    err = denied(
        lambda: objs.patch_namespaced_custom_object(
            GROUP,
            "v1beta2",
            "default",
            "openstackmachines",
            "m-immutable",
            {"spec": {"flavor": {"filter": {"name": "other"}}}},
        )
    )
    assert err.status == 422
    assert (
        'admission webhook "validation.openstackmachine.v1beta2.infrastructure.cluster.x-k8s.io" '
        "denied the request" in err.message
    )
    assert "spec: Forbidden: cannot be modified" in err.message
    assert created["metadata"]["name"] == "m-immutable"


def test_machine_create_rules_through_the_api(api: Any) -> None:
    body = machine_body("m-root")
    body["spec"]["rootVolume"] = {"sizeGiB": 10}
    body["spec"]["additionalBlockDevices"] = [
        {"name": "root", "sizeGiB": 1, "storage": {"type": "Local"}}
    ]
    err = denied(
        lambda: custom(api).create_namespaced_custom_object(
            GROUP, "v1beta2", "default", "openstackmachines", body
        )
    )
    assert err.status == 422 and 'cannot contain a device named "root"' in err.message


def test_template_rules(api: Any) -> None:
    spec = machine_body("x")["spec"]
    tmpl = {
        "apiVersion": f"{GROUP}/v1beta2",
        "kind": "OpenStackMachineTemplate",
        "metadata": {"name": "t1"},
        "spec": {"template": {"spec": copy.deepcopy(spec)}},
    }
    with_id = copy.deepcopy(tmpl)
    with_id["spec"]["template"]["spec"]["providerID"] = "openstack:///x"
    err = denied(
        lambda: custom(api).create_namespaced_custom_object(
            GROUP, "v1beta2", "default", "openstackmachinetemplates", with_id
        )
    )
    assert "cannot be set in templates" in err.message
    custom(api).create_namespaced_custom_object(
        GROUP, "v1beta2", "default", "openstackmachinetemplates", tmpl
    )
    err = denied(
        lambda: custom(api).patch_namespaced_custom_object(
            GROUP,
            "v1beta2",
            "default",
            "openstackmachinetemplates",
            "t1",
            {"spec": {"template": {"spec": {"sshKeyName": "new"}}}},
        )
    )
    assert "spec.template.spec field is immutable" in err.message


def test_server_is_immutable_over_a_v1beta1_review(api: Any) -> None:
    server = {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "OpenStackServer",
        "metadata": {"name": "s1"},
        "spec": {
            "flavor": "m1.small",
            "image": {"id": IMG},
            "identityRef": {"name": "cloud", "cloudName": "openstack"},
            "ports": [{"network": {"id": NET}}],
            "sshKeyName": "",
        },
    }
    custom(api).create_namespaced_custom_object(
        GROUP, "v1alpha1", "default", "openstackservers", server
    )
    err = denied(
        lambda: custom(api).patch_namespaced_custom_object(
            GROUP, "v1alpha1", "default", "openstackservers", "s1", {"spec": {"flavor": "big"}}
        )
    )
    assert "OpenStackServer spec field is immutable" in err.message
    # status is not the spec: the controller's status writes pass
    custom(api).patch_namespaced_custom_object_status(
        GROUP, "v1alpha1", "default", "openstackservers", "s1", {"status": {"ready": False}}
    )


def test_cluster_bastion_removal_needs_disabling_first(api: Any) -> None:
    body = {
        "apiVersion": f"{GROUP}/v1beta2",
        "kind": "OpenStackCluster",
        "metadata": {"name": "c1"},
        "spec": {
            "identityRef": {"name": "cloud", "cloudName": "openstack"},
            "bastion": {"enabled": True, "spec": machine_body("b")["spec"]},
        },
    }
    custom(api).create_namespaced_custom_object(
        GROUP, "v1beta2", "default", "openstackclusters", body
    )
    err = denied(
        lambda: custom(api).patch_namespaced_custom_object(
            GROUP, "v1beta2", "default", "openstackclusters", "c1", {"spec": {"bastion": None}}
        )
    )
    assert "spec.bastion: Forbidden: cannot be removed before disabling it" in err.message
    custom(api).patch_namespaced_custom_object(
        GROUP,
        "v1beta2",
        "default",
        "openstackclusters",
        "c1",
        {"spec": {"bastion": {"enabled": False, "spec": None}}},
    )
    custom(api).patch_namespaced_custom_object(
        GROUP, "v1beta2", "default", "openstackclusters", "c1", {"spec": {"bastion": None}}
    )
    got = custom(api).get_namespaced_custom_object(
        GROUP, "v1beta2", "default", "openstackclusters", "c1"
    )
    assert "bastion" not in got["spec"]
