"""Pure rules of the server and machine paths (no cloud): what is asked of Nova, Neutron and
Cinder, resolution's exactly-one rule, and the OpenStackMachine → OpenStackServer spec.
The boot-from-root-volume request is checked here too (the boot itself, and its failure as a
condition, run on the test cloud in test_capo_server_bfv_contract)."""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from osk8s_capo import conditions as cond
from osk8s_capo.machine_spec import InvalidMachineSpec, provider_id, server_spec
from osk8s_capo.server_boot import (
    block_device_mapping,
    boot_attributes,
    planned_volumes,
    port_attributes,
    scheduler_hints,
)
from osk8s_capo.server_resolve import PortDefaults, ResolveError, neutron_query, resolve
from osk8s_core import errors


class FakeLookups:
    """A narrow fake of the lookups (not of our clients): names → ids."""

    def __init__(self, networks: dict[str, list[str]] | None = None) -> None:
        self.networks = networks or {}

    def flavor_id_by_name(self, name: str) -> str:
        return f"flavor-{name}"

    def image_id_by_filter(self, name: str, tags: Sequence[str]) -> str:
        return f"image-{name}-{'-'.join(tags)}"

    def server_group_id_by_name(self, name: str) -> str:
        return f"group-{name}"

    def network_ids(self, query: Mapping[str, Any]) -> list[str]:
        return self.networks.get(str(query.get("name")), [])

    def subnet_ids(self, query: Mapping[str, Any]) -> list[str]:
        return [f"subnet-in-{query['network_id']}"]

    def security_group_ids(self, query: Mapping[str, Any]) -> list[str]:
        return [f"sg-{query.get('name')}"]


def test_boot_from_root_volume_request() -> None:
    spec = {
        "rootVolume": {"sizeGiB": 20, "type": "ssd", "availabilityZone": {"from": "Machine"}},
        "availabilityZone": "az-2",
        "additionalBlockDevices": [
            {
                "name": "etcd",
                "sizeGiB": 5,
                "storage": {"type": "Volume", "volume": {"type": "fast"}},
            },
            {"name": "scratch", "sizeGiB": 2, "storage": {"type": "Local"}},
        ],
    }
    volumes = planned_volumes("m1", spec, "img", "desc")
    assert [(v.spec.name, v.spec.size_gb, v.spec.availability_zone, v.device) for v in volumes] == [
        ("m1-root", 20, "az-2", None),
        ("m1-etcd", 5, None, "etcd"),  # no AZ asked: none sent
    ]
    assert volumes[0].spec.attributes()["image_id"] == "img"
    assert volumes[0].spec.volume_type == "ssd"
    attrs = boot_attributes(
        spec,
        {"flavorID": "f", "imageID": "img"},
        port_ids=["p1"],
        volume_ids={None: "vroot", "etcd": "vetcd"},
        user_data=b"hi",
    )
    assert "image_id" not in attrs  # booting from the volume
    assert attrs["user_data"] == "aGk="
    assert attrs["block_device_mapping"] == [
        {
            "uuid": "vroot",
            "source_type": "volume",
            "destination_type": "volume",
            "boot_index": 0,
            "delete_on_termination": True,
        },
        {
            "boot_index": -1,
            "delete_on_termination": True,
            "tag": "etcd",
            "uuid": "vetcd",
            "source_type": "volume",
            "destination_type": "volume",
        },
        {
            "boot_index": -1,
            "delete_on_termination": True,
            "tag": "scratch",
            "source_type": "blank",
            "destination_type": "local",
            "volume_size": 2,
        },
    ]


def test_plain_image_boot_has_no_mapping_and_hints() -> None:
    assert block_device_mapping({}, "img", {}) == []
    attrs = boot_attributes(
        {
            "sshKeyName": "k",
            "configDrive": False,
            "tags": ["a", "a", "b"],
            "serverMetadata": [{"key": "x", "value": "1"}],
            "schedulerHintAdditionalProperties": [
                {"name": "same_host", "value": {"type": "Bool", "bool": True}},
                {"name": "n", "value": {"type": "Number", "number": 3}},
                {"name": "s", "value": {"type": "String", "string": "v"}},
            ],
        },
        {"flavorID": "f", "imageID": "img", "serverGroupID": "g"},
        port_ids=["p1", "p2"],
        volume_ids={},
        user_data=None,
    )
    assert attrs["image_id"] == "img" and attrs["networks"] == [{"port": "p1"}, {"port": "p2"}]
    assert attrs["tags"] == ["a", "b"] and attrs["metadata"] == {"x": "1"}
    assert attrs["config_drive"] is False and attrs["key_name"] == "k"
    assert attrs["scheduler_hints"] == {"group": "g", "same_host": True, "n": 3, "s": "v"}
    assert "user_data" not in attrs and "block_device_mapping" not in attrs
    assert scheduler_hints({}, None) == {}


