"""Pure rules of the server and machine paths (no cloud): what is asked of Nova, Neutron and
Cinder, resolution's exactly-one rule, and the OpenStackMachine → OpenStackServer spec.
The boot-from-root-volume request is checked here too (the boot itself, and its failure as a
condition, run on the test cloud in test_capo_server_bfv_contract)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from osk8s_capo.machine_spec import InvalidMachineSpec, provider_id, server_spec
from osk8s_capo.server_boot import (
    block_device_mapping,
    boot_attributes,
    planned_volumes,
    port_attributes,
    scheduler_hints,
)
from osk8s_capo.server_resolve import PortDefaults, ResolveError, neutron_query, resolve


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
