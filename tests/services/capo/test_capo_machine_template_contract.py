"""OpenStackMachineTemplate capacity for autoscaling from zero (feature gate AutoScaleFromZero)
on the test cloud: cpu/memory/storage from the flavor (storage from rootVolume when set), the
operating system from the image's ``os_type``; an unchanged template is not written again;
ephemeral-storage from a flavor with an ephemeral disk; a template owned by a ClusterClass is
skipped (capo.md §2.13); the controller is registered only with the gate on.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import openstack
import pytest
from kubernetes import client as k8s
from openstack.config.loader import OpenStackConfig
from openstack.connection import Connection

from osk8s_capo.credentials import ConnectionSource, CredentialResolver
from osk8s_capo.kube import KubeObjects
from osk8s_capo.scope import ScopeFactory
from osk8s_capo.templates import OPENSTACK_MACHINE_TEMPLATE, TemplateReconciler
from osk8s_core.credentials import ClientSettings, ConnectionCache
from osk8s_core.logging import get_logger
from osk8s_core.metrics import ApiMetrics
from osk8s_testing.kubeapi import KubeApiServer
from osk8s_testing.testcloud.layout import Layout
from osk8s_testing.testcloud.outputs import ADMIN_CLOUD

from . import capo_release_objects as rel

pytestmark = pytest.mark.contract


@pytest.fixture(scope="module")
def api() -> Iterator[Any]:
    with KubeApiServer() as server:
        client = server.api_client()
        rel.install_capo_and_capi(client)
        yield client


@pytest.fixture(scope="module")
def ephemeral_flavor(capo_layout: Layout) -> Iterator[str]:
    """A flavor with a 2 GiB ephemeral disk (made by the admin, deleted after)."""
    config = OpenStackConfig(config_files=[str(capo_layout.clouds_yaml)], load_envvars=False)
    admin = openstack.connection.Connection(config=config.get_one(cloud=ADMIN_CLOUD))
    flavor = admin.compute.create_flavor(
        name=f"capo-tmpl-eph-{uuid.uuid4().hex[:6]}", vcpus=2, ram=1024, disk=3, ephemeral=2
    )
    yield str(flavor.name)
    admin.compute.delete_flavor(flavor.id, ignore_missing=True)
    admin.close()


def test_capacity_and_os_from_flavor_and_image(
    api: Any, demo: Connection, capo_clouds_yaml: str, ephemeral_flavor: str
) -> None:
    from prometheus_client import CollectorRegistry

    core = k8s.CoreV1Api(api)
    ns = rel.namespace(api, f"tmpl-{uuid.uuid4().hex[:6]}")
    core.create_namespaced_secret(
        ns,
        {
            "metadata": {"name": "cloud-config"},
            "data": {"clouds.yaml": base64.b64encode(capo_clouds_yaml.encode()).decode()},
        },
    )
    kube = KubeObjects(api)
    scopes = ScopeFactory(
        connections=ConnectionSource(
            resolver=CredentialResolver(secrets=kube, identities=kube),
            cache=ConnectionCache(settings=ClientSettings(component="capo-test", version="0")),
        ),
        metrics=ApiMetrics(CollectorRegistry(), prefix="capo_"),
        logger=get_logger("capo-test"),
    )
    reconciler = TemplateReconciler(kube=kube, client_for=lambda n, r: scopes.scope(n, r).client)
    image = demo.image.create_image(
        name=f"capo-os-{uuid.uuid4().hex[:6]}",
        disk_format="raw",
        container_format="bare",
        os_type="linux",
    )
    try:
        base = {
            "identityRef": {"name": "cloud-config", "cloudName": "openstack"},
            "flavor": {"filter": {"name": "osk8s.small"}},
        }
        eph = {**base, "flavor": {"filter": {"name": ephemeral_flavor}},
               "image": {"id": image.id}}  # fmt: skip
        owned = [{"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "ClusterClass",
                  "name": "cc", "uid": str(uuid.uuid4())}]  # fmt: skip
        for name, spec, owners in (
            ("t-image", {**base, "image": {"id": image.id}}, []),
            ("t-eph", eph, []),
            ("t-class", eph, owned),
            (
                "t-root",
                {
                    **base,
                    "image": {"filter": {"name": "osk8s-fake-image"}},
                    "rootVolume": {"sizeGiB": 20},
                },
                [],
            ),
        ):
            kube.create(
                OPENSTACK_MACHINE_TEMPLATE,
                ns,
                {
                    "apiVersion": OPENSTACK_MACHINE_TEMPLATE.api_version,
                    "kind": "OpenStackMachineTemplate",
                    "metadata": {"name": name, "ownerReferences": owners},
                    "spec": {"template": {"spec": spec}},
                },
            )
            assert reconciler.reconcile(ns, name) is None
        first = kube.get(OPENSTACK_MACHINE_TEMPLATE, ns, "t-image")
        root = kube.get(OPENSTACK_MACHINE_TEMPLATE, ns, "t-root")
        assert first is not None and root is not None
        assert first["status"]["capacity"] == {"cpu": "1", "memory": "512Mi", "storage": "1Gi"}
        assert first["status"]["nodeInfo"] == {"operatingSystem": "linux"}
        assert root["status"]["capacity"]["storage"] == "20Gi"
        assert "nodeInfo" not in root["status"]
        eph_tmpl = kube.get(OPENSTACK_MACHINE_TEMPLATE, ns, "t-eph")
        assert eph_tmpl is not None and eph_tmpl["status"]["capacity"] == {
            "cpu": "2", "memory": "1024Mi", "storage": "3Gi", "ephemeral-storage": "2Gi"
        }  # fmt: skip
        class_owned = kube.get(OPENSTACK_MACHINE_TEMPLATE, ns, "t-class")
        assert class_owned is not None and not class_owned.get("status")  # skipped
        version = first["metadata"]["resourceVersion"]
        reconciler.reconcile(ns, "t-image")
        again = kube.get(OPENSTACK_MACHINE_TEMPLATE, ns, "t-image")
        assert again is not None and again["metadata"]["resourceVersion"] == version
    finally:
        demo.image.delete_image(image.id, ignore_missing=True)


def test_registered_only_with_the_gate() -> None:
    from osk8s_capo import templates

    registered: list[Any] = []

    class FakeManager:
        def register(self, spec: Any) -> None:
            registered.append(spec)

    class Deps:
        feature_gates: dict[str, bool] = {}
        kube = scopes = None

        class concurrency:  # noqa: N801 - mimics the dataclass attribute
            machine_template = 3

    templates.register(FakeManager(), Deps())  # type: ignore[arg-type]
    assert registered == []
    Deps.feature_gates = {"AutoScaleFromZero": True}
    templates.register(FakeManager(), Deps())  # type: ignore[arg-type]
    assert [(s.name, s.workers) for s in registered] == [("openstackmachinetemplate", 3)]
