"""k8s.io/cloud-provider's service controller metrics, with upstream's names (subsystem
``service_controller``) so dashboards built on an upstream CCM keep working.

Upstream counts and times each UpdateLoadBalancer (a node-set change) and times its node
sync pass. Here a node-set change requeues each Service and its reconcile calls
UpdateLoadBalancer, so ``nodesync_latency_seconds`` times one Service's node-set update —
the part of upstream's pass that is this Service's.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

BUCKETS = tuple(float(2**i) for i in range(15))
"""Upstream's ExponentialBuckets(1, 2, 15): 1 s to 16384 s."""


class ServiceControllerMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.sync_total = Counter(
            "service_controller_loadbalancer_sync",
            "A metric counting the amount of times any load balancer has been configured, "
            "as an effect of service/node changes on the cluster",
            registry=registry,
        )
        self.nodesync_errors = Counter(
            "service_controller_nodesync_error",
            "A metric counting the amount of times any load balancer has been configured "
            "and errored, as an effect of node changes on the cluster",
            registry=registry,
        )
        self.nodesync_latency = Histogram(
            "service_controller_nodesync_latency_seconds",
            "A metric measuring the latency for nodesync which updates loadbalancer hosts "
            "on cluster node updates.",
            buckets=BUCKETS,
            registry=registry,
        )
        self.update_latency = Histogram(
            "service_controller_update_loadbalancer_host_latency_seconds",
            "A metric measuring the latency for updating each load balancer hosts.",
            buckets=BUCKETS,
            registry=registry,
        )

    def updated(self, seconds: float, *, failed: bool) -> None:
        """One UpdateLoadBalancer call (upstream's lockedUpdateLoadBalancerHosts)."""
        self.sync_total.inc()
        self.update_latency.observe(seconds)
        self.nodesync_latency.observe(seconds)
        if failed:
            self.nodesync_errors.inc()
