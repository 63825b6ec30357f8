"""Per-kind defaulting the real API server does on write, where our clients read the result.

Namespaces get the ``kubernetes`` finalizer, phase Active and the metadata.name label; Secrets
turn ``stringData`` into base64 ``data`` and default ``type``; Services get a cluster IP, TCP
protocol, target ports and node ports from an allocator. Only defaulting: no validation here.
"""

from __future__ import annotations

import base64
import ipaddress
import threading
from typing import Any


class Allocator:
    """Cluster IPs from 10.96.0.0/12 (after .1, the kubernetes Service) and node ports."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_ip = int(ipaddress.IPv4Address("10.96.0.10"))
        self._next_port = 30000

    def cluster_ip(self) -> str:
        with self._lock:
            self._next_ip += 1
            return str(ipaddress.IPv4Address(self._next_ip))

    def node_port(self) -> int:
        with self._lock:
            self._next_port += 1
            return self._next_port


def on_create(kind: str, obj: dict[str, Any], allocator: Allocator) -> None:
    if kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
        labels = obj["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    elif kind == "Secret":
        _secret(obj)
    elif kind == "Service":
        _service(obj, None, allocator)
        obj["status"] = {"loadBalancer": {}}
    elif kind == "Pod":
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    elif kind == "Ingress":
        obj["status"] = {"loadBalancer": {}}


def on_update(kind: str, old: dict[str, Any], obj: dict[str, Any], allocator: Allocator) -> None:
    if kind == "Secret":
        _secret(obj)
    elif kind == "Service":
        _service(obj, old, allocator)
    elif kind == "Namespace":
        obj.setdefault("spec", {}).setdefault(
            "finalizers", old.get("spec", {}).get("finalizers", [])
        )


def _secret(obj: dict[str, Any]) -> None:
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None) or {}
    if string_data:
        data = obj.setdefault("data", {}) or {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data


def _service(obj: dict[str, Any], old: dict[str, Any] | None, allocator: Allocator) -> None:
    spec = obj.setdefault("spec", {})
    old_spec = (old or {}).get("spec", {})
    svc_type = spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if svc_type != "ExternalName":
        # kube-apiserver keeps allocated values on update when the client omits them
        spec.setdefault("clusterIP", old_spec.get("clusterIP") or allocator.cluster_ip())
        if spec["clusterIP"] in ("", None):
            spec["clusterIP"] = allocator.cluster_ip()
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    old_ports = {(p.get("port"), p.get("protocol", "TCP")): p for p in old_spec.get("ports") or []}
    wants_node_ports = svc_type in ("NodePort", "LoadBalancer")
    if svc_type == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
        wants_node_ports = bool(spec["allocateLoadBalancerNodePorts"])
    if wants_node_ports:
        spec.setdefault("externalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
        previous = old_ports.get((port.get("port"), port["protocol"]), {})
        if wants_node_ports and not port.get("nodePort"):
            port["nodePort"] = previous.get("nodePort") or allocator.node_port()
