"""Fixtures for the fault proxy's own suite: a tiny upstream and a proxy in front of it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fp_upstream import Upstream, running_upstream

from osk8s_testing.faultproxy.fixtures import FaultProxyFactory
from osk8s_testing.faultproxy.server import FaultProxy


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with running_upstream() as server:
        yield server


@pytest.fixture
def proxy(fault_proxy: FaultProxyFactory, upstream: Upstream) -> FaultProxy:
    return fault_proxy(upstream.url)