def test_port_attributes() -> None:
    attrs = port_attributes(
        {
            "name": "p",
            "networkID": "n",
            "description": "d",
            "fixedIPs": [{"subnet": "s1", "ipAddress": "10.0.0.5"}, {"subnet": "s2"}],
            "securityGroups": ["sg1"],
            "allowedAddressPairs": [{"ipAddress": "10.0.0.0/24"}],
            "vnicType": "direct",
            "profile": {"trustedVF": True},
            "valueSpecs": [{"name": "x", "key": "dns_name", "value": "node"}],
        }
    )
    assert attrs["fixed_ips"] == [
        {"subnet_id": "s1", "ip_address": "10.0.0.5"},
        {"subnet_id": "s2"},
    ]
    assert attrs["security_group_ids"] == ["sg1"]
    assert attrs["allowed_address_pairs"] == [{"ip_address": "10.0.0.0/24"}]
    assert attrs["binding_vnic_type"] == "direct" and attrs["binding_profile"] == {"trusted": True}
    assert attrs["dns_name"] == "node"
    off = port_attributes({"enablePortSecurity": False, "securityGroups": ["x"]})
    assert off["port_security_enabled"] is False and "security_group_ids" not in off


def test_resolve_exactly_one_network() -> None:
    defaults = PortDefaults(
        server_name="s",
        description="d",
        tags=["t"],
        security_groups=[{"filter": {"name": "extra"}}],
    )
    spec = {
        "flavor": "small",
        "image": {"filter": {"name": "u", "tags": ["k8s"]}},
        "serverGroup": {"filter": {"name": "g"}},
        "ports": [
            {
                "network": {"filter": {"name": "net"}},
                "fixedIPs": [{"subnet": {"filter": {"name": "x"}}}],
            },
            {"network": {"id": "n2"}, "nameSuffix": "data", "enablePortSecurity": False},
        ],
    }
    resolved = resolve(spec, defaults, FakeLookups({"net": ["n1"]}))
    assert resolved["flavorID"] == "flavor-small" and resolved["imageID"] == "image-u-k8s"
    assert resolved["serverGroupID"] == "group-g"
    first, second = resolved["ports"]
    assert (first["name"], first["networkID"]) == ("s-0", "n1")
    assert first["fixedIPs"] == [{"subnet": "subnet-in-n1"}]
    assert first["securityGroups"] == ["sg-extra"] and first["tags"] == ["t"]
    assert (second["name"], "securityGroups" in second) == ("s-data", False)
    with pytest.raises(ResolveError, match="no network"):
        resolve(spec, defaults, FakeLookups({}))
    with pytest.raises(ResolveError, match="2 networks"):
        resolve(spec, defaults, FakeLookups({"net": ["a", "b"]}))
    assert neutron_query({"name": "n", "tagsAny": ["a", "b"], "projectID": "p"}) == {
        "name": "n",
        "tags-any": "a,b",
        "project_id": "p",
    }


def test_machine_to_server_spec() -> None:
    osc = {
        "spec": {"identityRef": {"name": "cloud", "cloudName": "openstack"}, "tags": ["c"]},
        "status": {
            "network": {"id": "net", "subnets": [{"id": "s1"}, {"id": "s2"}]},
            "controlPlaneSecurityGroup": {"id": "cp-sg"},
            "workerSecurityGroup": {"id": "w-sg"},
        },
    }
    osm = {
        "spec": {
            "flavor": {"filter": {"name": "small"}},
            "image": {"id": "img"},
            "tags": ["m", "c"],
            "securityGroups": [{"id": "extra"}],
        }
    }
    machine = {"spec": {"failureDomain": "az-1", "bootstrap": {"dataSecretName": "boot"}}}
    spec = server_spec(osm, machine, osc, control_plane=True, server_group_id="grp")
    assert spec["identityRef"] == {"name": "cloud", "cloudName": "openstack"}
    assert spec["flavor"] == "small" and spec["image"] == {"id": "img"}
    assert spec["ports"] == [
        {
            "network": {"id": "net"},
            "fixedIPs": [{"subnet": {"id": "s1"}}, {"subnet": {"id": "s2"}}],
            "securityGroups": [{"id": "cp-sg"}],
        }
    ]
    assert spec["securityGroups"] == [{"id": "extra"}]
    assert spec["tags"] == ["c", "m"] and spec["availabilityZone"] == "az-1"
    assert spec["userDataRef"] == {"name": "boot"} and spec["serverGroup"] == {"id": "grp"}
    # primarySubnet restricts new default ports; a worker gets the worker SG
    osc["spec"]["primarySubnet"] = {"id": "s2"}
    worker = server_spec(osm, machine, osc, control_plane=False)
    assert worker["ports"][0]["fixedIPs"] == [{"subnet": {"id": "s2"}}]
    assert worker["ports"][0]["securityGroups"] == [{"id": "w-sg"}]
    assert "serverGroup" not in worker
    # the machine's own ports are copied, not changed
    own = {"spec": {**osm["spec"], "ports": [{"nameSuffix": "a"}], "flavor": {"id": "f"}}}
    built = server_spec(own, machine, osc, control_plane=False)
    assert own["spec"]["ports"] == [{"nameSuffix": "a"}]
    assert built["ports"][0]["network"] == {"id": "net"} and built["flavorID"] == "f"
    with pytest.raises(InvalidMachineSpec):
        server_spec(osm, machine, {"spec": {}, "status": {}}, control_plane=False)
    assert provider_id("", "abc") == "openstack:///abc"
    assert provider_id("RegionOne", "abc") == "openstack://RegionOne/abc"


