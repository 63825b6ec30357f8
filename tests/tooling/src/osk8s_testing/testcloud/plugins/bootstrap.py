"""Register the test cloud in Keystone and build the demo network topology, with openstacksdk.

Run as ``python -m ...plugins.bootstrap PHASE SPEC.json OUT.json`` (see ``main``) inside the
OpenStack venv: one process per phase, because the ``openstack`` CLI costs seconds per call.
Every step finds before it creates, so a second run changes nothing. It never prints secrets.
"""

import io
import json
import sys
import time
from collections.abc import Callable, Collection
from typing import Any

import openstack
from openstack.connection import Connection

DOMAIN = "Default"


def _connect(spec: dict[str, Any], user: str, password: str, project: str) -> Connection:
    return openstack.connect(
        auth_url=spec["auth_url"],
        username=user,
        password=password,
        project_name=project,
        user_domain_name=DOMAIN,
        project_domain_name=DOMAIN,
        region_name=spec["region"],
        identity_api_version="3",
    )


def _identity(conn: Connection) -> Any:
    # The sdk types identity as v2|v3; this cloud is v3 only.
    return conn.identity


def _network_proxy(conn: Connection) -> Any:
    return conn.network


def _project(conn: Connection, name: str) -> Any:
    found = _identity(conn).find_project(name, domain_id="default")
    return found or _identity(conn).create_project(name=name, domain_id="default")


def _role(conn: Connection, name: str) -> Any:
    return _identity(conn).find_role(name) or _identity(conn).create_role(name=name)


def _user(conn: Connection, name: str, password: str, project: Any) -> Any:
    user = _identity(conn).find_user(name, domain_id="default")
    if user is None:
        return _identity(conn).create_user(
            name=name, password=password, domain_id="default", default_project_id=project.id
        )
    # Keep the stored password authoritative if the data dir was kept but users drifted.
    return _identity(conn).update_user(user, password=password)


def _grant(conn: Connection, user: Any, project: Any, roles: list[str]) -> None:
    for name in roles:
        role = _role(conn, name)
        _identity(conn).assign_project_role_to_user(project, user, role)


def _service(conn: Connection, svc: dict[str, str], region: str) -> None:
    service = _identity(conn).find_service(svc["name"]) or _identity(conn).create_service(
        name=svc["name"], type=svc["type"]
    )
    have = {
        ep.interface: ep
        for ep in _identity(conn).endpoints(service_id=service.id, region_id=region)
    }
    for interface in ("public", "internal", "admin"):
        if interface in have:
            if have[interface].url != svc["url"]:
                _identity(conn).update_endpoint(have[interface], url=svc["url"])
            continue
        _identity(conn).create_endpoint(
            service_id=service.id, interface=interface, url=svc["url"], region_id=region
        )


def identity(spec: dict[str, Any]) -> dict[str, Any]:
    conn = _connect(spec, "admin", spec["admin_password"], "admin")
    service_project = _project(conn, "service")
    for name in spec["service_users"]:
        user = _user(conn, name, spec["service_password"], service_project)
        _grant(conn, user, service_project, ["admin", "service"])
    for svc in spec["services"]:
        _service(conn, svc, spec["region"])
    demo = spec["demo"]
    demo_project = _project(conn, demo["project"])
    demo_user = _user(conn, demo["user"], demo["password"], demo_project)
    _grant(conn, demo_user, demo_project, demo["roles"])
    admin_project = _project(conn, "admin")
    return {"demo_project_id": demo_project.id, "admin_project_id": admin_project.id}


def _network(conn: Connection, name: str, **attrs: Any) -> Any:
    return conn.network.find_network(name) or conn.network.create_network(name=name, **attrs)


def _subnet(conn: Connection, name: str, network: Any, **attrs: Any) -> Any:
    found = conn.network.find_subnet(name, network_id=network.id)
    return found or conn.network.create_subnet(
        name=name, network_id=network.id, ip_version=4, **attrs
    )


