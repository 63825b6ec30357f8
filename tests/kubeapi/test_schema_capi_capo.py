"""The CAPO and Cluster API CRDs (/work/shared/specs/{capo,capi}/crd) served with their real
structural schemas: a table of objects that must be defaulted, accepted or rejected, each
derived from the schema (quoted in the case) and checked through the real ``kubernetes``
client. One server per module: loading the big CRDs is the costly part."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from kubernetes import client

from osk8s_testing.kubeapi.schema import cel, structural
from osk8s_testing.kubeapi.server import KubeApiServer, ServerConfig

SPECS = Path("/work/shared/specs")
CRD_FILES = sorted([*SPECS.glob("capo/crd/*.yaml"), *SPECS.glob("capi/crd/*.yaml")])
SERVED = (
    "capo/crd/infrastructure.cluster.x-k8s.io_openstackclusters.yaml",
    "capo/crd/infrastructure.cluster.x-k8s.io_openstackmachines.yaml",
    "capi/crd/cluster.x-k8s.io_clusters.yaml",
    "capi/crd/cluster.x-k8s.io_machines.yaml",
    "capi/crd/ipam.cluster.x-k8s.io_ipaddresses.yaml",
)
INFRA, CAPI = "infrastructure.cluster.x-k8s.io", "cluster.x-k8s.io"
KINDS = {
    "OpenStackCluster": (INFRA, "openstackclusters"),
    "OpenStackMachine": (INFRA, "openstackmachines"),
    "Cluster": (CAPI, "clusters"),
    "Machine": (CAPI, "machines"),
    "IPAddress": (f"ipam.{CAPI}", "ipaddresses"),
}
IDENTITY = {"cloudName": "openstack", "name": "cloud-config"}
UUID = "0b6e5c3a-9a2f-4c9e-8a43-6f6e1a7e9d11"
BASTION_SPEC = {"flavor": {"filter": {"name": "m1.small"}}, "image": {"filter": {"name": "ubuntu"}}}
MACHINE_REFS = {
    "bootstrap": {"dataSecretName": "bootstrap"},
    "infrastructureRef": {"apiGroup": INFRA, "kind": "OpenStackMachine", "name": "m"},
}

pytestmark = pytest.mark.skipif(not SPECS.is_dir(), reason="CAPO/CAPI specs not present")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the CRDs are large


@functools.cache
def _crd(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(path.read_text(), Loader=_LOADER)
    return loaded


@pytest.fixture(scope="module")
def capi_server() -> Iterator[KubeApiServer]:
    server = KubeApiServer(ServerConfig()).start()
    for name in SERVED:
        crd = _crd(SPECS / name)
        reply = requests.post(
            f"{server.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            json=crd,
            timeout=60,
        )
        assert reply.status_code == 201, reply.text
    yield server
    server.stop()


@pytest.fixture(scope="module")
def objects(capi_server: KubeApiServer) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(capi_server.api_client())


@dataclass(frozen=True)
class Case:
    id: str
    kind: str
    version: str
    spec: dict[str, Any]
    defaulted: dict[str, Any] = field(default_factory=dict)
    """Paths ("a.b") and the values the server must have set (accepted cases)."""
    causes: tuple[tuple[str, str, str], ...] = ()
    """(reason, field, message) for rejected cases, in order."""


CASES = [
    Case(
        "osc-defaults",
        "OpenStackCluster",
        "v1beta2",
        {
            "identityRef": IDENTITY,
            "bastion": {
                "spec": {
                    **BASTION_SPEC,
                    "rootVolume": {"sizeGiB": 10, "availabilityZone": {"name": "az1"}},
                }
            },
            "managedSecurityGroups": {},
            "apiServer": {"managedLoadBalancer": {}},
        },
        defaulted={
            # identityRef.type: default Secret; bastion.enabled: default true
            "identityRef.type": "Secret",
            "bastion.enabled": True,
            # availabilityZone.from: default Name (nested two objects down)
            "bastion.spec.rootVolume.availabilityZone.from": "Name",
            "managedSecurityGroups.allowAllInClusterTraffic": False,
            "apiServer.managedLoadBalancer.enabled": True,
        },
    ),
    Case(
        "osc-enum",
        "OpenStackCluster",
        "v1beta2",
        {"identityRef": {**IDENTITY, "type": "Bad"}},
        causes=(
            (
                "FieldValueNotSupported",
                "spec.identityRef.type",
                'Unsupported value: "Bad": supported values: "Secret", "ClusterIdentity"',
            ),
        ),
    ),
    Case(
        # rule: has(self.enableExternalNetwork) && !self.enableExternalNetwork
        #       ? !has(self.bastion) || !has(self.bastion.floatingIP) : true
        "osc-cel-no-external-network",
        "OpenStackCluster",
        "v1beta2",
        {
            "identityRef": IDENTITY,
            "enableExternalNetwork": False,
            "apiServer": {"enableFloatingIP": False},
            "bastion": {"spec": BASTION_SPEC, "floatingIP": "10.0.0.1"},
        },
        causes=(
            (
                "FieldValueInvalid",
                "spec",
                'Invalid value: "object": bastion floating IP cannot be set when enableExternalNetwork is false',  # noqa: E501
            ),
        ),
    ),
    Case(
        # rule: !self.enabled || has(self.spec) -- enabled comes from its default (true)
        "osc-cel-bastion-spec",
        "OpenStackCluster",
        "v1beta2",
        {"identityRef": IDENTITY, "bastion": {}},
        causes=(
            (
                "FieldValueInvalid",
                "spec.bastion",
                'Invalid value: "object": spec is required if bastion is enabled',
            ),
        ),
    ),
    Case(
        "osc-format-ipv4",
        "OpenStackCluster",
        "v1beta2",
        {"identityRef": IDENTITY, "bastion": {"spec": BASTION_SPEC, "floatingIP": "not-an-ip"}},
        causes=(
            (
                "FieldValueTypeInvalid",
                "spec.bastion.floatingIP",
                'Invalid value: "not-an-ip": spec.bastion.floatingIP in body must be of type ipv4: "not-an-ip"',  # noqa: E501
            ),
        ),
    ),
    Case(
        "osc-format-uuid",
        "OpenStackCluster",
        "v1beta2",
        {"identityRef": IDENTITY, "externalNetwork": {"id": "abc"}},
        causes=(
            (
                "FieldValueTypeInvalid",
                "spec.externalNetwork.id",
                'Invalid value: "abc": spec.externalNetwork.id in body must be of type uuid: "abc"',
            ),
        ),
    ),
    Case(
        # tags items: pattern ^[^,]+$
        "osc-pattern",
        "OpenStackCluster",
        "v1beta2",
        {"identityRef": IDENTITY, "externalNetwork": {"filter": {"tags": ["a,b"]}}},
        causes=(
            (
                "FieldValueInvalid",
                "spec.externalNetwork.filter.tags[0]",
                "Invalid value: \"a,b\": spec.externalNetwork.filter.tags[0] in body should match '^[^,]+$'",  # noqa: E501
            ),
        ),
    ),
    Case(
        # controlPlaneAvailabilityZones: x-kubernetes-list-type set
        "osc-set-duplicate",
        "OpenStackCluster",
        "v1beta2",
        {"identityRef": IDENTITY, "controlPlaneAvailabilityZones": ["az1", "az1"]},
        causes=(
            (
                "FieldValueDuplicate",
                "spec.controlPlaneAvailabilityZones[1]",
                'Duplicate value: "az1"',
            ),
        ),
    ),
    Case(
        # serverMetadata: x-kubernetes-list-type map, keys [key]
        "osc-map-duplicate",
        "OpenStackCluster",
        "v1beta2",
        {
            "identityRef": IDENTITY,
            "bastion": {
                "spec": {
                    **BASTION_SPEC,
                    "serverMetadata": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}],
                }
            },
        },
        causes=(
            (
                "FieldValueDuplicate",
                "spec.bastion.spec.serverMetadata[1]",
                'Duplicate value: {"key":"a"}',
            ),
        ),
    ),
    Case(
        "osc-required",
        "OpenStackCluster",
        "v1beta2",
        {},
        causes=(("FieldValueRequired", "spec.identityRef", "Required value"),),
    ),
    Case(
        "osc-min-properties",
        "OpenStackCluster",
        "v1beta2",
        {"identityRef": IDENTITY, "externalNetwork": {}},
        causes=(
            (
                "FieldValueInvalid",
                "spec.externalNetwork",
                "Invalid value: 0: spec.externalNetwork in body should have at least 1 properties",
            ),
        ),
    ),
    Case(
        "osc-maximum",
        "OpenStackCluster",
        "v1beta2",
        {"identityRef": IDENTITY, "controlPlaneEndpoint": {"host": "h", "port": 70000}},
        causes=(
            (
                "FieldValueInvalid",
                "spec.controlPlaneEndpoint.port",
                "Invalid value: 70000: spec.controlPlaneEndpoint.port in body should be less than or equal to 65535",  # noqa: E501
            ),
        ),
    ),
    Case(
        # rule: !has(self.from) || self.from == 'Name' ? has(self.name) : !has(self.name)
        "osc-cel-availability-zone",
        "OpenStackCluster",
        "v1beta2",
        {
            "identityRef": IDENTITY,
            "bastion": {
                "spec": {
                    **BASTION_SPEC,
                    "rootVolume": {
                        "sizeGiB": 1,
                        "availabilityZone": {"from": "Machine", "name": "az"},
                    },
                }
            },
        },
        causes=(
            (
                "FieldValueInvalid",
                "spec.bastion.spec.rootVolume.availabilityZone",
                "Invalid value: \"object\": name is required when from is 'Name' or default",
            ),
        ),
    ),
    Case(
        # rule on list-map items: has(self.type) && self.type == 'Bool' ? has(self.bool) : !has(self.bool)  # noqa: E501
        "osc-cel-in-array",
        "OpenStackCluster",
        "v1beta2",
        {
            "identityRef": IDENTITY,
            "bastion": {
                "spec": {
                    **BASTION_SPEC,
                    "schedulerHintAdditionalProperties": [{"name": "h", "value": {"type": "Bool"}}],
                }
            },
        },
        causes=(
            (
                "FieldValueInvalid",
                "spec.bastion.spec.schedulerHintAdditionalProperties[0].value",
                'Invalid value: "object": bool is required when type is Bool, and forbidden otherwise',  # noqa: E501
            ),
        ),
    ),
    Case(
        "osm-defaults-in-array",
        "OpenStackMachine",
        "v1beta2",
        {
            "flavor": {"filter": {"name": "m1"}},
            "image": {"id": UUID},
            "additionalBlockDevices": [
                {
                    "name": "d1",
                    "sizeGiB": 5,
                    "storage": {"type": "Volume", "volume": {"availabilityZone": {"name": "az"}}},
                },
                {"name": "d2", "sizeGiB": 5, "storage": {"type": "Local"}},
            ],
        },
        defaulted={"additionalBlockDevices.0.storage.volume.availabilityZone.from": "Name"},
    ),
    Case(
        # image: maxProperties 1 (exactly one of id / filter)
        "osm-max-properties",
        "OpenStackMachine",
        "v1beta2",
        {"flavor": {"filter": {"name": "m1"}}, "image": {"id": UUID, "filter": {"name": "u"}}},
        causes=(("FieldValueTooMany", "spec.image", "Too many: 2: must have at most 1 items"),),
    ),
    Case(
        "osm-required",
        "OpenStackMachine",
        "v1beta2",
        {"image": {"id": UUID}},
        causes=(("FieldValueRequired", "spec.flavor", "Required value"),),
    ),
    Case(
        "osm-minimum",
        "OpenStackMachine",
        "v1beta2",
        {"flavor": {"id": "f"}, "image": {"id": UUID}, "rootVolume": {"sizeGiB": 0}},
        causes=(
            (
                "FieldValueInvalid",
                "spec.rootVolume.sizeGiB",
                "Invalid value: 0: spec.rootVolume.sizeGiB in body should be greater than or equal to 1",  # noqa: E501
            ),
        ),
    ),
    Case("machine-accepted", "Machine", "v1beta2", {"clusterName": "c", **MACHINE_REFS}),
    Case(
        "machine-max-length",
        "Machine",
        "v1beta2",
        {"clusterName": "c" * 64, **MACHINE_REFS},
        causes=(("FieldValueTooLong", "spec.clusterName", "Too long: may not be longer than 63"),),
    ),
    Case(
        "machine-pattern",
        "Machine",
        "v1beta2",
        {
            "clusterName": "c",
            **MACHINE_REFS,
            "infrastructureRef": {"apiGroup": "Bad_Group", "kind": "OpenStackMachine", "name": "m"},
        },
        causes=(
            (
                "FieldValueInvalid",
                "spec.infrastructureRef.apiGroup",
                "Invalid value: \"Bad_Group\": spec.infrastructureRef.apiGroup in body should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'",  # noqa: E501
            ),
        ),
    ),
    Case(
        "cluster-minimum",
        "Cluster",
        "v1beta2",
        {"clusterNetwork": {"apiServerPort": 0}},
        causes=(
            (
                "FieldValueInvalid",
                "spec.clusterNetwork.apiServerPort",
                "Invalid value: 0: spec.clusterNetwork.apiServerPort in body should be greater than or equal to 1",  # noqa: E501
            ),
        ),
    ),
    Case(
        # rule: !(self in ['Ready','Available','HealthCheckSucceeded','OwnerRemediated','ExternallyRemediated'])  # noqa: E501
        "cluster-v1beta1-cel",
        "Cluster",
        "v1beta1",
        {
            "topology": {
                "class": "c",
                "version": "v1.31.0",
                "workers": {
                    "machineDeployments": [
                        {
                            "class": "md",
                            "name": "md0",
                            "machineHealthCheck": {
                                "unhealthyMachineConditions": [
                                    {"type": "Ready", "status": "False", "timeout": "5m"}
                                ]
                            },
                        }
                    ]
                },
            }
        },
        causes=(
            (
                "FieldValueInvalid",
                "spec.topology.workers.machineDeployments[0].machineHealthCheck.unhealthyMachineConditions[0].type",
                'Invalid value: "string": type must not be one of: Ready, Available, HealthCheckSucceeded, OwnerRemediated, ExternallyRemediated',  # noqa: E501
            ),
        ),
    ),
]


POOL = {"apiGroup": "ipam.example.com", "kind": "Pool", "name": "pool"}
CASES += [
    Case(
        # v1beta1 claimRef.name: default ""
        "ipaddress-v1beta1-default",
        "IPAddress",
        "v1beta1",
        {"address": "10.0.0.5", "prefix": 24, "claimRef": {}, "poolRef": POOL},
        defaulted={"claimRef.name": ""},
    ),
    Case(
        # v1beta2 claimRef: required [name], no default
        "ipaddress-v1beta2-required",
        "IPAddress",
        "v1beta2",
        {"address": "10.0.0.5", "prefix": 24, "claimRef": {}, "poolRef": POOL},
        causes=(("FieldValueRequired", "spec.claimRef.name", "Required value"),),
    ),
    Case(
        "ipaddress-v1beta2-maximum",
        "IPAddress",
        "v1beta2",
        {"address": "10.0.0.5", "prefix": 129, "claimRef": {"name": "c"}, "poolRef": POOL},
        causes=(
            (
                "FieldValueInvalid",
                "spec.prefix",
                "Invalid value: 129: spec.prefix in body should be less than or equal to 128",
            ),
        ),
    ),
]


def _body(case: Case, name: str) -> dict[str, Any]:
    group, _ = KINDS[case.kind]
    return {
        "apiVersion": f"{group}/{case.version}",
        "kind": case.kind,
        "metadata": {"name": name},
        "spec": json.loads(json.dumps(case.spec)),
    }


def _at(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_capi_capo_objects(objects: client.CustomObjectsApi, case: Case) -> None:
    group, plural = KINDS[case.kind]
    name = case.id
    if case.causes:
        with pytest.raises(client.ApiException) as caught:
            objects.create_namespaced_custom_object(
                group, case.version, "default", plural, _body(case, name)
            )
        assert caught.value.status == 422
        status = json.loads(caught.value.body)
        assert status["reason"] == "Invalid"
        assert status["details"]["kind"] == case.kind
        assert status["details"]["group"] == group
        got = tuple((c["reason"], c["field"], c["message"]) for c in status["details"]["causes"])
        assert got == case.causes
        return
    made = objects.create_namespaced_custom_object(
        group, case.version, "default", plural, _body(case, name)
    )
    for path, value in case.defaulted.items():
        assert _at(made["spec"], path) == value, path
    read = objects.get_namespaced_custom_object(group, case.version, "default", plural, name)
    assert read["spec"] == made["spec"]


def test_region_is_immutable_transition_rule(objects: client.CustomObjectsApi) -> None:
    # identityRef rule: (!has(self.region) && !has(oldSelf.region)) || self.region == oldSelf.region
    body = _body(
        Case("", "OpenStackCluster", "v1beta2", {"identityRef": {**IDENTITY, "region": "r1"}}),
        "immutable",
    )
    objects.create_namespaced_custom_object(INFRA, "v1beta2", "default", "openstackclusters", body)
    with pytest.raises(client.ApiException) as caught:
        objects.patch_namespaced_custom_object(
            INFRA, "v1beta2", "default", "openstackclusters", "immutable",
            {"spec": {"identityRef": {"region": "r2"}}},
        )  # fmt: skip
    assert json.loads(caught.value.body)["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec.identityRef",
            "message": 'Invalid value: "object": region is immutable',
        }
    ]


def test_status_subresource_with_the_real_schema(objects: client.CustomObjectsApi) -> None:
    body = _body(Case("", "OpenStackCluster", "v1beta2", {"identityRef": IDENTITY}), "status")
    made = objects.create_namespaced_custom_object(
        INFRA, "v1beta2", "default", "openstackclusters", body
    )
    condition = {
        "type": "Ready",
        "status": "Maybe",
        "reason": "Ok",
        "message": "",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    made["status"] = {"initialization": {"provisioned": True}, "conditions": [condition]}
    with pytest.raises(client.ApiException) as caught:
        objects.replace_namespaced_custom_object_status(
            INFRA, "v1beta2", "default", "openstackclusters", "status", made
        )
    causes = json.loads(caught.value.body)["details"]["causes"]
    assert [(c["reason"], c["field"]) for c in causes] == [
        ("FieldValueNotSupported", "status.conditions[0].status")
    ]
    condition["status"] = "True"
    written = objects.replace_namespaced_custom_object_status(
        INFRA, "v1beta2", "default", "openstackclusters", "status", made
    )
    assert written["status"]["initialization"] == {"provisioned": True}


def test_cluster_served_per_version_with_its_own_schema(objects: client.CustomObjectsApi) -> None:
    # v1beta1 infrastructureRef is an ObjectReference (apiVersion); v1beta2 has apiGroup
    ref = {"apiVersion": f"{INFRA}/v1beta2", "kind": "OpenStackCluster", "name": "a"}
    body = _body(Case("", "Cluster", "v1beta1", {"paused": True, "infrastructureRef": ref}), "pv")
    made = objects.create_namespaced_custom_object(CAPI, "v1beta1", "default", "clusters", body)
    assert made["spec"]["infrastructureRef"] == ref
    v2 = objects.get_namespaced_custom_object(CAPI, "v1beta2", "default", "clusters", "pv")
    assert v2["apiVersion"] == f"{CAPI}/v1beta2"
    assert v2["spec"] == {
        "paused": True,
        "infrastructureRef": {"kind": "OpenStackCluster", "name": "a"},
    }


def _rules(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        for rule in schema.get("x-kubernetes-validations") or ():
            yield str(rule["rule"])
        for key in ("properties", "additionalProperties", "items"):
            sub = schema.get(key)
            if isinstance(sub, dict):
                children = sub.values() if key == "properties" else [sub]
                for child in children:
                    yield from _rules(child)


def test_every_rule_of_every_crd_compiles() -> None:
    """All 62 rules of the CAPO/CAPI CRDs parse with cel-python (none would be skipped)."""
    count = 0
    for path in CRD_FILES:
        crd = _crd(path)
        for version in crd["spec"]["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            assert structural.properties(schema)
            for rule in _rules(schema):
                assert cel.compiles(rule), (path.name, version["name"], rule)
                count += 1
    assert count >= 60
