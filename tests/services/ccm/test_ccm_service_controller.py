"""The service controller on the in-memory API server (real ``kubernetes`` client, real
informers, work queue and event recorder) over a small in-test fake of the LoadBalancer
provider protocol. Expected behaviour is k8s.io/cloud-provider's service controller (finalizer
before the first cloud call, status through ``services/status``, node set changes ->
UpdateLoadBalancer, delete -> EnsureLoadBalancerDeleted -> finalizer gone, class skipping,
per-key backoff, ``--concurrent-service-syncs``, upstream's event reasons) and the osk8s
additions (annotation warnings as events, the ``LoadBalancerReady`` condition)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog.testing
from kubernetes.client import CoreV1Api
from prometheus_client import CollectorRegistry

from osk8s_ccm import lb_annotations as ann
from osk8s_ccm.lb_provider import (
    IngressPoint,
    LoadBalancerError,
    LoadBalancerNode,
    LoadBalancerRecorder,
    LoadBalancerService,
    LoadBalancerStatus,
    RetryLater,
)
from osk8s_ccm.lb_settings import ETP_LOCAL_WITHOUT_MONITOR, ingress_for, service_settings
from osk8s_ccm.service_controller import (
    COMPONENT,
    PROVIDER_COMPONENT,
    ServiceController,
    ServiceControllerSettings,
)
from osk8s_ccm.service_metrics import ServiceControllerMetrics
from osk8s_ccm.service_nodes import EXCLUDE_LABEL, TO_BE_DELETED_TAINT
from osk8s_ccm.service_status import CONDITION_TYPE, FINALIZER
from osk8s_core.config import LoadBalancerOptions
from osk8s_core.k8s.clock import SystemClock
from osk8s_core.k8s.events import EventRecorder
from osk8s_core.k8s.informer import Informer
from osk8s_core.k8s.listwatch import ApiListWatch
from osk8s_core.metrics import ReconcileMetrics

NS = "default"
VIP = "192.0.2.10"
CONFIG = LoadBalancerOptions(create_monitor=False)


@dataclass
class FakeProvider:
    """The LoadBalancer protocol over a dict; checks the finalizer is persisted before any
    cloud call by reading the Service back from the API server."""

    core: Any
    calls: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    lbs: dict[str, str] = field(default_factory=dict)
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    finalizer_at_call: list[bool] = field(default_factory=list)
    ensured: list[LoadBalancerService] = field(default_factory=list)
    delay: float = 0.0
    barrier: threading.Barrier | None = None
    """Ensure calls wait here for each other (proves they run at the same time)."""
    active: dict[str, int] = field(default_factory=dict)
    max_active: int = 0
    overlap_same_key: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _enter(self, method: str, service: LoadBalancerService, nodes: Sequence[Any]) -> None:
        with self.lock:
            self.calls.append((method, service.key, tuple(n.name for n in nodes)))
            if self.active.get(service.key):
                self.overlap_same_key = True
            self.active[service.key] = self.active.get(service.key, 0) + 1
            self.max_active = max(self.max_active, sum(self.active.values()))
        try:
            if self.barrier is not None and method == "ensure":
                self.barrier.wait()
            if self.delay:
                time.sleep(self.delay)
            pending = self.failures.get(method) or []
            if pending:
                raise pending.pop(0)
        finally:
            with self.lock:
                self.active[service.key] -= 1

    def get_load_balancer_name(self, cluster_name: str, service: LoadBalancerService) -> str:
        return f"kube_service_{cluster_name}_{service.namespace}_{service.name}"

    def get_load_balancer(
        self, cluster_name: str, service: LoadBalancerService
    ) -> LoadBalancerStatus | None:
        address = self.lbs.get(service.key)
        return None if address is None else LoadBalancerStatus((IngressPoint(ip=address),))

    def ensure_load_balancer(
        self,
        cluster_name: str,
        service: LoadBalancerService,
        nodes: Sequence[LoadBalancerNode],
        recorder: LoadBalancerRecorder,
    ) -> LoadBalancerStatus:
        self.ensured.append(service)
        live = self.core.read_namespaced_service(service.name, service.namespace)
        self.finalizer_at_call.append(FINALIZER in (live.metadata.finalizers or []))
        self._enter("ensure", service, nodes)
        self.lbs[service.key] = VIP
        recorder.annotate(ann.LOAD_BALANCER_ID, f"lb-{service.name}")
        settings = service_settings(service, CONFIG, {})
        return LoadBalancerStatus(ingress_for(VIP, settings))

    def update_load_balancer(
        self,
        cluster_name: str,
        service: LoadBalancerService,
        nodes: Sequence[LoadBalancerNode],
        recorder: LoadBalancerRecorder,
    ) -> None:
        self._enter("update", service, nodes)

    def ensure_load_balancer_deleted(
        self, cluster_name: str, service: LoadBalancerService, recorder: LoadBalancerRecorder
    ) -> None:
        self._enter("delete", service, ())
        recorder.event("Normal", "FakeDeleted", "gone")
        self.lbs.pop(service.key, None)

    def last(self) -> tuple[str, str, tuple[str, ...]]:
        return self.calls[-1]

    def methods(self, key: str | None = None) -> list[str]:
        return [m for m, k, _ in self.calls if key is None or k == key]


@dataclass
class Rig:
    core: Any
    provider: FakeProvider
    controller: ServiceController
    registry: CollectorRegistry
    stop: threading.Event
    threads: list[threading.Thread]

    def run_controller(self) -> None:
        thread = threading.Thread(target=self.controller.run, args=(self.stop,), daemon=True)
        thread.start()
        self.threads.append(thread)

    def step(self, key: str, *, wait: float = 2.0) -> None:
        """Reconcile ``key`` once, after the informer has caught up with the API server."""
        self.settle()
        self.controller.reconcile(key)

    def settle(self) -> None:
        """Wait until both informers hold what the API server has."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rv_svc = {
                s.metadata.name: s.metadata.resource_version
                for s in self.core.list_namespaced_service(NS).items
            }
            rv_node = {
                n.metadata.name: n.metadata.resource_version for n in self.core.list_node().items
            }
            cached_svc = {
                o["metadata"]["name"]: o["metadata"]["resourceVersion"]
                for o in self.controller._services.store.objects()
            }
            cached_node = {
                o["metadata"]["name"]: o["metadata"]["resourceVersion"]
                for o in self.controller._nodes.store.objects()
            }
            if rv_svc == cached_svc and rv_node == cached_node:
                return
            time.sleep(0.01)
        pytest.fail("informers did not catch up")

    def metric(self, name: str, operation: str) -> float:
        value = self.registry.get_sample_value(name, {"operation": operation})
        return value or 0.0


