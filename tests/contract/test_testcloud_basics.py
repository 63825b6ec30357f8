"""Contract checks of the test cloud with plain openstacksdk, as the non-admin demo user.

Each test creates what it needs under a unique name and deletes it, asserting the state
transitions osk8s relies on (volume available, LB ACTIVE with a real VIP port, secret payload
round trip, ports and floating IPs). Later the core's OpenStack layer replaces plain sdk calls.
"""

from __future__ import annotations

from typing import Any

import pytest
from openstack import exceptions
from openstack.connection import Connection

from osk8s_testing.testcloud.cloud import NETWORK, TENANT_RESERVED_IPS

from .conftest import TestCloud
from .polling import wait_for

pytestmark = pytest.mark.contract


def test_password_auth_as_demo(demo_conn: Connection, testcloud: TestCloud) -> None:
    token = demo_conn.session.get_token()
    assert token
    assert demo_conn.current_project_id == testcloud.state["identity"]["demo_project_id"]
    catalog_types = {entry["type"] for entry in demo_conn.service_catalog}
    assert {"identity", "network", "load-balancer", "block-storage", "key-manager"} <= catalog_types
    # Not an admin: listing all projects is forbidden.
    with pytest.raises(exceptions.ForbiddenException):
        identity: Any = demo_conn.identity
        list(identity.projects())


def test_volume_create_extend_delete(demo_conn: Connection, name: str) -> None:
    bs: Any = demo_conn.block_storage
    volume = bs.create_volume(name=name, size=1)
    try:
        volume = bs.wait_for_status(volume, status="available", failures=["error"], wait=120)
        assert volume.size == 1
        # Lookup by name (a list filter): CPO's CSI CreateVolume is idempotent through it.
        assert bs.find_volume(name).id == volume.id
        bs.extend_volume(volume, 2)
        # The status goes extending -> available asynchronously: wait for the new size.
        volume = wait_for(lambda: bs.get_volume(volume), lambda v: v.size == 2, wait=60)
        assert volume.status == "available"
    finally:
        bs.delete_volume(volume, ignore_missing=True)
    bs.wait_for_delete(volume, wait=60)
    with pytest.raises(exceptions.NotFoundException):
        bs.get_volume(volume.id)


def test_loadbalancer_active_then_cascade_delete(
    demo_conn: Connection, testcloud: TestCloud, name: str
) -> None:
    lb_api: Any = demo_conn.load_balancer
    net: Any = demo_conn.network
    lb = lb_api.create_load_balancer(name=name, vip_subnet_id=testcloud.network["subnet_id"])
    try:
        lb = lb_api.wait_for_load_balancer(lb.id, status="ACTIVE", failures=["ERROR"], wait=180)
        # The VIP is a real Neutron port on the demo subnet (Octavia's neutron network mode).
        vip_port = net.get_port(lb.vip_port_id)
        assert vip_port.fixed_ips[0]["ip_address"] == lb.vip_address
        assert vip_port.fixed_ips[0]["subnet_id"] == testcloud.network["subnet_id"]
        listener = lb_api.create_listener(
            name=name, loadbalancer_id=lb.id, protocol="TCP", protocol_port=80
        )
        lb_api.wait_for_load_balancer(lb.id, status="ACTIVE", failures=["ERROR"], wait=120)
        pool = lb_api.create_pool(
            name=name, listener_id=listener.id, protocol="TCP", lb_algorithm="ROUND_ROBIN"
        )
        lb_api.wait_for_load_balancer(lb.id, status="ACTIVE", failures=["ERROR"], wait=120)
        lb_api.create_member(
            pool,
            address="192.0.2.200",
            protocol_port=8080,
            subnet_id=testcloud.network["subnet_id"],
        )
        lb_api.wait_for_load_balancer(lb.id, status="ACTIVE", failures=["ERROR"], wait=120)
        assert len(list(lb_api.members(pool))) == 1
    finally:
        lb_api.delete_load_balancer(lb.id, cascade=True, ignore_missing=True)
    lb_api.wait_for_delete(lb, wait=180)
    assert net.find_port(lb.vip_port_id, ignore_missing=True) is None


def test_barbican_secret_round_trip(demo_conn: Connection, name: str) -> None:
    km: Any = demo_conn.key_manager
    payload = "osk8s-contract-payload"
    secret = km.create_secret(
        name=name, payload=payload, payload_content_type="text/plain", secret_type="opaque"
    )
    try:
        fetched = km.get_secret(secret.secret_ref.rsplit("/", 1)[-1])
        assert fetched.payload == payload
        assert name in {s.name for s in km.secrets(name=name)}
    finally:
        km.delete_secret(secret.secret_ref.rsplit("/", 1)[-1], ignore_missing=True)


