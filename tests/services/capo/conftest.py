"""Fixtures of the CAPO cluster tests: one API server with the CRDs per module (loading the
big CRDs is the costly part), and a project of their own on the test cloud.

A cluster holds two security groups; the demo project's Neutron quota allows 10 and other
suites run in parallel against it, so CAPO's tests get a fresh project (the demo user as
member and load-balancer member, roomy quotas), made through the APIs by the admin and
deleted at the end, with whatever the tests left in it."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import openstack
import pytest
from openstack.config.loader import OpenStackConfig
from openstack.connection import Connection

from osk8s_testing.cloudgate import answers, cloud_unavailable
from osk8s_testing.kubeapi.server import KubeApiServer, ServerConfig
from osk8s_testing.testcloud.layout import Layout, resolve_dir
from osk8s_testing.testcloud.outputs import ADMIN_CLOUD, DEMO_CLOUD

from .capo_harness import World, clouds_yaml_for, install_crds

ROLES = ("member", "load-balancer_member")
QUOTAS = {
    "security_groups": 100,
    "security_group_rules": 2000,
    "networks": 50,
    "subnets": 50,
    "routers": 30,
    "floating_ips": 60,
    "ports": 500,
}


@pytest.fixture(scope="module")
def capo_api() -> Iterator[KubeApiServer]:
    server = KubeApiServer(ServerConfig()).start()
    install_crds(server)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def capo_layout() -> Layout:
    layout = Layout(resolve_dir(None, os.environ))
    if not layout.clouds_yaml.exists() or not answers(5000):
        cloud_unavailable("OpenStack test cloud not running (no clouds.yaml or Keystone down)")
    return layout


def _connect(clouds_yaml: Path, cloud: str) -> Connection:
    config = OpenStackConfig(config_files=[str(clouds_yaml)], load_envvars=False)
    return openstack.connection.Connection(config=config.get_one(cloud=cloud))


@pytest.fixture(scope="module")
def admin(capo_layout: Layout) -> Iterator[Connection]:
    """The test cloud's admin (flavors, images, other projects' servers), one per module."""
    conn = _connect(capo_layout.clouds_yaml, ADMIN_CLOUD)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def capo_clouds_yaml(
    capo_layout: Layout, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """clouds.yaml (entry ``openstack``) of the demo user in a project made for this session."""
    admin = _connect(capo_layout.clouds_yaml, ADMIN_CLOUD)
    project = admin.identity.create_project(
        name=f"osk8s-capo-{uuid.uuid4().hex[:8]}", domain_id="default"
    )
    try:
        user = admin.identity.find_user("demo", domain_id="default", ignore_missing=False)
        for role in ROLES:
            admin.identity.assign_project_role_to_user(
                project, user, admin.identity.find_role(role, ignore_missing=False)
            )
        admin.network.update_quota(project.id, **QUOTAS)
        text = clouds_yaml_for(capo_layout.clouds_yaml, DEMO_CLOUD, project_name=project.name)
        yield text
        path = tmp_path_factory.mktemp("capo") / "clouds.yaml"
        path.write_text(text)
        _empty_project(_connect(path, "openstack"))
    finally:
        admin.identity.delete_project(project.id)
        admin.close()


def _empty_project(conn: Connection) -> None:
    """Best effort: what a failed test left in the session's project."""
    with contextlib.suppress(Exception):
        for lb in conn.load_balancer.load_balancers():
            conn.load_balancer.delete_load_balancer(lb.id, cascade=True)
        for fip in conn.network.ips():
            conn.network.delete_ip(fip.id)
        for router in conn.network.routers():
            for port in conn.network.ports(
                device_id=router.id, device_owner="network:router_interface"
            ):
                for ip in port.fixed_ips:
                    conn.network.remove_interface_from_router(router, subnet=ip["subnet_id"])
            conn.network.delete_router(router.id)
    for network in list(conn.network.networks(project_id=conn.current_project_id)):
        with contextlib.suppress(Exception):
            conn.network.delete_network(network.id)
    for group in list(conn.network.security_groups(project_id=conn.current_project_id)):
        if group.name != "default":
            with contextlib.suppress(Exception):
                conn.network.delete_security_group(group.id)
    conn.close()


@pytest.fixture(scope="session")
def demo(capo_clouds_yaml: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Connection]:
    """The demo user, scoped to the session's project (what the controller runs as)."""
    path = tmp_path_factory.mktemp("capo-demo") / "clouds.yaml"
    path.write_text(capo_clouds_yaml)
    conn = _connect(path, "openstack")
    yield conn
    conn.close()


@pytest.fixture
def world(capo_api: KubeApiServer, capo_clouds_yaml: str, demo: Connection) -> World:
    return World(capo_api, capo_clouds_yaml, demo)
