"""Prometheus metrics with cloud-provider-openstack's names and labels.

Dashboards built for CPO keep working: ``openstack_api_request_*`` (label ``request``, e.g.
``volume_create``) around every OpenStack call, ``cloudprovider_openstack_reconcile_*`` (label
``operation``) around reconcile loops. Metrics always live in an injected CollectorRegistry,
never the process default. Serving them over HTTP is ``health.py``'s job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram

Clock = Callable[[], float]

# Matches CPO pkg/metrics: the reconcile histogram spans 10 ms to 1000 s.
RECONCILE_BUCKETS: Final = (
    0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0, 12.5, 15.0, 17.5, 20.0, 22.5, 25.0,
    27.5, 30.0, 50.0, 75.0, 100.0, 1000.0,
)  # fmt: skip


_NOT_FOUND_ANSWERS: Final = ("_get", "_delete")
"""Verbs whose 404 is an expected answer for CAPO (see ``ApiMetrics``)."""


@dataclass(frozen=True)
class _Family:
    duration: Histogram
    total: Counter
    errors: Counter

    def observe(self, label: str, seconds: float, *, failed: bool) -> None:
        self.duration.labels(label).observe(seconds)
        self.total.labels(label).inc()
        if failed:
            self.errors.labels(label).inc()

    @contextmanager
    def timed(self, label: str, clock: Clock) -> Iterator[None]:
        start = clock()
        try:
            yield
        except BaseException:
            self.observe(label, clock() - start, failed=True)
            raise
        self.observe(label, clock() - start, failed=False)


class ApiMetrics:
    """``openstack_api_request_duration_seconds`` / ``_requests_total`` / ``_errors_total``."""

    def __init__(
        self, registry: CollectorRegistry, *, prefix: str = "", not_found_is_error: bool = True
    ) -> None:
        """``prefix``: CAPO names its family ``capo_openstack_api_request_*`` (``"capo_"``).

        ``not_found_is_error``: CPO counts every failed call, a 404 included (the default;
        OCCM's dashboards rely on it). CAPO counts a 404 answer to a get or a delete as a
        success (its ``ObserveRequestIgnoreNotFound``, capo.md §4): "already gone" is the
        answer its deletes and lookups expect. Other 404s (a create naming a missing network)
        stay errors for both.
        """
        self._not_found_is_error = not_found_is_error
        self._family = _Family(
            duration=Histogram(
                f"{prefix}openstack_api_request_duration_seconds",
                "Latency of an OpenStack API call",
                ["request"],
                registry=registry,
            ),
            total=Counter(
                f"{prefix}openstack_api_requests_total",
                "Total number of OpenStack API calls",
                ["request"],
                registry=registry,
            ),
            errors=Counter(
                f"{prefix}openstack_api_request_errors_total",
                "Total number of errors for an OpenStack API call",
                ["request"],
                registry=registry,
            ),
        )

    def observe(self, request: str, seconds: float, *, failed: bool) -> None:
        """Record one API request (one HTTP attempt) of ``seconds``."""
        self._family.observe(request, seconds, failed=failed)

    def not_found_failed(self, request: str) -> bool:
        """Whether a 404 answer to ``request`` (``<resource>_<verb>``) counts as an error."""
        if self._not_found_is_error:
            return True
        return not request.endswith(_NOT_FOUND_ANSWERS)

    def timed(
        self, request: str, *, clock: Clock = time.perf_counter
    ) -> AbstractContextManager[None]:
        """Context manager timing a block as one request; an exception counts as an error."""
        return self._family.timed(request, clock)


class ReconcileMetrics:
    """``cloudprovider_openstack_reconcile_duration_seconds`` / ``_total`` / ``_errors_total``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._family = _Family(
            duration=Histogram(
                "cloudprovider_openstack_reconcile_duration_seconds",
                "Time taken by various parts of OpenStack cloud controller manager "
                "reconciliation loops",
                ["operation"],
                buckets=RECONCILE_BUCKETS,
                registry=registry,
            ),
            total=Counter(
                "cloudprovider_openstack_reconcile_total",
                "Total number of OpenStack cloud controller manager reconciliations",
                ["operation"],
                registry=registry,
            ),
            errors=Counter(
                "cloudprovider_openstack_reconcile_errors_total",
                "Total number of OpenStack cloud controller manager reconciliation errors",
                ["operation"],
                registry=registry,
            ),
        )

    def observe(self, operation: str, seconds: float, *, failed: bool) -> None:
        self._family.observe(operation, seconds, failed=failed)

    def timed(
        self, operation: str, *, clock: Clock = time.perf_counter
    ) -> AbstractContextManager[None]:
        """Context manager around one reconcile (``loadbalancer_ensure`` ...)."""
        return self._family.timed(operation, clock)
