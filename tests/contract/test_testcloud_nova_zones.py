"""Nova as CCM and CAPO see it: two fake compute hosts in availability zones az-1 and az-2
(zone labels, failure domains), and server metadata and access IPs settable as on a real cloud.
"""

from __future__ import annotations

from typing import Any

import pytest
from openstack.connection import Connection

from .conftest import TestCloud

pytestmark = pytest.mark.contract

ZONES = {"az-1": "osk8s", "az-2": "osk8s-2"}


@pytest.fixture(scope="module")
def nova_state(testcloud: TestCloud) -> dict[str, str]:
    if "nova" not in testcloud.state:
        pytest.skip("test cloud runs no Nova (`osk8s-testcloud up all` or `up nova`)")
    nova: dict[str, str] = testcloud.state["nova"]
    return nova


def test_two_availability_zones_each_with_its_host(
    admin_conn: Connection, nova_state: dict[str, str]
) -> None:
    compute: Any = admin_conn.compute
    zones = {z.name: z for z in compute.availability_zones(details=True)}
    for zone, host in ZONES.items():
        assert zone in zones, f"zone {zone} missing: {sorted(zones)}"
        assert zones[zone].state["available"] is True
        assert host in zones[zone].hosts
        assert zones[zone].hosts[host]["nova-compute"]["active"] is True
    hypervisors = {h.name for h in compute.hypervisors()}
    assert set(ZONES.values()) <= hypervisors


def test_server_in_az_2_lands_there_with_metadata_and_access_ips(
    demo_conn: Connection,
    admin_conn: Connection,
    testcloud: TestCloud,
    nova_state: dict[str, str],
    name: str,
) -> None:
    compute: Any = demo_conn.compute
    server = compute.create_server(
        name=name,
        flavor_id=nova_state["flavor_id"],
        image_id=nova_state["image_id"],
        networks=[{"uuid": testcloud.network["network_id"]}],
        availability_zone="az-2",
        metadata={"osk8s-role": "worker"},
        access_ipv4="203.0.113.40",
        access_ipv6="2001:db8::40",
    )
    try:
        server = compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], wait=180)
        assert server.availability_zone == "az-2"  # OS-EXT-AZ:availability_zone
        assert admin_conn.compute.get_server(server.id).compute_host == ZONES["az-2"]
        assert server.metadata == {"osk8s-role": "worker"}
        assert (server.access_ipv4, server.access_ipv6) == ("203.0.113.40", "2001:db8::40")
        compute.set_server_metadata(server, **{"osk8s-node": name})
        # By id: the sdk's local copy of the server would be edited too, and trips on it.
        compute.delete_server_metadata(server.id, ["osk8s-role"])
        assert compute.get_server_metadata(server).metadata == {"osk8s-node": name}
        compute.update_server(server, access_ipv4="203.0.113.41", access_ipv6="2001:db8::41")
        again = compute.get_server(server.id)
        assert (again.access_ipv4, again.access_ipv6) == ("203.0.113.41", "2001:db8::41")
    finally:
        compute.delete_server(server, ignore_missing=True)
        compute.wait_for_delete(server, wait=120)
