"""A CAPO test world: the in-memory API server serving CAPO's and CAPI's CRDs as vendored
(with the contract labels), a namespace per test with a credentials Secret for the test
cloud's ``demo`` project, CAPI ``Cluster`` + ``OpenStackCluster`` pairs, the production
``ClusterReconciler`` wired the production way, and listings of every OpenStack object a
cluster's names can produce (for "nothing left" checks scoped to one cluster)."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from kubernetes import client as k8s
from openstack.connection import Connection
from prometheus_client import CollectorRegistry

from osk8s_capo import naming
from osk8s_capo.cluster_controller import ClusterReconciler
from osk8s_capo.credentials import ConnectionSource, CredentialResolver
from osk8s_capo.kube import CLUSTER, OPENSTACK_CLUSTER, KubeObjects, Resource
from osk8s_capo.scope import ScopeFactory
from osk8s_core.crashpoints import NO_CRASH_POINTS, CrashPoints
from osk8s_core.credentials import ClientSettings, ConnectionCache
from osk8s_core.errors import Osk8sError
from osk8s_core.k8s.clock import SystemClock
from osk8s_core.k8s.events import EventRecorder
from osk8s_core.logging import get_logger
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import RetryPolicy, WaitPolicy
from osk8s_testing.kubeapi.server import KubeApiServer

REPO = Path(__file__).resolve().parents[3]
VENDOR = REPO / "services" / "capo" / "release" / "vendor"
CAPO_CRDS = (
    "openstackclusters",
    "openstackmachines",
    "openstackservers",
    "openstackclusteridentities",
)
CAPI_CRDS = ("cluster.x-k8s.io_clusters.yaml", "cluster.x-k8s.io_machines.yaml")
CONTRACT_LABELS = {
    "cluster.x-k8s.io/v1beta1": "v1beta1",
    "cluster.x-k8s.io/v1beta2": "v1beta2",
    "cluster.x-k8s.io/provider": "infrastructure-openstack",
}
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
POLICY = RetryPolicy(max_attempts=3, backoff_base=0.2, max_elapsed=30)
FAST_WAIT = Waiter(policy=WaitPolicy(timeout=120, interval=0.3, factor=1.3, max_interval=2))


def capo_crd(plural: str) -> dict[str, Any]:
    """A vendored CAPO CRD as installed: unchanged but for the contract labels (§7.1)."""
    path = VENDOR / "capo" / f"infrastructure.cluster.x-k8s.io_{plural}.yaml"
    crd: dict[str, Any] = yaml.load(path.read_text(), Loader=_LOADER)
    crd["metadata"].setdefault("labels", {}).update(CONTRACT_LABELS)
    return crd


def install_crds(server: KubeApiServer) -> None:
    crds = [capo_crd(p) for p in CAPO_CRDS]
    crds += [yaml.load((VENDOR / "capi" / f).read_text(), Loader=_LOADER) for f in CAPI_CRDS]
    for crd in crds:
        reply = requests.post(
            f"{server.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            json=crd,
            timeout=60,
        )
        assert reply.status_code == 201, reply.text


def clouds_yaml_for(layout_clouds: Path, cloud: str, **overrides: Any) -> str:
    """One entry of the test cloud's clouds.yaml, renamed ``openstack`` (as CAPO templates)."""
    data = yaml.safe_load(layout_clouds.read_text())
    entry = dict(data["clouds"][cloud])
    entry["auth"] = {**entry["auth"], **overrides}
    return yaml.safe_dump({"clouds": {"openstack": entry}})


class OrderedApiMetrics(ApiMetrics):
    """The production metrics, also keeping the order of the requests (for order checks)."""

    def __init__(
        self, registry: CollectorRegistry, *, prefix: str = "", not_found_is_error: bool = True
    ) -> None:
        super().__init__(registry, prefix=prefix, not_found_is_error=not_found_is_error)
        self.requests: list[str] = []

    def observe(self, request: str, seconds: float, *, failed: bool) -> None:
        self.requests.append(request)
        super().observe(request, seconds, failed=failed)