@pytest.fixture
def core(kube_api: Any) -> Iterator[CoreV1Api]:
    client = kube_api.api_client()
    yield CoreV1Api(client)
    client.close()


def make_rig(core: Any, **settings: Any) -> Rig:
    clock = SystemClock()
    stop = threading.Event()
    services = Informer(
        ApiListWatch(core.list_service_for_all_namespaces, description="services"),
        name="services",
        clock=clock,
    )
    nodes = Informer(ApiListWatch(core.list_node, description="nodes"), name="nodes", clock=clock)
    provider = FakeProvider(core)
    registry = CollectorRegistry()
    controller = ServiceController(
        api=core,
        provider=provider,
        settings_for=lambda service: service_settings(service, CONFIG, {}),
        services=services,
        nodes=nodes,
        recorder=EventRecorder(core, component=COMPONENT, clock=clock),
        provider_recorder=EventRecorder(core, component=PROVIDER_COMPONENT, clock=clock),
        clock=clock,
        metrics=ReconcileMetrics(registry),
        service_metrics=ServiceControllerMetrics(registry),
        settings=ServiceControllerSettings(
            cluster_name="test", **{"min_retry_delay": 0.05, "max_retry_delay": 1.0, **settings}
        ),
    )
    threads = [services.start(stop), nodes.start(stop)]
    assert services.wait_for_sync(5) and nodes.wait_for_sync(5)
    return Rig(core, provider, controller, registry, stop, threads)


