"""Prometheus metrics of the key cache: refreshes, keys loaded, last good refresh.

Alerting on ``barbican_kms_key_refresh_total{result="failed"}`` catches an unreachable
Barbican long before a restart would lose the cached key. Registered on the injected
registry; the gRPC and OpenStack call metrics live in the core.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from osk8s_barbican_kms.keystore import RefreshResult


class KeyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._refreshes = Counter(
            "barbican_kms_key_refresh_total",
            "Key refreshes from Barbican, by result (ok, or failed for any key).",
            ["result"],
            registry=registry,
        )
        self._loaded = Gauge(
            "barbican_kms_keys_loaded",
            "Keys (current and old) whose material is cached.",
            registry=registry,
        )
        self._current = Gauge(
            "barbican_kms_current_key_loaded",
            "1 when the key that encrypts is loaded, else 0.",
            registry=registry,
        )
        self._last_ok = Gauge(
            "barbican_kms_last_successful_refresh_timestamp_seconds",
            "Unix time of the last refresh where every configured key loaded.",
            registry=registry,
        )

    def observe(self, result: RefreshResult) -> None:
        self._refreshes.labels("ok" if result.ok else "failed").inc()
        self._loaded.set(len(result.ring.keys))
        self._current.set(0 if result.ring.current_problem() else 1)
        if result.ok:
            self._last_ok.set_to_current_time()