@dataclass
class World:
    """One namespace on the shared API server, with helpers for CAPO objects."""

    kube_api: KubeApiServer
    clouds_yaml: str
    demo: Connection
    namespace: str = field(default_factory=lambda: f"capo-{uuid.uuid4().hex[:8]}")
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    client_timeout: float = 10.0
    """HTTP timeout of the controller's OpenStack client (a hung call ends this fast)."""

    def __post_init__(self) -> None:
        self.api = self.kube_api.api_client()
        self.core: Any = k8s.CoreV1Api(self.api)
        self.kube = KubeObjects(self.api)
        self.core.create_namespace({"metadata": {"name": self.namespace}})
        self.put_secret(self.clouds_yaml)
        # As the binary counts (app.build_dependencies): a 404 on a get/delete is no error.
        self.metrics = OrderedApiMetrics(self.registry, prefix="capo_", not_found_is_error=False)
        self.events = EventRecorder(
            self.core, component="openstack-controller", clock=SystemClock()
        )
        self.cache = ConnectionCache(
            settings=ClientSettings(component="capo-test", version="0", timeout=self.client_timeout)
        )

    def put_secret(self, clouds_yaml: str, name: str = "cloud-config") -> None:
        body = {
            "metadata": {"name": name, "labels": {"clusterctl.cluster.x-k8s.io/move": "true"}},
            "data": {"clouds.yaml": base64.b64encode(clouds_yaml.encode()).decode()},
        }
        try:
            self.core.create_namespaced_secret(self.namespace, body)
        except k8s.ApiException as exc:
            assert exc.status == 409
            self.core.replace_namespaced_secret(name, self.namespace, body)

    def reconciler(self, crash_points: CrashPoints = NO_CRASH_POINTS) -> ClusterReconciler:
        scopes = ScopeFactory(
            connections=ConnectionSource(
                resolver=CredentialResolver(secrets=self.kube, identities=self.kube),
                cache=self.cache,
            ),
            metrics=self.metrics,
            logger=get_logger("capo-test"),
            waiter=FAST_WAIT,
            retry_policy=POLICY,
            crash_points=crash_points,
        )
        return ClusterReconciler(kube=self.kube, scopes=scopes, events=self.events)

    def create_cluster(
        self,
        name: str,
        spec: dict[str, Any],
        *,
        paused: bool = False,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        cluster = self.kube.create(
            CLUSTER,
            self.namespace,
            {
                "apiVersion": CLUSTER.api_version,
                "kind": "Cluster",
                "metadata": {"name": name, "labels": dict(labels or {})},
                "spec": {
                    "paused": paused,
                    "infrastructureRef": {
                        "apiGroup": OPENSTACK_CLUSTER.group,
                        "kind": "OpenStackCluster",
                        "name": name,
                    },
                },
            },
        )
        osc = {
            "apiVersion": OPENSTACK_CLUSTER.api_version,
            "kind": "OpenStackCluster",
            "metadata": {
                "name": name,
                "labels": {"cluster.x-k8s.io/cluster-name": name, **(labels or {})},
                "annotations": dict(annotations or {}),
                "ownerReferences": [
                    {
                        "apiVersion": CLUSTER.api_version,
                        "kind": "Cluster",
                        "name": name,
                        "uid": cluster["metadata"]["uid"],
                    }
                ],
            },
            "spec": {"identityRef": {"name": "cloud-config", "cloudName": "openstack"}, **spec},
        }
        return self.kube.create(OPENSTACK_CLUSTER, self.namespace, osc)

    @staticmethod
    def kube_objects_resource(kind: str = "OpenStackCluster") -> Resource:
        return CLUSTER if kind == "Cluster" else OPENSTACK_CLUSTER

    def osc(self, name: str) -> dict[str, Any]:
        found = self.kube.get(OPENSTACK_CLUSTER, self.namespace, name)
        assert found is not None
        return found

    def key(self, name: str) -> str:
        return f"{self.namespace}/{name}"

    def converge(
        self,
        name: str,
        *,
        reconciler: ClusterReconciler | None = None,
        until: Callable[[dict[str, Any] | None], bool],
        rounds: int = 40,
    ) -> dict[str, Any] | None:
        """Reconcile until ``until(object)``; errors are retried as the work queue would."""
        rec = reconciler or self.reconciler()
        last: Exception | None = None
        for _ in range(rounds):
            try:
                result = rec.reconcile(self.key(name))
            except Osk8sError as exc:
                last = exc
                time.sleep(0.2)
            else:
                if result is not None and result.after > 0:
                    time.sleep(min(result.after, 1.0))
            obj = self.kube.get(OPENSTACK_CLUSTER, self.namespace, name)
            if until(obj):
                return obj
        conditions = ((obj or {}).get("status") or {}).get("conditions")
        raise AssertionError(f"{name} did not converge; last error: {last!r}; {conditions}")

    def delete(self, name: str, rounds: int = 120) -> None:
        self.kube.delete(OPENSTACK_CLUSTER, self.namespace, name)
        self.converge(name, until=lambda obj: obj is None, rounds=rounds)

    def cloud_objects(self, name: str) -> dict[str, list[str]]:
        """Every OpenStack object named after cluster ``name`` (ids by kind)."""
        ns, net = self.namespace, self.demo.network
        managed = naming.network_name(ns, name)
        lb_name = naming.load_balancer_name(ns, name)
        sg_names = {naming.security_group_name(ns, name, r) for r in naming.SECGROUP_ROLES}
        description = naming.description(ns, name)
        return {
            "networks": [n.id for n in net.networks(name=managed)],
            "subnets": [s.id for s in net.subnets(name=managed)],
            "routers": [r.id for r in net.routers(name=managed)],
            "security_groups": [g.id for g in net.security_groups() if g.name in sg_names],
            "floating_ips": [
                f.id for f in net.ips() if (f.description or "").startswith(description)
            ],
            "load_balancers": [
                lb.id
                for lb in self.demo.load_balancer.load_balancers(name=lb_name)
                if lb.provisioning_status != "DELETED"
            ],
        }

    def events_of(self, name: str) -> list[tuple[str, str, str]]:
        """(type, reason, message) of the Events recorded on the OpenStackCluster ``name``."""
        return [
            (e.type, e.reason, e.message)
            for e in self.core.list_namespaced_event(self.namespace).items
            if e.involved_object.kind == "OpenStackCluster" and e.involved_object.name == name
        ]

    def event_counts(self, name: str) -> dict[str, int]:
        """Times each reason was recorded on the OpenStackCluster ``name`` (repeats included)."""
        out: dict[str, int] = {}
        for e in self.core.list_namespaced_event(self.namespace).items:
            if e.involved_object.kind == "OpenStackCluster" and e.involved_object.name == name:
                out[e.reason] = out.get(e.reason, 0) + (e.count or 1)
        return out

    def api_requests(self) -> dict[str, float]:
        """capo_openstack_api_requests_total per request label so far."""
        out: dict[str, float] = {}
        for metric in self.registry.collect():
            if metric.name == "capo_openstack_api_requests":
                for sample in metric.samples:
                    if sample.name.endswith("_total"):
                        out[sample.labels["request"]] = sample.value
        return out