@pytest.fixture
def rig(core: Any) -> Iterator[Rig]:
    made = make_rig(core)
    yield made
    made.stop.set()
    for thread in made.threads:
        thread.join(30)


def add_node(
    core: Any,
    name: str,
    *,
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    address: str = "10.0.0.1",
) -> None:
    core.create_node(
        {
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"providerID": f"openstack:///{name}", "taints": taints or []},
        }
    )
    core.patch_node_status(
        name,
        {"status": {"addresses": [{"type": "InternalIP", "address": address}]}},
        _content_type="application/strategic-merge-patch+json",
    )


def add_service(
    core: Any, name: str, *, annotations: dict[str, str] | None = None, **spec: Any
) -> str:
    body = {
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {
            "type": "LoadBalancer",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
            "selector": {"app": name},
            **spec,
        },
    }
    core.create_namespaced_service(NS, body)
    return f"{NS}/{name}"


def service_json(core: Any, name: str) -> dict[str, Any]:
    raw: dict[str, Any] = core.api_client.sanitize_for_serialization(
        core.read_namespaced_service(name, NS)
    )
    return raw


def events(core: Any, name: str) -> list[tuple[str, str, str, str]]:
    """(component, type, reason, message) of the Events about Service ``name``."""
    found = core.list_namespaced_event(NS).items
    return [
        (e.source.component, e.type, e.reason, e.message)
        for e in found
        if e.involved_object.name == name and e.involved_object.kind == "Service"
    ]


def reasons(core: Any, name: str) -> list[str]:
    return [reason for _, _, reason, _ in events(core, name)]


def condition(service: dict[str, Any]) -> dict[str, Any] | None:
    for found in (service.get("status") or {}).get("conditions") or []:
        if found["type"] == CONDITION_TYPE:
            return dict(found)
    return None


def eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not reached in {timeout} s: {what}")
        time.sleep(0.02)


def test_create_adds_finalizer_first_then_ensures_and_patches_status(rig: Rig) -> None:
    add_node(rig.core, "n1")
    add_node(rig.core, "n2", address="10.0.0.2")
    add_node(rig.core, "excluded", labels={EXCLUDE_LABEL: ""})
    add_node(rig.core, "leaving", taints=[{"key": TO_BE_DELETED_TAINT, "effect": "NoSchedule"}])
    key = add_service(rig.core, "web")
    rig.step(key)
    assert rig.provider.calls == [("ensure", key, ("n1", "n2"))]
    assert rig.provider.finalizer_at_call == [True]
    svc = service_json(rig.core, "web")
    assert svc["metadata"]["finalizers"] == [FINALIZER]
    assert svc["status"]["loadBalancer"] == {"ingress": [{"ip": VIP, "ipMode": "VIP"}]}
    assert svc["metadata"]["annotations"][ann.LOAD_BALANCER_ID] == "lb-web"
    ready = condition(svc)
    assert ready is not None and ready["status"] == "True"
    assert ready["reason"] == "LoadBalancerEnsured"
    # Services carry no metadata.generation (kube-apiserver tracks it for workloads only)
    assert ready.get("observedGeneration") == svc["metadata"].get("generation")
    assert reasons(rig.core, "web") == ["EnsuringLoadBalancer", "EnsuredLoadBalancer"]
    assert {c for c, *_ in events(rig.core, "web")} == {COMPONENT}
    assert rig.metric("cloudprovider_openstack_reconcile_total", "loadbalancer_ensure") == 1
    assert rig.metric("cloudprovider_openstack_reconcile_errors_total", "loadbalancer_ensure") == 0
    # Our own annotation and status writes do not cause a second cloud call.
    rig.step(key)
    assert rig.provider.methods() == ["ensure"]


