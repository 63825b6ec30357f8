"""Fixtures of the Manila CSI tests: the test cloud's Manila, its credentials as CSI secrets.

Everything here talks to the real Manila of ``osk8s-testcloud`` (contract): when the cloud is
not up the tests skip locally and fail in CI (``cloudgate``). Shares are named with a unique
prefix per test and deleted by the test that made them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from osk8s_testing.cloudgate import answers, cloud_unavailable
from osk8s_testing.manila_secrets import manila_secrets
from osk8s_testing.testcloud.layout import Layout, resolve_dir

from .manila_harness import Driver, start


@pytest.fixture(scope="session")
def demo_secrets() -> dict[str, str]:
    layout = Layout(resolve_dir(None, os.environ))
    if not layout.clouds_yaml.exists():
        cloud_unavailable(f"OpenStack test cloud not set up: no {layout.clouds_yaml}")
    if not (answers(5000) and answers(8786)):
        cloud_unavailable("OpenStack test cloud: Keystone (5000) or Manila (8786) does not answer")
    return manila_secrets(layout.clouds_yaml)


@pytest.fixture(scope="module")
def nfs(demo_secrets: dict[str, str]) -> Iterator[Driver]:
    with start(demo_secrets, protocol="NFS") as driver:
        yield driver
