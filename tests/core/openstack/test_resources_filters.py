"""Name, tag and rule matching of the resource layer (pure logic, no cloud)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from osk8s_core import errors
from osk8s_core.openstack.filters import (
    TagFilter,
    has_metadata,
    named,
    nova_name_regex,
    parse_tag_spec,
)
from osk8s_core.openstack.security_groups import RuleSpec
from osk8s_core.openstack.shares import AccessRuleSpec, ShareSpec
from osk8s_core.openstack.volumes import VolumeSpec


@dataclass
class Named:
    name: str | None
    metadata: dict[str, str] = field(default_factory=dict)


@pytest.mark.parametrize(
    ("spec", "query"),
    [
        ("a,b", {"tags-any": "a,b"}),
        ("&a,b", {"tags": "a,b"}),
        ("!a", {"not-tags-any": "a"}),
        ("!&a,b", {"not-tags": "a,b"}),
        ("&!a,b", {"not-tags": "a,b"}),
        (" a , ,b ", {"tags-any": "a,b"}),
        ("", {}),
    ],
)
def test_tag_spec_to_neutron_query(spec: str, query: dict[str, str]) -> None:
    assert parse_tag_spec(spec).query() == query


def test_tag_spec_of_only_markers_is_a_config_error() -> None:
    with pytest.raises(errors.ConfigError, match="has no tags"):
        parse_tag_spec("&!")


@pytest.mark.parametrize(
    ("spec", "tags", "expected"),
    [
        ("a,b", {"b"}, True),
        ("a,b", {"c"}, False),
        ("&a,b", {"a"}, False),
        ("&a,b", {"a", "b", "c"}, True),
        ("!a,b", {"b"}, False),
        ("!&a,b", {"a"}, True),
        ("", {"x"}, True),
    ],
)
def test_tag_filter_local_match_agrees_with_query(
    spec: str, tags: set[str], expected: bool
) -> None:
    assert parse_tag_spec(spec).matches(tags) is expected


def test_tag_filter_keys() -> None:
    assert TagFilter(("a",), match_all=True, negate=True).query_key == "not-tags"


def test_named_is_exact() -> None:
    items = [Named("pv-1"), Named("pv-10"), Named("PV-1"), Named(None)]
    assert named(items, "pv-1") == [items[0]]


def test_nova_name_regex_is_anchored_and_escaped() -> None:
    pattern = nova_name_regex("node.a+1")
    assert re.search(pattern, "node.a+1")
    assert not re.search(pattern, "nodeXa+1")
    assert not re.search(pattern, "node.a+10")


def test_has_metadata() -> None:
    item = Named("v", {"cinder.csi.openstack.org/cluster": "k", "x": "1"})
    assert has_metadata(item, {"cinder.csi.openstack.org/cluster": "k"})
    assert not has_metadata(item, {"cinder.csi.openstack.org/cluster": "other"})
    assert not has_metadata(Named("v"), {"x": "1"})


@dataclass
class Rule:
    direction: str = "ingress"
    ethertype: str = "IPv4"
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None


def test_rule_spec_matches_modulo_neutron_normalisation() -> None:
    spec = RuleSpec(protocol="tcp", port_range_min=80, port_range_max=80, remote_ip_prefix=None)
    assert spec.matches(Rule(protocol="6", port_range_min=80, port_range_max=80))
    assert spec.matches(
        Rule(protocol="TCP", port_range_min=80, port_range_max=80, remote_ip_prefix="0.0.0.0/0")
    )
    assert not spec.matches(Rule(protocol="udp", port_range_min=80, port_range_max=80))
    assert not spec.matches(Rule(protocol="tcp", port_range_min=80, port_range_max=81))
    assert not spec.matches(
        Rule(direction="egress", protocol="tcp", port_range_min=80, port_range_max=80)
    )
    assert RuleSpec(protocol="any").matches(Rule())
    assert not RuleSpec(ethertype="IPv6").matches(Rule())


@dataclass
class SdkRule:
    """openstacksdk names the field ``ether_type``."""

    direction: str = "ingress"
    ether_type: str = "IPv6"
    protocol: str | None = "tcp"


def test_rule_spec_reads_sdk_ether_type() -> None:
    assert RuleSpec(ethertype="IPv6", protocol="tcp").matches(SdkRule())
    assert not RuleSpec(ethertype="IPv4", protocol="tcp").matches(SdkRule())


def test_rule_spec_attributes_omit_unset() -> None:
    assert RuleSpec(protocol="tcp", description="d").attributes() == {
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": "tcp",
        "description": "d",
    }


def test_volume_spec_attributes_and_identity() -> None:
    spec = VolumeSpec(name="pv", size_gb=2, metadata={"k": "v"}, source_volume_id="src")
    assert spec.attributes() == {
        "name": "pv",
        "size": 2,
        "metadata": {"k": "v"},
        "source_volid": "src",
    }
    assert spec.identity() == {"size": 2, "snapshot_id": None, "source_volume_id": "src"}


def test_share_specs() -> None:
    assert ShareSpec(name="s", size_gb=1).attributes() == {
        "name": "s",
        "size": 1,
        "share_protocol": "NFS",
    }
    rule = AccessRuleSpec("ip", "10.0.0.0/24")
    assert rule.matches(Rule()) is False
    assert rule.matches(
        type("R", (), {"access_type": "ip", "access_to": "10.0.0.0/24", "access_level": "rw"})()
    )
