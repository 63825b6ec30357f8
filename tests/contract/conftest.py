"""Fixtures for the contract suite: connections to the local OpenStack test cloud.

The suite needs ``osk8s-testcloud up`` first. Where the test cloud is not up (no clouds.yaml
in ``$OSK8S_TESTCLOUD_DIR`` or ``<repo>/.testcloud``, or Keystone not answering) every test is
skipped with the reason; it never starts the cloud itself.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openstack
import pytest
from openstack.config.loader import OpenStackConfig
from openstack.connection import Connection

from osk8s_testing.cloudgate import cloud_unavailable
from osk8s_testing.testcloud.layout import Layout, resolve_dir
from osk8s_testing.testcloud.outputs import ADMIN_CLOUD, DEMO_CLOUD


@dataclass(frozen=True)
class TestCloud:
    """Where the running test cloud's outputs are and the ids it created."""

    __test__ = False

    layout: Layout
    state: dict[str, Any]

    @property
    def network(self) -> dict[str, str]:
        net: dict[str, str] = self.state.get("network", {})
        return net


def _keystone_answers(clouds_yaml: Path) -> bool:
    # 127.0.0.1:5000 is where the test cloud's Keystone listens (see services/base.py).
    try:
        with socket.create_connection(("127.0.0.1", 5000), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def testcloud() -> TestCloud:
    layout = Layout(resolve_dir(None, os.environ))
    if not layout.clouds_yaml.exists():
        cloud_unavailable(
            f"OpenStack test cloud not set up: no {layout.clouds_yaml} "
            "(run `osk8s-testcloud up`, or set OSK8S_TESTCLOUD_DIR)"
        )
    if not _keystone_answers(layout.clouds_yaml):
        cloud_unavailable(
            "OpenStack test cloud not running: Keystone does not answer on 127.0.0.1:5000"
        )
    state = json.loads(layout.state_file.read_text()) if layout.state_file.exists() else {}
    return TestCloud(layout=layout, state=state)


def _connect(testcloud: TestCloud, cloud: str) -> Iterator[Connection]:
    # Only our clouds.yaml: OS_* variables and ~/.config/openstack must not steer the suite.
    config = OpenStackConfig(config_files=[str(testcloud.layout.clouds_yaml)], load_envvars=False)
    conn = openstack.connection.Connection(config=config.get_one(cloud=cloud))
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture(scope="session")
def demo_conn(testcloud: TestCloud) -> Iterator[Connection]:
    """The non-admin ``demo`` user in project ``demo`` (what osk8s services run as)."""
    yield from _connect(testcloud, DEMO_CLOUD)


@pytest.fixture(scope="session")
def admin_conn(testcloud: TestCloud) -> Iterator[Connection]:
    yield from _connect(testcloud, ADMIN_CLOUD)


@pytest.fixture
def name() -> str:
    """A unique resource name, so reruns and parallel runs never collide."""
    return f"osk8s-contract-{uuid.uuid4().hex[:8]}"
