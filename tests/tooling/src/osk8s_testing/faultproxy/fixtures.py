"""pytest plugin: the ``fault_proxy`` fixture (register with ``pytest_plugins``).

``fault_proxy(upstream)`` starts a proxy in front of ``upstream`` and returns it;
``fault_proxy.fleet({...})`` fronts several upstreams with catalog rewriting. Every proxy the
fixture started is stopped at the end of the test, so rules never leak between tests::

    def test_retries(fault_proxy):
        proxy = fault_proxy(server_url)
        proxy.inject(error(503), method="GET", path=r"/volumes/", first=2)
        ...  # point the client at proxy.url
        assert proxy.calls.count("GET", r"/volumes/") == 3
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from osk8s_testing.faultproxy.server import FaultProxy, start_fleet


class FaultProxyFactory:
    """Starts proxies for one test and stops them all at its end."""

    def __init__(self) -> None:
        self._started: list[FaultProxy] = []

    def __call__(self, upstream: str, *, rewrites: Mapping[str, str] | None = None) -> FaultProxy:
        proxy = FaultProxy(upstream, rewrites=rewrites).start()
        self._started.append(proxy)
        return proxy

    def fleet(self, upstreams: Mapping[str, str], *, rewrite: bool = True) -> dict[str, FaultProxy]:
        proxies = start_fleet(upstreams, rewrite=rewrite)
        self._started.extend(proxies.values())
        return proxies

    def stop_all(self) -> None:
        while self._started:
            self._started.pop().stop()


@pytest.fixture
def fault_proxy() -> Iterator[FaultProxyFactory]:
    factory = FaultProxyFactory()
    try:
        yield factory
    finally:
        factory.stop_all()
