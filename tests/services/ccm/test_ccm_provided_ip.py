"""The kubelet's provided node IP, as component-helpers' GetNodeAddressesFromNodeIP: matches
first and alone in their type, other types after; unknown IPs are errors."""

from __future__ import annotations

import pytest

from osk8s_ccm.addresses import NodeAddress
from osk8s_ccm.provided_ip import ProvidedNodeIpMismatch, honour_provided_ip


def internal(a: str) -> NodeAddress:
    return NodeAddress("InternalIP", a)


def external(a: str) -> NodeAddress:
    return NodeAddress("ExternalIP", a)


HOST = NodeAddress("Hostname", "node-1")
CLOUD = [internal("10.0.0.5"), internal("10.0.0.6"), external("203.0.113.5"), HOST]


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        ("", CLOUD),
        ("10.0.0.6", [internal("10.0.0.6"), external("203.0.113.5"), HOST]),
        (
            "203.0.113.5",
            [external("203.0.113.5"), internal("10.0.0.5"), internal("10.0.0.6"), HOST],
        ),
        (" 10.0.0.5 ", [internal("10.0.0.5"), external("203.0.113.5"), HOST]),
    ],
)
def test_provided_ip_first_and_alone_in_its_type(
    annotation: str, expected: list[NodeAddress]
) -> None:
    assert honour_provided_ip(CLOUD, annotation) == expected


def test_dual_stack_and_same_ip_of_two_types() -> None:
    cloud = [internal("10.0.0.5"), internal("2001:db8::5"), internal("2001:db8::6"), HOST]
    assert honour_provided_ip(cloud, "10.0.0.5,2001:db8::6") == [
        internal("10.0.0.5"),
        internal("2001:db8::6"),
        HOST,
    ]
    both = [internal("10.0.0.5"), external("10.0.0.5"), external("203.0.113.5")]
    assert honour_provided_ip(both, "10.0.0.5") == [internal("10.0.0.5"), external("10.0.0.5")]


@pytest.mark.parametrize("annotation", ["10.9.9.9", "10.0.0.5,2001:db8::1", "0.0.0.0", "junk"])
def test_unknown_or_bad_provided_ip_is_an_error(annotation: str) -> None:
    with pytest.raises(ProvidedNodeIpMismatch):
        honour_provided_ip(CLOUD, annotation)