def test_spec_change_ensures_again_and_node_changes_update(rig: Rig) -> None:
    add_node(rig.core, "n1")
    key = add_service(rig.core, "web")
    rig.step(key)
    add_node(rig.core, "n2", address="10.0.0.2")
    rig.step(key)
    assert rig.provider.last() == ("update", key, ("n1", "n2"))
    # a heartbeat-like change (a condition) is not a node set change
    rig.core.patch_node_status(
        "n2",
        {"status": {"conditions": [{"type": "Ready", "status": "False"}]}},
        _content_type="application/strategic-merge-patch+json",
    )
    rig.step(key)
    assert rig.provider.methods() == ["ensure", "update"]
    rig.core.patch_node("n2", {"metadata": {"labels": {EXCLUDE_LABEL: "true"}}})
    rig.step(key)
    assert rig.provider.last() == ("update", key, ("n1",))
    rig.core.delete_node("n1")
    rig.step(key)
    assert rig.provider.last() == ("update", key, ())
    assert "UpdatedLoadBalancer" in reasons(rig.core, "web")
    assert rig.metric("cloudprovider_openstack_reconcile_total", "loadbalancer_update") == 3
    # a spec change is a full ensure
    rig.core.patch_namespaced_service(
        "web",
        NS,
        {"spec": {"ports": [{"name": "http", "port": 81, "targetPort": 8080, "protocol": "TCP"}]}},
        _content_type="application/merge-patch+json",
    )
    rig.step(key)
    assert rig.provider.methods()[-1] == "ensure"
    assert "UnAvailableLoadBalancer" in reasons(rig.core, "web")
    # the provider sees the Service as it is, published status included
    last = rig.provider.ensured[-1]
    assert [p.port for p in last.ports] == [81]
    assert last.current_ingress == (IngressPoint(ip=VIP, ip_mode="VIP"),)


def test_delete_ensures_deleted_then_removes_finalizer(rig: Rig) -> None:
    add_node(rig.core, "n1")
    key = add_service(rig.core, "web")
    rig.step(key)
    rig.core.delete_namespaced_service("web", NS)
    # kube-apiserver keeps it (deletionTimestamp) while our finalizer is on it
    assert service_json(rig.core, "web")["metadata"]["deletionTimestamp"]
    rig.step(key)
    assert rig.provider.methods() == ["ensure", "delete"]
    assert rig.provider.lbs == {}
    assert [s.metadata.name for s in rig.core.list_namespaced_service(NS).items] == []
    got = reasons(rig.core, "web")
    assert got[-3:] == ["DeletingLoadBalancer", "FakeDeleted", "DeletedLoadBalancer"]
    assert ("cloud-provider-openstack", "Normal", "FakeDeleted", "gone") in events(rig.core, "web")
    assert rig.metric("cloudprovider_openstack_reconcile_total", "loadbalancer_delete") == 1
    rig.step(key)  # the gone Service: nothing more
    assert rig.provider.methods() == ["ensure", "delete"]


def test_type_change_deletes_lb_clears_status_keeps_service(rig: Rig) -> None:
    add_node(rig.core, "n1")
    key = add_service(rig.core, "web")
    rig.step(key)
    rig.core.patch_namespaced_service(
        "web", NS, {"spec": {"type": "ClusterIP"}}, _content_type="application/merge-patch+json"
    )
    rig.step(key)
    assert rig.provider.methods() == ["ensure", "delete"]
    svc = service_json(rig.core, "web")
    assert FINALIZER not in (svc["metadata"].get("finalizers") or [])
    assert not (svc["status"].get("loadBalancer") or {}).get("ingress")
    assert condition(svc) is None
    assert "Type" in reasons(rig.core, "web")
    assert ("service-controller", "Normal", "Type", "LoadBalancer -> ClusterIP") in events(
        rig.core, "web"
    )


def test_delete_without_lb_skips_provider_delete(rig: Rig) -> None:
    add_node(rig.core, "n1")
    key = add_service(rig.core, "web")
    rig.step(key)
    rig.provider.lbs.clear()  # gone from the cloud already
    rig.core.delete_namespaced_service("web", NS)
    rig.step(key)
    assert rig.provider.methods() == ["ensure"]
    assert "DeletingLoadBalancer" not in reasons(rig.core, "web")
    assert rig.core.list_namespaced_service(NS).items == []


