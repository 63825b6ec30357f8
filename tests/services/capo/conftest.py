"""Fixtures of the CAPO cluster tests: one API server with the CRDs per module (loading the
big CRDs is the costly part), the test cloud's demo credentials, a ``World`` per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import openstack
import pytest
from openstack.config.loader import OpenStackConfig
from openstack.connection import Connection

from osk8s_testing.cloudgate import answers, cloud_unavailable
from osk8s_testing.kubeapi.server import KubeApiServer, ServerConfig
from osk8s_testing.testcloud.layout import Layout, resolve_dir
from osk8s_testing.testcloud.outputs import DEMO_CLOUD

from .capo_harness import World, clouds_yaml_for, install_crds


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


@pytest.fixture(scope="session")
def demo(capo_layout: Layout) -> Iterator[Connection]:
    config = OpenStackConfig(config_files=[str(capo_layout.clouds_yaml)], load_envvars=False)
    conn = openstack.connection.Connection(config=config.get_one(cloud=DEMO_CLOUD))
    yield conn
    conn.close()


@pytest.fixture
def world(capo_api: KubeApiServer, capo_layout: Layout, demo: Connection) -> World:
    return World(capo_api, clouds_yaml_for(capo_layout.clouds_yaml, DEMO_CLOUD), demo)
