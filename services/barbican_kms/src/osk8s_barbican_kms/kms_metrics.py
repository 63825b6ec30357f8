"""Prometheus metrics of the key cache: refreshes, keys loaded, last good refresh.

Alerting on ``barbican_kms_key_refresh_total{result!="ok"}`` catches an unreachable Barbican
(``failed``) or one that refuses a cached key (``rejected``: 403/404 or other bytes, the
cached copy keeps serving) long before a restart would lose the cached key. Registered on
the injected registry; the gRPC and OpenStack call metrics live in the core.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from osk8s_barbican_kms.keystore import RefreshResult


class KeyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._refreshes = Counter(
            "barbican_kms_key_refresh_total",
            "Key refreshes from Barbican, by result: ok; rejected (Barbican refused a cached "
            "key, which keeps serving); failed (any other error).",
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
        self._rejected = Gauge(
            "barbican_kms_keys_rejected",
            "Cached keys Barbican refused on the last refresh (403/404, other bytes); they "
            "keep serving until [KeyManager] stops naming them.",
            registry=registry,
        )
        self._last_ok = Gauge(
            "barbican_kms_last_successful_refresh_timestamp_seconds",
            "Unix time of the last refresh where every configured key loaded.",
            registry=registry,
        )

    def observe(self, result: RefreshResult) -> None:
        outcome = "ok" if result.ok else "rejected" if result.rejected else "failed"
        self._refreshes.labels(outcome).inc()
        self._rejected.set(len(result.rejected))
        self._loaded.set(len(result.ring.keys))
        self._current.set(0 if result.ring.current_problem() else 1)
        if result.ok:
            self._last_ok.set_to_current_time()