def test_service_with_load_balancer_class_is_skipped(rig: Rig) -> None:
    add_node(rig.core, "n1")
    key = add_service(rig.core, "other", loadBalancerClass="example.com/other-lb")
    plain = add_service(rig.core, "plain", type="ClusterIP", ports=[{"port": 80}])
    rig.step(key)
    rig.step(plain)
    assert rig.provider.calls == []
    svc = service_json(rig.core, "other")
    assert not svc["metadata"].get("finalizers")
    assert reasons(rig.core, "other") == []


def test_service_removed_without_finalizer_is_cleaned_up_from_cache(rig: Rig) -> None:
    add_node(rig.core, "n1")
    key = add_service(rig.core, "web")
    rig.step(key)
    rig.core.patch_namespaced_service(
        "web",
        NS,
        {"metadata": {"finalizers": None}},
        _content_type="application/merge-patch+json",
    )
    rig.core.delete_namespaced_service("web", NS, _preload_content=False)
    rig.step(key)
    assert rig.provider.methods() == ["ensure", "delete"]
    assert rig.provider.lbs == {}


def test_invalid_settings_refuse_without_cloud_calls(rig: Rig) -> None:
    add_node(rig.core, "n1")
    key = add_service(
        rig.core, "web", annotations={ann.X_FORWARDED_FOR: "true", ann.PROXY_PROTOCOL: "true"}
    )
    rig.step(key)
    assert rig.provider.calls == []
    svc = service_json(rig.core, "web")
    ready = condition(svc)
    assert ready is not None and ready["status"] == "False"
    assert ready["reason"] == "InvalidConfiguration"
    assert ann.X_FORWARDED_FOR in ready["message"]
    [failed] = [e for e in events(rig.core, "web") if e[2] == "SyncLoadBalancerFailed"]
    assert failed[1] == "Warning" and ann.PROXY_PROTOCOL in failed[3]


def test_bad_annotation_and_etp_local_without_monitor_warn(rig: Rig) -> None:
    add_node(rig.core, "n1")
    key = add_service(
        rig.core, "web", annotations={ann.CONNECTION_LIMIT: "lots"}, externalTrafficPolicy="Local"
    )
    with structlog.testing.capture_logs() as logs:
        rig.step(key)
    [line] = [entry for entry in logs if entry.get("reason") == ETP_LOCAL_WITHOUT_MONITOR]
    assert line["log_level"] == "warning" and line["service"] == key
    assert f'{ann.ENABLE_HEALTH_MONITOR}: "true"' in line["detail"]
    assert rig.provider.methods() == ["ensure"]  # warnings do not stop the sync
    warnings = {(c, r): m for c, t, r, m in events(rig.core, "web") if t == "Warning"}
    assert "lots" in warnings[(PROVIDER_COMPONENT, "LoadBalancerAnnotationInvalid")]
    etp = warnings[(PROVIDER_COMPONENT, ETP_LOCAL_WITHOUT_MONITOR)]
    assert f'{ann.ENABLE_HEALTH_MONITOR}: "true"' in etp


def test_proxy_protocol_with_per_service_ingress_hostname(rig: Rig) -> None:
    add_node(rig.core, "n1")
    key = add_service(
        rig.core,
        "web",
        annotations={ann.PROXY_PROTOCOL: "v2", ann.ENABLE_INGRESS_HOSTNAME: "true"},
    )
    rig.step(key)
    svc = service_json(rig.core, "web")
    assert svc["status"]["loadBalancer"] == {"ingress": [{"hostname": f"{VIP}.nip.io"}]}