def network(spec: dict[str, Any]) -> dict[str, Any]:
    admin = _connect(spec, "admin", spec["admin_password"], "admin")
    net = spec["network"]
    public = _network(
        admin,
        net["public_network"],
        is_router_external=True,
        provider_network_type="flat",
        provider_physical_network="public",
        is_shared=False,
    )
    public_subnet = _subnet(
        admin,
        net["public_subnet"],
        public,
        cidr=net["public_cidr"],
        is_dhcp_enabled=False,
    )
    demo = spec["demo"]
    conn = _connect(spec, demo["user"], demo["password"], demo["project"])
    tenant = _network(conn, net["tenant_network"])
    pools = [net["tenant_pool"]]
    tenant_subnet = _subnet(
        conn, net["tenant_subnet"], tenant, cidr=net["tenant_cidr"], allocation_pools=pools
    )
    if tenant_subnet.allocation_pools != pools:  # a cloud made before the pool was narrowed
        tenant_subnet = conn.network.update_subnet(tenant_subnet, allocation_pools=pools)
    router = conn.network.find_router(net["router"])
    if router is None:
        router = conn.network.create_router(
            name=net["router"], external_gateway_info={"network_id": public.id}
        )
    attached = {
        ip["subnet_id"]
        for port in conn.network.ports(device_id=router.id)
        for ip in port.fixed_ips or []
    }
    if tenant_subnet.id not in attached:
        _network_proxy(conn).add_interface_to_router(router, subnet_id=tenant_subnet.id)
    return {
        "network_id": tenant.id,
        "subnet_id": tenant_subnet.id,
        "floating_network_id": public.id,
        "floating_subnet_id": public_subnet.id,
        "router_id": router.id,
        "tenant_pool": net["tenant_pool"],
    }


