"""pytest plugin: the ``kube_api`` fixture (a fresh fake API server per test) and a factory.

Register with ``pytest_plugins = ["osk8s_testing.kubeapi.fixtures"]`` in a conftest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from osk8s_testing.kubeapi.server import KubeApiServer, ServerConfig

KubeApiFactory = Callable[..., KubeApiServer]


@pytest.fixture
def kube_api_factory(tmp_path: Path) -> Iterator[KubeApiFactory]:
    """Start servers with custom settings: ``kube_api_factory(history_limit=5)``."""
    started: list[KubeApiServer] = []

    def make(**settings: Any) -> KubeApiServer:
        server = KubeApiServer(ServerConfig(**settings)).start()
        started.append(server)
        server.write_kubeconfig(tmp_path / f"kubeconfig-{len(started)}.yaml")
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def kube_api(kube_api_factory: KubeApiFactory) -> KubeApiServer:
    """A running fake kube-apiserver with a fresh store (default settings)."""
    return kube_api_factory()