def test_provider_error_retried_with_backoff(rig: Rig) -> None:
    add_node(rig.core, "n1")
    rig.provider.failures["ensure"] = [
        LoadBalancerError("quota exceeded for load balancers", reason="QuotaExceeded"),
        RuntimeError("octavia answered 500"),
    ]
    stamps: list[float] = []
    original = rig.provider.ensure_load_balancer

    def stamped(*args: Any) -> LoadBalancerStatus:
        stamps.append(time.monotonic())
        return original(*args)

    rig.provider.ensure_load_balancer = stamped  # type: ignore[method-assign,assignment]
    rig.run_controller()
    add_service(rig.core, "web")
    eventually(
        lambda: (
            (service_json(rig.core, "web")["status"].get("loadBalancer") or {}).get("ingress")
            is not None
        ),
        "status published after two failures",
    )
    assert rig.provider.methods() == ["ensure", "ensure", "ensure"]
    # client-go's per-key exponential backoff: base, then 2x base
    assert stamps[1] - stamps[0] >= 0.05 * 0.9
    assert stamps[2] - stamps[1] >= 0.10 * 0.9
    failed = [e for e in events(rig.core, "web") if e[2] == "SyncLoadBalancerFailed"]
    assert [e[1] for e in failed] == ["Warning", "Warning"]
    assert "quota exceeded" in failed[0][3] and "octavia answered 500" in failed[1][3]
    assert rig.metric("cloudprovider_openstack_reconcile_errors_total", "loadbalancer_ensure") == 2
    assert rig.metric("cloudprovider_openstack_reconcile_total", "loadbalancer_ensure") == 3
    ready = condition(service_json(rig.core, "web"))
    assert ready is not None and ready["status"] == "True"


def test_not_ready_condition_says_why(rig: Rig) -> None:
    add_node(rig.core, "n1")
    key = add_service(rig.core, "web")

    def waiting(
        cluster_name: str, service: LoadBalancerService, nodes: Any, recorder: LoadBalancerRecorder
    ) -> LoadBalancerStatus:
        recorder.not_ready("WaitingForOctavia", "load balancer lb-1 is PENDING_CREATE")
        raise RetryLater("load balancer lb-1 is PENDING_CREATE", retry_after=0.05)

    rig.provider.ensure_load_balancer = waiting  # type: ignore[method-assign]
    rig.step(key)
    svc = service_json(rig.core, "web")
    ready = condition(svc)
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("False", "WaitingForOctavia")
    assert "PENDING_CREATE" in ready["message"]
    first_transition = ready["lastTransitionTime"]
    # a bad subnet: the reason the provider's error carries
    rig.provider.ensure_load_balancer = lambda *a: (_ for _ in ()).throw(  # type: ignore[method-assign]
        LoadBalancerError("subnet s-1 not found", reason="InvalidSubnet")
    )
    with pytest.raises(LoadBalancerError):
        rig.step(key)
    ready = condition(service_json(rig.core, "web"))
    assert ready is not None and (ready["reason"], ready["status"]) == ("InvalidSubnet", "False")
    assert ready["lastTransitionTime"] == first_transition  # still False: no transition
    assert "subnet s-1 not found" in ready["message"]


def test_retry_later_requeues_after_its_delay_without_backoff(rig: Rig) -> None:
    add_node(rig.core, "n1")
    rig.provider.failures["ensure"] = [RetryLater("PENDING_CREATE", retry_after=0.05)] * 3
    rig.run_controller()
    key = add_service(rig.core, "web")
    eventually(lambda: rig.provider.lbs.get(key) == VIP, "ensured after three not-ready answers")
    assert rig.provider.methods() == ["ensure"] * 4
    assert rig.controller.queue.num_requeues(key) == 0


def test_concurrent_service_syncs(core: Any) -> None:
    rig = make_rig(core, workers=3)
    try:
        add_node(core, "n1")
        rig.provider.barrier = threading.Barrier(3, timeout=30)
        rig.run_controller()
        for i in range(3):
            add_service(core, f"web-{i}")
        eventually(lambda: len(rig.provider.lbs) == 3, "three LBs", timeout=60)
        assert rig.provider.max_active == 3
        assert not rig.provider.overlap_same_key
    finally:
        rig.stop.set()
        for thread in rig.threads:
            thread.join(30)


