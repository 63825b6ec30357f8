"""The controller manager: named controllers from one context, shared informers started once,
unavailable and crashed controllers, and upstream's start conditions for route and service.
Informers run against the in-memory API server with the real kubernetes client."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from types import SimpleNamespace
from typing import Any, cast

import pytest
from kubernetes.client import CoreV1Api, V1Node, V1ObjectMeta

from osk8s_ccm.ccm_metrics import CcmMetrics
from osk8s_ccm.cli import build_parser
from osk8s_ccm.controllers import ROUTE_PLUGIN, SERVICE_PLUGIN, controller_specs
from osk8s_ccm.manager import (
    ControllerContext,
    ControllerCrashed,
    ControllerManager,
    ControllerSpec,
    ControllerUnavailable,
    SharedInformers,
)
from osk8s_ccm.options import CcmOptions, options_from_args
from osk8s_core.config import CloudConfig
from osk8s_core.config.model import LoadBalancerOptions, RouteOptions
from osk8s_core.k8s.clock import SystemClock
from osk8s_core.k8s.informer import Handlers
from osk8s_testing.kubeapi import KubeApiServer


def options(*argv: str) -> CcmOptions:
    parser = build_parser()
    parser.warning_stream = io.StringIO()
    ns = parser.parse_args(["--cloud-provider=openstack", *argv])
    return options_from_args(ns, user_agent="test/1")


@pytest.fixture
def core(kube_api: KubeApiServer) -> Iterator[CoreV1Api]:
    client = kube_api.api_client()
    yield CoreV1Api(client)
    client.close()


def make_context(
    core: CoreV1Api,
    *,
    opts: CcmOptions | None = None,
    config: CloudConfig | None = None,
    extensions: set[str] | None = None,
) -> ControllerContext:
    networking = SimpleNamespace(extensions=lambda: set(extensions or ()))
    return ControllerContext(
        options=opts or options(),
        cloud_config=config or CloudConfig(),
        openstack=cast(Any, None),
        nova_neutron=cast(Any, SimpleNamespace(networking=networking)),
        instances=cast(Any, None),
        kube=core.api_client,
        core=core,
        informers=SharedInformers(core, clock=SystemClock()),
        metrics=CcmMetrics.create(),
        recorder=cast(Any, lambda component: None),
        clock=SystemClock(),
    )


class Recording:
    """A controller that records its term and waits for its stop."""

    def __init__(self, name: str, log: list[str], *, crash: bool = False) -> None:
        self.name = name
        self.log = log
        self.crash = crash
        self.stopped = threading.Event()

    def run(self, stop: threading.Event) -> None:
        self.log.append(f"run {self.name}")
        if self.crash:
            raise RuntimeError("boom")
        stop.wait()
        self.stopped.set()


def run_in_thread(
    manager: ControllerManager, context: ControllerContext
) -> tuple[threading.Event, threading.Thread, list[BaseException]]:
    stop = threading.Event()
    errors: list[BaseException] = []

    def body() -> None:
        try:
            manager.run(context, stop)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return stop, thread, errors


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_only_enabled_controllers_are_built_and_run(core: CoreV1Api) -> None:
    log: list[str] = []
    made: dict[str, Recording] = {}

    def factory(name: str) -> Callable[[ControllerContext], Recording]:
        def build(context: ControllerContext) -> Recording:
            log.append(f"build {name}")
            made[name] = Recording(name, log)
            return made[name]

        return build

    specs = [ControllerSpec(n, factory(n)) for n in ("a", "b", "c")]
    manager = ControllerManager(specs, ("a", "c"))
    stop, thread, errors = run_in_thread(manager, make_context(core))
    wait_for(lambda: len(log) == 4)
    # Every controller is built (and registers its handlers) before any runs.
    assert log[:2] == ["build a", "build c"]
    assert sorted(log[2:]) == ["run a", "run c"]
    assert manager.started == ["a", "c"]
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert not errors
    assert made["a"].stopped.is_set()
    assert made["c"].stopped.is_set()


def test_unavailable_controller_is_a_warning_or_stops_the_start() -> None:
    specs = [
        ControllerSpec("service", None, unavailable="not in this build"),
        ControllerSpec("route", lambda ctx: None),
    ]
    warnings = ControllerManager(specs, ("service", "route")).check()
    assert warnings == ["controller 'service' is not available: not in this build"]
    assert ControllerManager(specs, ("route",)).check() == []
    required = [ControllerSpec("route", None, unavailable="missing", required=True)]
    with pytest.raises(ControllerUnavailable, match="'route' is not available: missing"):
        ControllerManager(required, ("route",)).check()
    assert ControllerManager(required, ("cloud-node",)).check() == []


def test_a_crashed_controller_ends_the_term_for_all(core: CoreV1Api) -> None:
    log: list[str] = []
    healthy = Recording("healthy", log)
    specs = [
        ControllerSpec("healthy", lambda ctx: healthy),
        ControllerSpec("broken", lambda ctx: Recording("broken", log, crash=True)),
        ControllerSpec("skipped", lambda ctx: None),
    ]
    manager = ControllerManager(specs, ("healthy", "broken", "skipped"))
    _stop, thread, errors = run_in_thread(manager, make_context(core))
    thread.join(10)
    assert not thread.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], ControllerCrashed)
    assert "'broken'" in str(errors[0])
    assert healthy.stopped.is_set()
    assert manager.started == ["healthy", "broken"]


def test_shared_informers_are_started_once_after_every_controller_registered(
    core: CoreV1Api,
) -> None:
    core.create_node(V1Node(metadata=V1ObjectMeta(name="n1")))
    seen: dict[str, list[str]] = {"x": [], "y": []}
    informers: list[Any] = []

    def watcher(name: str) -> Callable[[ControllerContext], Recording]:
        def build(context: ControllerContext) -> Recording:
            informer = context.informers.nodes()
            informers.append(informer)
            informer.add_handlers(
                Handlers(on_add=lambda obj: seen[name].append(obj["metadata"]["name"]))
            )
            return Recording(name, [])

        return build

    context = make_context(core)
    manager = ControllerManager(
        [ControllerSpec("x", watcher("x")), ControllerSpec("y", watcher("y"))], ("x", "y")
    )
    stop, thread, _errors = run_in_thread(manager, context)
    wait_for(lambda: seen == {"x": ["n1"], "y": ["n1"]})
    assert informers[0] is informers[1]
    assert context.informers.names == ("nodes",)
    core.create_node(V1Node(metadata=V1ObjectMeta(name="n2")))
    wait_for(lambda: seen == {"x": ["n1", "n2"], "y": ["n1", "n2"]})
    with pytest.raises(RuntimeError, match="after the informers started"):
        context.informers.services()
    stop.set()
    thread.join(10)
    assert not thread.is_alive()


def _importer(modules: dict[str, Any]) -> Callable[[str], Any]:
    def load(name: str) -> Any:
        if name not in modules:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return modules[name]

    return load


def _spec(specs: list[ControllerSpec], name: str) -> ControllerSpec:
    return next(s for s in specs if s.name == name)


def test_route_and_service_not_in_the_build() -> None:
    specs = controller_specs(options(), importer=_importer({}))
    assert [s.name for s in specs] == ["cloud-node", "cloud-node-lifecycle", "route", "service"]
    service = _spec(specs, "service")
    assert service.factory is None
    assert "not in this build" in service.unavailable
    assert not service.required
    # Routes not asked for: route simply does not start, as upstream without the flags.
    route = _spec(specs, "route")
    assert route.factory is not None
    wanted = controller_specs(
        options("--allocate-node-cidrs", "--cluster-cidr=10.244.0.0/16"), importer=_importer({})
    )
    missing = _spec(wanted, "route")
    assert missing.factory is None
    assert missing.required
    assert "--allocate-node-cidrs and --configure-cloud-routes" in missing.unavailable


def test_a_broken_plugin_is_not_mistaken_for_a_missing_one() -> None:
    def load(name: str) -> Any:
        raise ModuleNotFoundError("No module named 'octavia_dep'", name="octavia_dep")

    with pytest.raises(ModuleNotFoundError, match="octavia_dep"):
        controller_specs(options(), importer=load)


def test_route_starts_only_with_both_flags_a_router_and_the_extension(core: CoreV1Api) -> None:
    calls: list[str] = []

    def build_route(context: ControllerContext) -> Recording:
        calls.append("route")
        return Recording("route", [])

    modules = {ROUTE_PLUGIN[0]: SimpleNamespace(**{ROUTE_PLUGIN[1]: build_route})}
    routed = CloudConfig(route=RouteOptions(router_id="r-1"))
    wanted = options("--allocate-node-cidrs", "--cluster-cidr=10.244.0.0/16")
    cases = [
        (options(), routed, {"extraroute"}, False),  # --allocate-node-cidrs unset
        (
            options("--allocate-node-cidrs", "--configure-cloud-routes=false"),
            routed,
            {"extraroute"},
            False,
        ),
        (wanted, CloudConfig(), {"extraroute"}, False),  # no router-id
        (wanted, routed, {"router", "l3-ha"}, False),  # no extraroute extension
        (wanted, routed, {"extraroute-atomic"}, True),
        (wanted, routed, {"extraroute"}, True),
    ]
    for opts, config, exts, started in cases:
        calls.clear()
        factory = _spec(controller_specs(opts, importer=_importer(modules)), "route").factory
        assert factory is not None
        runnable = factory(make_context(core, opts=opts, config=config, extensions=exts))
        assert (runnable is not None) == started, (opts.routes_wanted, config.route, exts)
        assert calls == (["route"] if started else [])


def test_service_plugin_and_disabled_load_balancer(core: CoreV1Api) -> None:
    contexts: list[ControllerContext] = []

    def build_service(context: ControllerContext) -> Recording:
        contexts.append(context)
        return Recording("service", [])

    modules = {SERVICE_PLUGIN[0]: SimpleNamespace(**{SERVICE_PLUGIN[1]: build_service})}
    factory = _spec(controller_specs(options(), importer=_importer(modules)), "service").factory
    assert factory is not None
    context = make_context(core)
    assert factory(context) is not None
    assert contexts == [context]
    off = CloudConfig(load_balancer=replace(LoadBalancerOptions(), enabled=False))
    assert factory(make_context(core, config=off)) is None
    assert len(contexts) == 1


def test_disabled_plugins_are_not_imported() -> None:
    asked: list[str] = []

    def load(name: str) -> Any:
        asked.append(name)
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    specs = controller_specs(
        options("--controllers=cloud-node,cloud-node-lifecycle"), importer=load
    )
    assert asked == []
    assert [s.name for s in specs] == ["cloud-node", "cloud-node-lifecycle", "route", "service"]
    assert ControllerManager(specs, ("cloud-node", "cloud-node-lifecycle")).check() == []
    controller_specs(options("--controllers=*,-route"), importer=load)
    assert asked == [SERVICE_PLUGIN[0]]
