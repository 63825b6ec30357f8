"""The Normal events upstream's service controller records when a Service changes
(``needsUpdate``: ``Type``, ``LoadBalancerSourceRanges``, ``LoadbalancerIP``, ``ExternalIP``,
``UID``, ``ExternalTrafficPolicy``, ``HealthCheckNodePort``), with Go's ``%v`` formatting."""

from __future__ import annotations

from typing import Any

import pytest

from osk8s_ccm.service_changes import spec_change_events


def svc(uid: str = "u1", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "uid": uid}, "spec": {"type": "LoadBalancer", **spec}}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (svc(), svc(), []),
        (svc(), svc(type="ClusterIP"), [("Type", "LoadBalancer -> ClusterIP")]),
        (svc(type="NodePort"), svc(), [("Type", "NodePort -> LoadBalancer")]),
        # a class makes it someone else's: wantsLoadBalancer changes
        (svc(), svc(loadBalancerClass="x"), [("Type", "LoadBalancer -> LoadBalancer")]),
        (svc(), svc(loadBalancerIP="192.0.2.5"), [("LoadbalancerIP", " -> 192.0.2.5")]),
        (
            svc(loadBalancerSourceRanges=["10.0.0.0/8"]),
            svc(loadBalancerSourceRanges=["10.0.0.0/8", "192.168.0.0/16"]),
            [("LoadBalancerSourceRanges", "[10.0.0.0/8] -> [10.0.0.0/8 192.168.0.0/16]")],
        ),
        (svc(), svc(externalIPs=["198.51.100.1"]), [("ExternalIP", "Count: 0 -> 1")]),
        (
            svc(externalIPs=["198.51.100.1"]),
            svc(externalIPs=["198.51.100.2"]),
            [("ExternalIP", "Added: 198.51.100.2")],
        ),
        (svc("u1"), svc("u2"), [("UID", "u1 -> u2")]),
        (
            svc(externalTrafficPolicy="Cluster"),
            svc(externalTrafficPolicy="Local", healthCheckNodePort=31000),
            [("ExternalTrafficPolicy", "Cluster -> Local"), ("HealthCheckNodePort", "0 -> 31000")],
        ),
    ],
)
def test_spec_change_events(
    old: dict[str, Any], new: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert spec_change_events(old, new) == expected