def test_one_worker_serialises(core: Any) -> None:
    rig = make_rig(core, workers=1)
    try:
        add_node(core, "n1")
        rig.provider.delay = 0.1
        rig.run_controller()
        for i in range(2):
            add_service(core, f"web-{i}")
        eventually(lambda: len(rig.provider.lbs) == 2, "two LBs")
        assert rig.provider.max_active == 1
    finally:
        rig.stop.set()
        for thread in rig.threads:
            thread.join(30)


def test_running_controller_follows_node_changes_and_periodic_sync_is_idle(
    core: Any,
) -> None:
    rig = make_rig(core, node_sync_period=0.05)
    try:
        add_node(core, "n1")
        rig.run_controller()
        key = add_service(core, "web")
        eventually(lambda: rig.provider.methods() == ["ensure"], "ensured")
        add_node(core, "n2", address="10.0.0.2")
        eventually(lambda: rig.provider.last() == ("update", key, ("n1", "n2")), "updated")

        def n2_synced_with_address() -> bool:
            synced = rig.controller._synced.get(key)
            return synced is not None and any(n.name == "n2" and n.addresses for n in synced.nodes)

        # the node's address patch is a second update: let it land first
        eventually(n2_synced_with_address, "n2's address given to the provider")
        updates = rig.provider.methods().count("update")
        rig.provider.failures["update"] = [LoadBalancerError("member create failed")]
        core.delete_node("n2")
        eventually(
            lambda: (
                rig.provider.last() == ("update", key, ("n1",))
                and rig.provider.methods().count("update") == updates + 2
            ),
            "update retried after a failure",
        )
        failed = [e for e in events(core, "web") if e[2] == "UpdateLoadBalancerFailed"]
        assert len(failed) == 1 and "[n1]" in failed[0][3]
        calls = len(rig.provider.calls)
        time.sleep(0.3)  # several periodic node syncs with nothing changed
        assert len(rig.provider.calls) == calls
    finally:
        rig.stop.set()
        for thread in rig.threads:
            thread.join(30)


def test_provider_repeating_a_settings_warning_is_written_once(rig: Rig) -> None:
    add_node(rig.core, "n1")
    key = add_service(rig.core, "web", externalTrafficPolicy="Local")
    original = rig.provider.ensure_load_balancer

    def repeating(
        cluster_name: str, service: LoadBalancerService, nodes: Any, recorder: LoadBalancerRecorder
    ) -> LoadBalancerStatus:
        for warning in service_settings(service, CONFIG, {}).warnings:
            recorder.event("Warning", warning.reason, warning.message)
        recorder.event("Warning", "LoadBalancerForcedInternal", "no floating network")
        return original(cluster_name, service, nodes, recorder)

    rig.provider.ensure_load_balancer = repeating  # type: ignore[method-assign]
    rig.step(key)
    found = [
        e
        for e in rig.core.list_namespaced_event(NS).items
        if e.involved_object.name == "web" and e.type == "Warning"
    ]
    assert sorted((e.reason, e.count) for e in found) == sorted(
        [(ETP_LOCAL_WITHOUT_MONITOR, 1), ("LoadBalancerForcedInternal", 1)]
    )


def test_deleting_service_without_our_finalizer_gets_none(rig: Rig) -> None:
    add_node(rig.core, "n1")
    key = add_service(rig.core, "web")
    rig.core.patch_namespaced_service(
        "web",
        NS,
        {"metadata": {"finalizers": ["example.com/hold"]}},
        _content_type="application/merge-patch+json",
    )
    rig.core.delete_namespaced_service("web", NS)
    rig.step(key)
    assert rig.provider.calls == []
    assert service_json(rig.core, "web")["metadata"]["finalizers"] == ["example.com/hold"]


