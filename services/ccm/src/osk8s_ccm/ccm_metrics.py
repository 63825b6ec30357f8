"""The metrics OCCM serves on ``/metrics``, with CPO's names (§1.6), in one injected registry.

Nothing is defined twice: ``openstack_api_request_duration_seconds``,
``openstack_api_requests_total`` and ``openstack_api_request_errors_total`` (label ``request``
= ``<resource>_<op>``: ``server_list``, ``port_list``, ``flavor_get``, ``router_update``...)
are the core's ``ApiMetrics``, fed by ``OpenStackClient`` for every HTTP attempt; the
``cloudprovider_openstack_reconcile_*`` family (label ``operation``, fed by the service
controller: ``loadbalancer_ensure``/``_update``/``_delete``) is the core's
``ReconcileMetrics``. Added here only what upstream's controller manager also serves:
``leader_election_master_status`` (client-go's leader election gauge) and the
``process_*`` family (resident memory, CPU seconds, open fds, start time: the names Go's
process collector uses).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge, ProcessCollector

from osk8s_core.metrics import ApiMetrics, ReconcileMetrics


@dataclass(frozen=True)
class CcmMetrics:
    registry: CollectorRegistry
    api: ApiMetrics
    """OpenStack API calls (given to ``OpenStackClient``)."""
    reconcile: ReconcileMetrics
    """Service LoadBalancer reconciles (given to the service controller)."""
    leader: Gauge
    """1 while this process holds the lease ``name``, else 0."""

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> CcmMetrics:
        registry = registry if registry is not None else CollectorRegistry()
        ProcessCollector(registry=registry)
        return cls(
            registry=registry,
            api=ApiMetrics(registry),
            reconcile=ReconcileMetrics(registry),
            leader=Gauge(
                "leader_election_master_status",
                "Gauge of if the reporting system is master of the relevant lease, 0 indicates "
                "backup, 1 indicates master. 'name' is the string used to identify the lease.",
                ["name"],
                registry=registry,
            ),
        )

    def leading(self, lease: str, value: bool) -> None:
        self.leader.labels(lease).set(1 if value else 0)