def _wait_services(
    list_services: Callable[[], list[dict[str, Any]]],
    binary: str,
    hosts: Collection[str] = (),
) -> list[str]:
    """Wait until every ``binary`` service (and one on each of ``hosts``) reports up and
    enabled; their hosts."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        found = [s for s in list_services() if s["binary"] == binary]
        ready = found and all(s["state"] == "up" and s["status"] == "enabled" for s in found)
        if ready and set(hosts) <= {s["host"] for s in found}:
            return sorted(s["host"] for s in found)
        time.sleep(1)
    raise SystemExit(f"{binary} did not report up within 180s")


def cinder(spec: dict[str, Any]) -> dict[str, Any]:
    """Wait until cinder-volume reports up: before that, creates fail with "no valid backend"."""
    admin = _connect(spec, "admin", spec["admin_password"], "admin")
    block: Any = admin.block_storage

    def services() -> list[dict[str, Any]]:
        return [s.to_dict() for s in block.services()]

    return {"volume_hosts": _wait_services(services, "cinder-volume")}


# What DevStack gives its default share type so snapshot, clone (create from snapshot), revert
# and mountable-snapshot paths can be tested; the dummy back end reports all four capabilities.
SHARE_TYPE_SPECS = {
    "snapshot_support": "True",
    "create_share_from_snapshot_support": "True",
    "revert_to_snapshot_support": "True",
    "mount_snapshot_support": "True",
}


def manila(spec: dict[str, Any]) -> dict[str, Any]:
    """Wait for manila-share, then make the ``default`` share type (DHSS=False, snapshot
    capabilities) if missing, or add the capabilities to one an older bring-up made."""
    admin = _connect(spec, "admin", spec["admin_password"], "admin")
    sfs: Any = admin.shared_file_system
    # The sdk has no share services or share type creation: plain REST through its proxy.
    headers = {"X-OpenStack-Manila-API-Version": "2.50"}

    def services() -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = sfs.get("/services", headers=headers).json()["services"]
        return listed

    hosts = _wait_services(services, "manila-share")
    types = sfs.get("/types", headers=headers).json()["share_types"]
    found = [t for t in types if t["name"] == "default"]
    if found:
        type_id = found[0]["id"]
    else:
        body = {
            "share_type": {
                "name": "default",
                "share_type_access:is_public": True,
                "extra_specs": {"driver_handles_share_servers": False},
            }
        }
        resp = sfs.post("/types", json=body, headers=headers)
        resp.raise_for_status()
        type_id = resp.json()["share_type"]["id"]
    specs_url = f"/types/{type_id}/extra_specs"
    have = sfs.get(specs_url, headers=headers).json()["extra_specs"]
    if any(have.get(k) != v for k, v in SHARE_TYPE_SPECS.items()):
        resp = sfs.post(specs_url, json={"extra_specs": SHARE_TYPE_SPECS}, headers=headers)
        resp.raise_for_status()
    return {"share_hosts": hosts, "default_share_type_id": type_id}


def nova_compute(spec: dict[str, Any]) -> dict[str, Any]:
    """Wait until nova-compute reports up (its host can then be discovered into cell1)."""
    admin = _connect(spec, "admin", spec["admin_password"], "admin")
    compute: Any = admin.compute

    def services() -> list[dict[str, Any]]:
        return [s.to_dict() for s in compute.services()]

    return {"compute_hosts": _wait_services(services, "nova-compute", spec["compute_zones"])}


def nova(spec: dict[str, Any]) -> dict[str, Any]:
    """After host discovery: wait for the hypervisor, make a flavor and a tiny public image."""
    admin = _connect(spec, "admin", spec["admin_password"], "admin")
    compute: Any = admin.compute
    deadline = time.monotonic() + 120
    while not list(compute.hypervisors()):
        if time.monotonic() > deadline:
            raise SystemExit("no hypervisor showed up within 120s")
        time.sleep(1)
    flavor = compute.find_flavor(spec["flavor"]) or compute.create_flavor(
        name=spec["flavor"], vcpus=1, ram=512, disk=1, is_public=True
    )
    image: Any = admin.image.find_image(spec["image"])
    if image is None:
        # FakeDriver never reads it: a few bytes are a valid raw image for the API.
        image = admin.create_image(
            spec["image"],
            data=io.BytesIO(b"\0" * 4096),
            disk_format="raw",
            container_format="bare",
            visibility="public",
            wait=True,
        )
    return {"flavor_id": flavor.id, "image_id": image.id}


def nova_zones(spec: dict[str, Any]) -> dict[str, Any]:
    """One host aggregate per availability zone holding its compute host (after discovery)."""
    admin = _connect(spec, "admin", spec["admin_password"], "admin")
    compute: Any = admin.compute
    zones: dict[str, str] = spec["compute_zones"]
    deadline = time.monotonic() + 120
    # A host can join an aggregate once its hypervisor (and placement provider) exists.
    while not set(zones) <= {h.name for h in compute.hypervisors()}:
        if time.monotonic() > deadline:
            raise SystemExit(f"hypervisors {sorted(zones)} did not all show up within 120s")
        time.sleep(1)
    aggregates = {a.name: a for a in compute.aggregates()}
    pending = []
    for host, zone in sorted(zones.items()):
        aggregate = aggregates.get(zone) or compute.create_aggregate(
            name=zone, availability_zone=zone
        )
        if host in (aggregate.hosts or []):
            continue
        try:
            compute.add_host_to_aggregate(aggregate, host)
        except openstack.exceptions.ConflictException:
            # Nova refuses to change the zone of a host that has servers (only possible on a
            # data dir from before the zones existed): left for a later `up`.
            pending.append(host)
    return {"zones": zones, "pending": pending}


def main() -> None:
    phase, spec_path, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    phases = {
        "identity": identity,
        "network": network,
        "cinder": cinder,
        "manila": manila,
        "nova-compute": nova_compute,
        "nova": nova,
        "nova-zones": nova_zones,
    }
    result = phases[phase](spec)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
