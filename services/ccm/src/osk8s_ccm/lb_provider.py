"""The LoadBalancer interface between the service controller and a cloud implementation.

Mirrors ``k8s.io/cloud-provider``'s ``LoadBalancer`` (GetLoadBalancer, GetLoadBalancerName,
EnsureLoadBalancer, UpdateLoadBalancer, EnsureLoadBalancerDeleted) with typed, frozen inputs
(the Service and Node facts a provider needs, read once from the API objects) instead of raw
dicts. A provider never talks to the Kubernetes API: what it wants written back (annotations,
events, a not-ready reason) goes through the ``LoadBalancerRecorder`` the controller passes in,
and the controller persists it, also when the call fails (CPO persists ``load-balancer-id`` even
when a later step fails). This module has no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

IpMode = Literal["VIP", "Proxy"]
EventType = Literal["Normal", "Warning"]


def _frozen(values: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True)
class ServicePort:
    """One entry of ``spec.ports``; ``node_port`` is 0 when none is allocated
    (``allocateLoadBalancerNodePorts: false``)."""

    name: str
    protocol: str
    port: int
    node_port: int = 0


@dataclass(frozen=True)
class LoadBalancerService:
    """What a provider may know of a Service of type LoadBalancer."""

    namespace: str
    name: str
    uid: str
    annotations: Mapping[str, str] = field(default_factory=lambda: _frozen(None))
    ports: tuple[ServicePort, ...] = ()
    load_balancer_ip: str = ""
    """``spec.loadBalancerIP`` (deprecated upstream, still honoured by CPO)."""
    load_balancer_source_ranges: tuple[str, ...] = ()
    session_affinity: str = "None"
    external_traffic_policy: str = "Cluster"
    health_check_node_port: int = 0
    ip_families: tuple[str, ...] = ()
    allocate_load_balancer_node_ports: bool = True
    load_balancer_class: str | None = None
    current_ingress: tuple[IngressPoint, ...] = ()
    """``status.loadBalancer.ingress`` as last published."""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def preferred_ip_family(self) -> str:
        """``ipFamilies[0]``; CPO builds one LB per Service, of this family."""
        return self.ip_families[0] if self.ip_families else "IPv4"

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> LoadBalancerService:
        """Read the facts from a Service JSON object as the informer caches it."""
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        status = (obj.get("status") or {}).get("loadBalancer") or {}
        return cls(
            namespace=str(meta.get("namespace") or ""),
            name=str(meta.get("name") or ""),
            uid=str(meta.get("uid") or ""),
            annotations=_frozen(
                {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()}
            ),
            ports=tuple(
                ServicePort(
                    name=str(p.get("name") or ""),
                    protocol=str(p.get("protocol") or "TCP"),
                    port=int(p.get("port") or 0),
                    node_port=int(p.get("nodePort") or 0),
                )
                for p in spec.get("ports") or ()
            ),
            load_balancer_ip=str(spec.get("loadBalancerIP") or ""),
            load_balancer_source_ranges=tuple(
                str(r) for r in spec.get("loadBalancerSourceRanges") or ()
            ),
            session_affinity=str(spec.get("sessionAffinity") or "None"),
            external_traffic_policy=str(spec.get("externalTrafficPolicy") or "Cluster"),
            health_check_node_port=int(spec.get("healthCheckNodePort") or 0),
            ip_families=tuple(str(f) for f in spec.get("ipFamilies") or ()),
            allocate_load_balancer_node_ports=spec.get("allocateLoadBalancerNodePorts")
            is not False,
            load_balancer_class=spec.get("loadBalancerClass") or None,
            current_ingress=tuple(IngressPoint.from_object(i) for i in status.get("ingress") or ()),
        )


@dataclass(frozen=True)
class NodeAddress:
    type: str
    """InternalIP, ExternalIP, Hostname, …"""
    address: str


@dataclass(frozen=True)
class LoadBalancerNode:
    """A node the controller found eligible as a load balancer backend."""

    name: str
    provider_id: str = ""
    labels: Mapping[str, str] = field(default_factory=lambda: _frozen(None))
    addresses: tuple[NodeAddress, ...] = ()

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> LoadBalancerNode:
        meta = obj.get("metadata") or {}
        status = obj.get("status") or {}
        return cls(
            name=str(meta.get("name") or ""),
            provider_id=str((obj.get("spec") or {}).get("providerID") or ""),
            labels=_frozen({str(k): str(v) for k, v in (meta.get("labels") or {}).items()}),
            addresses=tuple(
                NodeAddress(type=str(a.get("type") or ""), address=str(a.get("address") or ""))
                for a in status.get("addresses") or ()
            ),
        )


@dataclass(frozen=True)
class IngressPoint:
    """One ``status.loadBalancer.ingress`` entry: an IP (with its KEP-1860 ``ipMode``) or a
    hostname."""

    ip: str = ""
    hostname: str = ""
    ip_mode: IpMode | None = None

    def to_object(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.ip:
            out["ip"] = self.ip
        if self.hostname:
            out["hostname"] = self.hostname
        if self.ip_mode and self.ip:
            out["ipMode"] = self.ip_mode
        return out

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> IngressPoint:
        mode = obj.get("ipMode")
        return cls(
            ip=str(obj.get("ip") or ""),
            hostname=str(obj.get("hostname") or ""),
            ip_mode=mode if mode in ("VIP", "Proxy") else None,
        )


@dataclass(frozen=True)
class LoadBalancerStatus:
    """What ``EnsureLoadBalancer`` publishes as ``status.loadBalancer``."""

    ingress: tuple[IngressPoint, ...] = ()

    def to_object(self) -> dict[str, Any]:
        return {"ingress": [point.to_object() for point in self.ingress]} if self.ingress else {}


class LoadBalancerRecorder(Protocol):
    """What a provider may ask the controller to write about the Service being reconciled.
    Collected during the call and written by the controller afterwards (also after a failure)."""

    def event(self, type_: EventType, reason: str, message: str) -> None:
        """An Event on the Service (component ``cloud-provider-openstack`` reasons, §1.1)."""

    def annotate(self, key: str, value: str) -> None:
        """Set a Service annotation (``load-balancer-id``, ``load-balancer-address``)."""

    def not_ready(self, reason: str, message: str) -> None:
        """Why the load balancer is not ready yet: shown in the Service's condition if the
        call then fails or raises ``RetryLater`` (the last reason wins); a call that returns
        means the load balancer is ready, whatever it waited for on the way."""


class LoadBalancerError(Exception):
    """A provider call failed; the controller retries the Service with backoff.

    ``reason`` is a CamelCase word for the Service condition (``QuotaExceeded``,
    ``InvalidSubnet``, ``InvalidConfiguration``, ``OctaviaError``…)."""

    def __init__(self, message: str, *, reason: str = "SyncFailed") -> None:
        super().__init__(message)
        self.reason = reason


class RetryLater(LoadBalancerError):
    """Not a failure: the load balancer is not ready yet (e.g. Octavia still PENDING_*).

    Matches ``k8s.io/cloud-provider/api.RetryError``: the controller re-checks after
    ``retry_after`` seconds, without a failure event and without growing the key's backoff."""

    def __init__(
        self, message: str, *, retry_after: float = 10.0, reason: str = "WaitingForLoadBalancer"
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class LoadBalancerProvider(Protocol):
    """``k8s.io/cloud-provider`` ``LoadBalancer``; every method may raise ``LoadBalancerError``
    (or ``RetryLater``); anything else is treated as a failure too."""

    def get_load_balancer_name(self, cluster_name: str, service: LoadBalancerService) -> str:
        """The load balancer's cloud name (``kube_service_<cluster>_<ns>_<name>``)."""

    def get_load_balancer(
        self, cluster_name: str, service: LoadBalancerService
    ) -> LoadBalancerStatus | None:
        """The current status, or None when the load balancer does not exist."""

    def ensure_load_balancer(
        self,
        cluster_name: str,
        service: LoadBalancerService,
        nodes: Sequence[LoadBalancerNode],
        recorder: LoadBalancerRecorder,
    ) -> LoadBalancerStatus:
        """Create or update the load balancer to match the Service; return its status."""

    def update_load_balancer(
        self,
        cluster_name: str,
        service: LoadBalancerService,
        nodes: Sequence[LoadBalancerNode],
        recorder: LoadBalancerRecorder,
    ) -> None:
        """The set of eligible nodes changed: update members only."""

    def ensure_load_balancer_deleted(
        self, cluster_name: str, service: LoadBalancerService, recorder: LoadBalancerRecorder
    ) -> None:
        """Delete the load balancer (or this Service's part of a shared one); absent = done."""
