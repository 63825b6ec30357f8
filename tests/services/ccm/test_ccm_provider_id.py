"""providerID forms (cpo.md §1.3) and label values."""

from __future__ import annotations

import pytest

from osk8s_ccm.labels import is_label_value, sanitize_label_value
from osk8s_ccm.provider_id import InvalidProviderId, format_provider_id, parse_provider_id

ID = "5f0c8d2e-8a5c-4d7b-9d43-0c7b1c0f4a11"


def test_format_default_and_regional() -> None:
    assert format_provider_id(ID, region="RegionOne", regional=False) == f"openstack:///{ID}"
    assert (
        format_provider_id(ID, region="RegionOne", regional=True) == f"openstack://RegionOne/{ID}"
    )


@pytest.mark.parametrize("provider_id", [f"openstack:///{ID}", f"openstack://RegionOne/{ID}", ID])
def test_parse_accepts_both_forms_and_bare_ids(provider_id: str) -> None:
    assert parse_provider_id(provider_id, region="RegionOne") == ID


@pytest.mark.parametrize(
    "provider_id",
    [f"openstack://RegionTwo/{ID}", f"aws:///{ID}", "openstack://", f"openstack:///{ID}/x"],
)
def test_parse_refuses_other_regions_and_forms(provider_id: str) -> None:
    with pytest.raises(InvalidProviderId):
        parse_provider_id(provider_id, region="RegionOne")


@pytest.mark.parametrize(
    ("zone", "label"),
    [
        ("az-1", "az-1"),
        ("nova", "nova"),
        ("eu west:1", "eu-west-1"),
        ("  zone//a  ", "zone-a"),
        ("_.zone._", "zone"),
        ("z" * 70, "z" * 63),
        ("a" * 62 + "::b", "a" * 62),
        ("", ""),
    ],
)
def test_zone_sanitised_to_a_label(zone: str, label: str) -> None:
    assert sanitize_label_value(zone) == label
    assert is_label_value(label)


@pytest.mark.parametrize(
    ("text", "valid"),
    [("m1.small", True), ("", True), ("-x", False), ("x y", False), ("a" * 64, False)],
)
def test_label_value_validity(text: str, valid: bool) -> None:
    assert is_label_value(text) is valid
