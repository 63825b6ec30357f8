"""``FaultProxy``: the proxy running on its own event loop thread, steered from test code.

Binds 127.0.0.1 only (port 0 unless given). ``start()`` returns once the socket listens;
``stop()`` drops held connections and joins the thread. ``start_fleet`` puts one proxy in front
of each of several upstreams and rewrites every upstream URL to its proxy in bodies (a Keystone
catalog), so a client that follows the catalog keeps going through the proxies.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from types import TracebackType

from aiohttp import web

from osk8s_testing.faultproxy.app import ProxyState, build_app
from osk8s_testing.faultproxy.calls import Call, CallLog
from osk8s_testing.faultproxy.forward import Rewrite
from osk8s_testing.faultproxy.rules import (
    Always,
    ArmedRule,
    Fault,
    FirstN,
    Match,
    Nth,
    Probability,
    Rule,
    RuleSet,
    When,
)

LOOPBACK = "127.0.0.1"


class FaultProxy:
    def __init__(
        self,
        upstream: str,
        *,
        port: int = 0,
        rewrites: Mapping[str, str] | None = None,
        on_call: Callable[[Call], None] | None = None,
        shutdown_timeout: float = 0.2,
    ) -> None:
        self._state = ProxyState(upstream=upstream.rstrip("/"), on_call=on_call)
        self.set_rewrites(rewrites or {})
        self.port = port
        """The bound port (the real one once started, also when 0 was asked)."""
        self._shutdown_timeout = shutdown_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # --- lifecycle ---

    def start(self) -> FaultProxy:
        if self._thread is not None:
            raise RuntimeError("fault proxy already started")
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run, args=(loop,), name="fault-proxy", daemon=True
        )
        self._loop = loop
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._serve(), loop)
        self.port = future.result(timeout=10)
        return self

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()
        # Handlers still holding a connection (hang faults, open watch streams) outlive the
        # runner's shutdown timeout: cancel them so the loop closes with nothing pending.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    async def _serve(self) -> int:
        self._runner = web.AppRunner(
            build_app(self._state), access_log=None, shutdown_timeout=self._shutdown_timeout
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, LOOPBACK, self.port).start()
        port: int = self._runner.addresses[0][1]
        return port

    def stop(self) -> None:
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is None or thread is None:
            return
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._loop = self._thread = self._runner = None

    def __enter__(self) -> FaultProxy:
        return self.start() if self._thread is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what tests use ---

    @property
    def url(self) -> str:
        """Base URL of the proxy (what the client under test must call)."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def upstream(self) -> str:
        return self._state.upstream

    @property
    def rules(self) -> RuleSet:
        return self._state.rules

    @property
    def calls(self) -> CallLog:
        return self._state.calls

    def add(self, rule: Rule) -> ArmedRule:
        return self._state.rules.add(rule)

    def inject(
        self,
        fault: Fault,
        *,
        method: str | None = None,
        path: str = "",
        nth: int | None = None,
        first: int | None = None,
        probability: float | None = None,
        seed: int = 0,
    ) -> ArmedRule:
        """Add a rule: ``fault`` on calls matching method + path regex, on the given schedule
        (at most one of ``nth``, ``first``, ``probability``; none means every matching call)."""
        given = [x for x in (nth, first, probability) if x is not None]
        if len(given) > 1:
            raise ValueError("give at most one of nth, first, probability")
        when: When = Always()
        if nth is not None:
            when = Nth(nth)
        elif first is not None:
            when = FirstN(first)
        elif probability is not None:
            when = Probability(probability, seed)
        return self.add(Rule(match=Match(method=method, path=path), fault=fault, when=when))

    def reset(self) -> None:
        """Forget every rule and every recorded call."""
        self._state.rules.clear()
        self._state.calls.clear()

    def set_rewrites(self, rewrites: Mapping[str, str]) -> None:
        """Rewrite ``{upstream base URL: replacement}`` in text bodies and Location headers."""
        self._state.rewrites = tuple(Rewrite(upstream=u, proxy=p) for u, p in rewrites.items())


def start_fleet(upstreams: Mapping[str, str], *, rewrite: bool = True) -> dict[str, FaultProxy]:
    """Start one proxy per named upstream. With ``rewrite``, every proxy replaces every
    upstream base URL by that upstream's proxy URL in bodies (catalogs, version documents)."""
    fleet: dict[str, FaultProxy] = {}
    try:
        for name, upstream in upstreams.items():
            fleet[name] = FaultProxy(upstream).start()
    except BaseException:
        for proxy in fleet.values():
            proxy.stop()
        raise
    if rewrite:
        mapping = {p.upstream: p.url for p in fleet.values()}
        for proxy in fleet.values():
            proxy.set_rewrites(mapping)
    return fleet