class _EventCloud:
    """Ports and trunks of one server, each call recorded; ``broken`` names the one that fails."""

    def __init__(self, broken: str = "") -> None:
        self.broken = broken
        self.calls: list[str] = []
        self.ports = types.SimpleNamespace(
            create=self._call("port_create", types.SimpleNamespace(id="p-1", tags=[])),
            add_tag=self._call("port_tag", None),
            delete=self._call("port_delete", None),
            query=lambda **f: [],
        )
        self.trunks = types.SimpleNamespace(
            create=self._call("trunk_create", types.SimpleNamespace(id="t-1", name="srv-0")),
            of_port=lambda port_id: types.SimpleNamespace(id="t-1", name="srv-0"),
            delete=self._call("trunk_delete", None),
        )

    def _call(self, label: str, result: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(label)
            if label == self.broken:
                raise errors.OpenStackError(f"{label} refused", status=409)
            return result

        return call


def _run(cloud: _EventCloud, status: dict[str, Any]) -> tuple[Any, list[tuple[str, str, str]]]:
    from osk8s_capo.server import _Run

    told: list[tuple[str, str, str]] = []
    owner = types.SimpleNamespace(
        event=lambda obj, type_, reason, message: told.append((type_, reason, message)),
        _write_status=lambda obj, st: obj,
    )
    obj = {"metadata": {"name": "srv", "namespace": "ns"}, "spec": {}, "status": status}
    return _Run(owner, obj, status, cloud, log=None), told  # type: ignore[arg-type]


PORT = {"networkID": "net-1", "name": "srv-0", "tags": ["t"], "trunk": True}


@pytest.mark.parametrize(
    ("broken", "reason", "message"),
    [
        ("port_create", "FailedCreatePort", "Failed to create port srv-0: port_create refused"),
        ("port_tag", "FailedReplaceTags", "Failed to replace port tags srv-0: port_tag refused"),
        (
            "trunk_create",
            "FailedCreateTrunk",
            "Failed to create trunk for port srv-0: trunk_create refused",
        ),
    ],
)
def test_port_and_trunk_failures_are_capos_warnings_and_conditions(
    broken: str, reason: str, message: str
) -> None:
    status: dict[str, Any] = {}
    run, told = _run(_EventCloud(broken), status)
    with pytest.raises(errors.OpenStackError):
        run.ensure_ports({"ports": [PORT]})
    assert told[-1] == ("Warning", reason, message)
    ready = cond.find(status, cond.INSTANCE_READY)
    assert ready is not None and ready["reason"] == "PortCreateFailed"
    assert "resources" not in status  # nothing recorded for the failed port


def test_port_and_trunk_create_and_delete_are_told() -> None:
    cloud = _EventCloud()
    status: dict[str, Any] = {}
    run, told = _run(cloud, status)
    assert run.ensure_ports({"ports": [PORT]}) == ["p-1"]
    assert told == [
        ("Normal", "SuccessfulCreatePort", "Created port srv-0 with id p-1"),
        ("Normal", "SuccessfulCreateTrunk", "Created trunk srv-0 with id t-1"),
    ]
    assert cloud.calls == ["port_create", "port_tag", "trunk_create"]
    told.clear()
    run.obj["metadata"]["finalizers"] = ["openstackserver.infrastructure.cluster.x-k8s.io"]
    run.cloud.servers = types.SimpleNamespace(find_by_name=lambda name: None)
    run.cloud.volumes = types.SimpleNamespace(query=lambda **f: [])
    run.owner.kube = types.SimpleNamespace(patch=lambda *a: None)
    assert run.delete() is None
    assert told == [
        ("Normal", "SuccessfulDeleteTrunk", "Deleted trunk srv-0 with id t-1"),
        ("Normal", "SuccessfulDeletePort", "Deleted port with id p-1"),
    ]
    broken = _EventCloud("port_delete")
    run, told = _run(broken, {"resources": {"ports": [{"id": "p-1"}]}})
    run.obj["metadata"]["finalizers"] = ["openstackserver.infrastructure.cluster.x-k8s.io"]
    run.cloud.servers = types.SimpleNamespace(find_by_name=lambda name: None)
    with pytest.raises(errors.OpenStackError):
        run.delete()
    assert told[-1] == (
        "Warning",
        "FailedDeletePort",
        "Failed to delete port with id p-1: port_delete refused",
    )