def test_a_returned_ensure_is_ready_whatever_it_waited_for(rig: Rig) -> None:
    add_node(rig.core, "n1")
    key = add_service(rig.core, "web")
    original = rig.provider.ensure_load_balancer

    def waited(
        cluster_name: str, service: LoadBalancerService, nodes: Any, recorder: LoadBalancerRecorder
    ) -> LoadBalancerStatus:
        recorder.not_ready("WaitingForLoadBalancer", "PENDING_CREATE, waiting for ACTIVE")
        return original(cluster_name, service, nodes, recorder)

    rig.provider.ensure_load_balancer = waited  # type: ignore[method-assign]
    rig.step(key)
    ready = condition(service_json(rig.core, "web"))
    assert ready is not None and (ready["status"], ready["reason"]) == (
        "True",
        "LoadBalancerEnsured",
    )


def test_delete_failures_say_which_step_and_keep_the_finalizer(rig: Rig) -> None:
    add_node(rig.core, "n1")
    key = add_service(rig.core, "web")
    rig.step(key)
    original = rig.provider.get_load_balancer
    rig.provider.get_load_balancer = lambda *a: (_ for _ in ()).throw(  # type: ignore[method-assign]
        LoadBalancerError("octavia unreachable")
    )
    rig.core.delete_namespaced_service("web", NS)
    with pytest.raises(LoadBalancerError):
        rig.step(key)
    rig.provider.get_load_balancer = original  # type: ignore[method-assign]
    rig.provider.failures["delete"] = [LoadBalancerError("load balancer is PENDING_UPDATE")]
    with pytest.raises(LoadBalancerError):
        rig.step(key)
    assert service_json(rig.core, "web")["metadata"]["finalizers"] == [FINALIZER]
    failed = [m for _, t, r, m in events(rig.core, "web") if r == "SyncLoadBalancerFailed"]
    assert failed == [
        "Error syncing load balancer: failed to check if load balancer exists before cleanup: "
        "octavia unreachable",
        "Error syncing load balancer: failed to delete load balancer: "
        "load balancer is PENDING_UPDATE",
    ]
    assert rig.metric("cloudprovider_openstack_reconcile_errors_total", "loadbalancer_delete") == 2
    rig.step(key)
    assert rig.core.list_namespaced_service(NS).items == []


def test_type_change_without_finalizer_still_deletes_the_lb(rig: Rig) -> None:
    add_node(rig.core, "n1")
    key = add_service(rig.core, "web")
    rig.step(key)
    rig.core.patch_namespaced_service(
        "web",
        NS,
        {"metadata": {"finalizers": None}, "spec": {"type": "ClusterIP"}},
        _content_type="application/merge-patch+json",
    )
    rig.step(key)
    assert rig.provider.methods() == ["ensure", "delete"]
    assert rig.provider.lbs == {}
    rig.step(key)
    assert rig.provider.methods() == ["ensure", "delete"]


def test_upstream_service_controller_metrics_count_host_updates(rig: Rig) -> None:
    """k8s.io/cloud-provider's ``service_controller_*``: each UpdateLoadBalancer counts in
    ``loadbalancer_sync_total`` and both latency histograms; a failed one in
    ``nodesync_error_total``. An ensure is not a host update."""

    def sample(name: str) -> float:
        return rig.registry.get_sample_value(f"service_controller_{name}") or 0.0

    add_node(rig.core, "n1")
    key = add_service(rig.core, "web")
    rig.step(key)
    assert sample("loadbalancer_sync_total") == 0
    add_node(rig.core, "n2", address="10.0.0.2")
    rig.step(key)
    rig.provider.failures["update"] = [RuntimeError("octavia answered 500")]
    add_node(rig.core, "n3", address="10.0.0.3")
    with pytest.raises(RuntimeError):  # the controller's queue retries it with backoff
        rig.step(key)
    assert sample("loadbalancer_sync_total") == 2
    assert sample("nodesync_error_total") == 1
    assert sample("update_loadbalancer_host_latency_seconds_count") == 2
    assert sample("nodesync_latency_seconds_count") == 2
    assert (
        rig.registry.get_sample_value(
            "service_controller_update_loadbalancer_host_latency_seconds_bucket", {"le": "16384.0"}
        )
        == 2
    )
