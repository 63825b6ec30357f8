"""metrics.py and health.py: CPO metric names over a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from osk8s_core.health import HealthChecks, HealthServer
from osk8s_core.metrics import RECONCILE_BUCKETS, ApiMetrics, ReconcileMetrics


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


class Ticker:
    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_api_metrics_have_cpo_names_and_labels() -> None:
    registry = CollectorRegistry()
    api = ApiMetrics(registry)
    api.observe("volume_create", 0.3, failed=False)
    api.observe("volume_create", 0.2, failed=True)
    api.observe("loadbalancer_get", 0.01, failed=False)
    assert _value(registry, "openstack_api_requests_total", request="volume_create") == 2
    assert _value(registry, "openstack_api_request_errors_total", request="volume_create") == 1
    assert (
        _value(registry, "openstack_api_request_errors_total", request="loadbalancer_get") is None
    )
    assert (
        _value(registry, "openstack_api_request_duration_seconds_count", request="volume_create")
        == 2
    )
    assert _value(
        registry, "openstack_api_request_duration_seconds_sum", request="volume_create"
    ) == pytest.approx(0.5)


def test_reconcile_metrics_buckets_and_timed_block() -> None:
    registry = CollectorRegistry()
    rec = ReconcileMetrics(registry)
    with rec.timed("loadbalancer_ensure", clock=Ticker(2.0)):
        pass
    with pytest.raises(RuntimeError), rec.timed("loadbalancer_delete", clock=Ticker(700.0)):
        raise RuntimeError("reconcile failed")
    assert (
        _value(registry, "cloudprovider_openstack_reconcile_total", operation="loadbalancer_ensure")
        == 1
    )
    assert (
        _value(
            registry,
            "cloudprovider_openstack_reconcile_errors_total",
            operation="loadbalancer_ensure",
        )
        is None
    )
    assert (
        _value(
            registry,
            "cloudprovider_openstack_reconcile_errors_total",
            operation="loadbalancer_delete",
        )
        == 1
    )
    name = "cloudprovider_openstack_reconcile_duration_seconds_bucket"
    assert _value(registry, name, operation="loadbalancer_ensure", le="2.5") == 1
    assert _value(registry, name, operation="loadbalancer_ensure", le="1.0") == 0
    assert _value(registry, name, operation="loadbalancer_delete", le="1000.0") == 1
    assert _value(registry, name, operation="loadbalancer_delete", le="100.0") == 0
    assert RECONCILE_BUCKETS[0] == 0.01 and RECONCILE_BUCKETS[-1] == 1000.0


def test_metrics_never_touch_the_process_default_registry() -> None:
    before = {m.name for m in REGISTRY.collect()}
    ApiMetrics(CollectorRegistry())
    ReconcileMetrics(CollectorRegistry())
    assert {m.name for m in REGISTRY.collect()} == before
    assert not any(name.startswith("openstack_api") for name in before)


def test_two_registries_are_independent() -> None:
    a, b = CollectorRegistry(), CollectorRegistry()
    ApiMetrics(a).observe("server_get", 1.0, failed=False)
    ApiMetrics(b)
    assert _value(a, "openstack_api_requests_total", request="server_get") == 1
    assert _value(b, "openstack_api_requests_total", request="server_get") is None


# --- the HTTP server -------------------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[str, CollectorRegistry, HealthServer]]:
    registry = CollectorRegistry()
    server = HealthServer(registry=registry, host="127.0.0.1", port=0, poll_interval=0.02).start()
    host, port = server.address
    try:
        yield f"http://{host}:{port}", registry, server
    finally:
        server.stop()


def test_metrics_endpoint_serves_prometheus_text(
    served: tuple[str, CollectorRegistry, HealthServer],
) -> None:
    url, registry, _ = served
    ApiMetrics(registry).observe("volume_get", 0.1, failed=True)
    resp = requests.get(f"{url}/metrics", timeout=30)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(resp.text)}
    assert "openstack_api_request_errors" in families
    samples = families["openstack_api_requests"].samples
    assert any(s.labels == {"request": "volume_get"} and s.value == 1 for s in samples)


def test_healthz_and_readyz_ok_with_no_or_passing_checks(
    served: tuple[str, CollectorRegistry, HealthServer],
) -> None:
    url, _, server = served
    server.ready.add("informers-synced", lambda: None)
    for path in ("/healthz", "/livez", "/readyz"):
        resp = requests.get(url + path, timeout=30)
        assert (resp.status_code, resp.text) == (200, "ok\n")
    verbose = requests.get(f"{url}/readyz?verbose", timeout=30)
    assert verbose.status_code == 200
    assert "[+]informers-synced ok" in verbose.text


def test_failing_check_gives_500_naming_it(
    served: tuple[str, CollectorRegistry, HealthServer],
) -> None:
    url, _, server = served
    server.ready.add("leader", lambda: None)
    server.ready.add("openstack", lambda: "keystone unreachable")
    resp = requests.get(f"{url}/readyz", timeout=30)
    assert resp.status_code == 500
    assert "[-]openstack failed: keystone unreachable" in resp.text
    assert "[+]leader ok" in resp.text
    # Liveness is a separate list and still fine.
    assert requests.get(f"{url}/healthz", timeout=30).status_code == 200


def test_crashing_check_fails_without_leaking_secrets(
    served: tuple[str, CollectorRegistry, HealthServer],
) -> None:
    url, _, server = served

    def check() -> str | None:
        raise RuntimeError("auth failed, X-Auth-Token: gAAAAABsecretsecretsecretsecretsecret")

    server.health.add("auth", check)
    resp = requests.get(f"{url}/healthz", timeout=30)
    assert resp.status_code == 500
    assert "[-]auth failed: RuntimeError" in resp.text
    assert "gAAAAAB" not in resp.text


def test_unknown_path_is_404(served: tuple[str, CollectorRegistry, HealthServer]) -> None:
    url, _, _ = served
    assert requests.get(f"{url}/nope", timeout=30).status_code == 404


def test_duplicate_check_names_are_rejected() -> None:
    checks = HealthChecks()
    checks.add("a", lambda: None)
    with pytest.raises(ValueError):
        checks.add("a", lambda: None)


def test_stop_releases_the_port() -> None:
    server = HealthServer(registry=CollectorRegistry(), port=0, poll_interval=0.02).start()
    host, port = server.address
    assert host == "127.0.0.1"
    assert requests.get(f"http://{host}:{port}/healthz", timeout=30).status_code == 200
    server.stop()
    server.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{host}:{port}/healthz", timeout=2)
