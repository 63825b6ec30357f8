"""The service controller plugged into the ccm controller manager by name (``service``),
through ``build_service_controller`` and a provider factory, on the in-memory API server:
flags (``--cluster-name``, ``--concurrent-service-syncs``) reach it, the shared informers
feed it, and a Service gets its load balancer while the manager runs."""

from __future__ import annotations

import dataclasses
import io
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, cast

import pytest
from kubernetes.client import CoreV1Api

from osk8s_ccm import service_controller
from osk8s_ccm.ccm_metrics import CcmMetrics
from osk8s_ccm.cli import build_parser
from osk8s_ccm.controllers import controller_specs
from osk8s_ccm.manager import ControllerContext, ControllerManager, SharedInformers
from osk8s_ccm.octavia.provider import OctaviaProvider
from osk8s_ccm.options import CcmOptions, options_from_args
from osk8s_ccm.service_controller import ServiceController, build_service_controller
from osk8s_core.config import CloudConfig
from osk8s_core.k8s.clock import SystemClock
from osk8s_core.k8s.events import EventRecorder
from osk8s_core.logging import get_logger
from osk8s_core.openstack.client import OpenStackClient

from .test_ccm_service_controller import VIP, FakeProvider, add_node, add_service

PROVIDERS: list[FakeProvider] = []


def build_fake_provider(context: ControllerContext, environ: Mapping[str, str]) -> FakeProvider:
    provider = FakeProvider(context.core)
    PROVIDERS.append(provider)
    return provider


@pytest.fixture
def core(kube_api: Any) -> Iterator[Any]:
    client = kube_api.api_client()
    yield CoreV1Api(client)
    client.close()


@pytest.fixture
def fake_provider_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    PROVIDERS.clear()
    monkeypatch.setattr(service_controller, "PROVIDER_MODULE", (__name__, "build_fake_provider"))
    assert sys.modules[__name__].build_fake_provider is build_fake_provider
    yield
    PROVIDERS.clear()


def options(*argv: str) -> CcmOptions:
    parser = build_parser()
    parser.warning_stream = io.StringIO()
    return options_from_args(
        parser.parse_args(["--cloud-provider=openstack", *argv]), user_agent="test/1"
    )


def context(core: Any, opts: CcmOptions) -> ControllerContext:
    clock = SystemClock()
    return ControllerContext(
        options=opts,
        cloud_config=CloudConfig(),
        openstack=cast(Any, None),
        nova_neutron=cast(Any, None),
        instances=cast(Any, None),
        kube=core.api_client,
        core=core,
        informers=SharedInformers(core, clock=clock),
        metrics=CcmMetrics.create(),
        recorder=lambda component: EventRecorder(core, component=component, clock=clock),
        clock=clock,
    )


@pytest.mark.usefixtures("fake_provider_module")
def test_flags_reach_the_controller(core: Any) -> None:
    built = build_service_controller(
        context(core, options("--cluster-name=prod", "--concurrent-service-syncs=4"))
    )
    assert isinstance(built, ServiceController)
    assert built.settings.cluster_name == "prod"
    assert built.settings.workers == 4
    assert built.settings.node_sync_period == 100.0  # upstream's nodeSyncPeriod


def test_without_a_provider_the_controller_does_not_start(
    core: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_controller, "PROVIDER_MODULE", (__name__, "no_such_factory"))
    assert build_service_controller(context(core, options())) is None
    monkeypatch.setattr(service_controller, "PROVIDER_MODULE", ("osk8s_ccm.nope", "build"))
    assert build_service_controller(context(core, options())) is None


@pytest.mark.usefixtures("fake_provider_module")
def test_manager_runs_the_service_controller_by_name(core: Any) -> None:
    opts = options("--controllers=service", "--cluster-name=prod")
    manager = ControllerManager(specs=controller_specs(opts), enabled=opts.controllers)
    stop = threading.Event()
    thread = threading.Thread(target=manager.run, args=(context(core, opts), stop), daemon=True)
    add_node(core, "n1")
    thread.start()
    try:
        key = add_service(core, "web")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ingress = core.read_namespaced_service("web", "default").status.load_balancer or {}
            if getattr(ingress, "ingress", None):
                break
            time.sleep(0.05)
        assert manager.started == ["service"]
        [provider] = PROVIDERS
        assert provider.calls == [("ensure", key, ("n1",))]
        svc = core.read_namespaced_service("web", "default")
        assert svc.status.load_balancer.ingress[0].ip == VIP
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


class Untouchable:
    """A connection that fails the test if anything is asked of it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the provider touched the connection at build time: {name}")


def test_the_real_octavia_provider_is_built_without_a_request(core: Any) -> None:
    ctx = context(core, options("--cluster-name=prod"))
    ctx = dataclasses.replace(
        ctx,
        openstack=OpenStackClient(
            Untouchable(), metrics=ctx.metrics.api, logger=get_logger("test")
        ),
    )
    built = build_service_controller(ctx, environ={"OCCM_WAIT_LB_ACTIVE_STEPS": "5"})
    assert isinstance(built, ServiceController)
    assert isinstance(built._provider, OctaviaProvider)
    # upstream's service_controller_* metrics are served from the process registry
    assert ctx.metrics.registry.get_sample_value("service_controller_loadbalancer_sync_total") == 0
    assert isinstance(build_service_controller(ctx, environ={}), ServiceController)  # twice: ok