def test_port_with_fixed_ip(demo_conn: Connection, testcloud: TestCloud, name: str) -> None:
    net: Any = demo_conn.network
    subnet_id = testcloud.network["subnet_id"]
    # Neutron allocates only from the narrowed pool, so the reserved addresses stay free.
    assert net.get_subnet(subnet_id).allocation_pools == [NETWORK["tenant_pool"]]
    address = TENANT_RESERVED_IPS[0]
    port = net.create_port(
        name=name,
        network_id=testcloud.network["network_id"],
        fixed_ips=[{"subnet_id": subnet_id, "ip_address": address}],
    )
    try:
        assert port.fixed_ips == [{"subnet_id": subnet_id, "ip_address": address}]
        assert port.is_port_security_enabled is True
        assert net.find_port(name).id == port.id
    finally:
        net.delete_port(port, ignore_missing=True)
    assert net.find_port(name) is None


def test_floating_ip_associate_disassociate(
    demo_conn: Connection, testcloud: TestCloud, name: str
) -> None:
    net: Any = demo_conn.network
    port = net.create_port(name=name, network_id=testcloud.network["network_id"])
    fip = net.create_ip(floating_network_id=testcloud.network["floating_network_id"])
    try:
        assert fip.floating_ip_address.startswith("203.0.113.")
        fip = net.update_ip(fip, port_id=port.id)
        assert fip.port_id == port.id
        assert fip.fixed_ip_address == port.fixed_ips[0]["ip_address"]
        fip = net.update_ip(fip, port_id=None)
        assert fip.port_id is None
    finally:
        net.delete_ip(fip, ignore_missing=True)
        net.delete_port(port, ignore_missing=True)


def test_manila_share_access_rule_extend_delete(demo_conn: Connection, name: str) -> None:
    if not any(e["type"] == "sharev2" for e in demo_conn.service_catalog):
        pytest.skip("test cloud runs no Manila (`osk8s-testcloud up all` or `up manila`)")
    sfs: Any = demo_conn.shared_file_system
    share = sfs.create_share(name=name, size=1, share_proto="NFS")
    try:
        share = sfs.wait_for_status(share, status="available", failures=["error"], wait=120)
        rule = sfs.create_access_rule(
            share.id, access_type="ip", access_to="192.0.2.10", access_level="rw"
        )
        rule = wait_for(
            lambda: sfs.get_access_rule(rule.id), lambda r: r.state == "active", wait=60
        )
        assert rule.state == "active"
        assert list(sfs.export_locations(share.id))
        # openstacksdk's resize_share sends no microversion and Manila answers 404: the
        # extend action exists from 2.7 on, so it is sent with the header (as osk8s must).
        resp = sfs.post(
            f"/shares/{share.id}/action",
            json={"extend": {"new_size": 2}},
            headers={"X-OpenStack-Manila-API-Version": "2.7"},
        )
        assert resp.status_code == 202
        share = wait_for(lambda: sfs.get_share(share.id), lambda s: s.size == 2, wait=60)
        assert share.status == "available"
    finally:
        sfs.delete_share(share, ignore_missing=True)
    sfs.wait_for_delete(share, wait=120)


def test_nova_boot_with_neutron_port_and_volume_attach(
    demo_conn: Connection, testcloud: TestCloud, name: str
) -> None:
    if "nova" not in testcloud.state:
        pytest.skip("test cloud runs no Nova (`osk8s-testcloud up all` or `up nova`)")
    compute: Any = demo_conn.compute
    bs: Any = demo_conn.block_storage
    server = compute.create_server(
        name=name,
        flavor_id=testcloud.state["nova"]["flavor_id"],
        image_id=testcloud.state["nova"]["image_id"],
        networks=[{"uuid": testcloud.network["network_id"]}],
    )
    volume = bs.create_volume(name=name, size=1)
    try:
        server = compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], wait=180)
        (port,) = demo_conn.network.ports(device_id=server.id)
        assert port.status == "ACTIVE"  # bound by the test cloud's ML2 driver
        assert port.fixed_ips[0]["subnet_id"] == testcloud.network["subnet_id"]
        addresses = [a["addr"] for nets in server.addresses.values() for a in nets]
        assert port.fixed_ips[0]["ip_address"] in addresses
        volume = bs.wait_for_status(volume, status="available", failures=["error"], wait=120)
        compute.create_volume_attachment(server, volume_id=volume.id)
        volume = bs.wait_for_status(volume, status="in-use", failures=["error"], wait=120)
        assert volume.attachments[0]["server_id"] == server.id
        compute.delete_volume_attachment(server, volume.id)
        bs.wait_for_status(volume, status="available", failures=["error"], wait=120)
    finally:
        compute.delete_server(server, ignore_missing=True)
        compute.wait_for_delete(server, wait=120)
        bs.delete_volume(volume, ignore_missing=True)
