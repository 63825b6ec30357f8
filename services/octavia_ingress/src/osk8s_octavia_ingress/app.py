"""Builds the controller's object graph from the parsed config and runs it until SIGTERM.

Graph: OpenStack client (core credentials, retry, metrics) → LB/L7/FIP/secret layers →
``IngressReconciler``; Kubernetes client (``kubernetes:`` section or in-cluster) → informers
on Ingresses (30 s resync, as CPO) and IngressClasses (a class change queues the Ingresses
it may now select or drop) → work queue (5 retries, as CPO).
The periodic node sync (60 s) updates members and, beyond CPO, with
``octavia.manage-security-groups`` each Ingress's group on the nodes' ports. Beyond CPO,
leader election on the Lease ``kube-system/octavia-ingress-controller``: a second replica
waits instead of fighting over the same load balancers. No module state.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Final, Protocol

from prometheus_client import CollectorRegistry

from osk8s_core import __version__
from osk8s_core.credentials.connection import ClientSettings, build_connection
from osk8s_core.credentials.tls import CaFileStore
from osk8s_core.k8s.client import KubeClientOptions, build_api_client
from osk8s_core.k8s.clock import Clock, SystemClock
from osk8s_core.k8s.controller import Controller, ControllerSettings
from osk8s_core.k8s.events import EventRecorder
from osk8s_core.k8s.informer import Handlers, Informer, InformerSettings
from osk8s_core.k8s.leader import (
    LeaderCallbacks,
    LeaderElectionConfig,
    LeaderElector,
    default_identity,
)
from osk8s_core.k8s.leaselock import KubeLeaseLock
from osk8s_core.k8s.listwatch import ApiListWatch
from osk8s_core.k8s.queue import WorkQueue
from osk8s_core.logging import get_logger
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.openstack.floating_ips import FloatingIps
from osk8s_core.openstack.lb_children import LoadBalancerChildren
from osk8s_core.openstack.lb_l7 import L7Policies
from osk8s_core.openstack.lb_updates import LoadBalancerUpdates
from osk8s_core.openstack.loadbalancers import LoadBalancers
from osk8s_core.openstack.secrets import Secrets
from osk8s_core.openstack.security_groups import SecurityGroups
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import RetryPolicy
from osk8s_octavia_ingress.config import IngressConfig
from osk8s_octavia_ingress.ingress_settings import CLASS_ANNOTATION
from osk8s_octavia_ingress.kube import ApiKubeView, KubeView
from osk8s_octavia_ingress.octavia_tree import OctaviaTree
from osk8s_octavia_ingress.reconciler import IngressReconciler, Recorder
from osk8s_octavia_ingress.secgroups import IngressSecurityGroups

COMPONENT: Final = "octavia-ingress-controller"
RESYNC_SECONDS: Final = 30.0
NODE_SYNC_SECONDS: Final = 60.0
MAX_RETRIES: Final = 5
LEASE_NAMESPACE: Final = "kube-system"
# Octavia's 409 means "the LB is busy with another change" (PENDING_*): wait and repeat.
OCTAVIA_RETRY: Final = RetryPolicy(retry_conflict=True)


def build_reconciler(
    config: IngressConfig,
    *,
    client: OpenStackClient[Any],
    kube: KubeView,
    recorder: Recorder,
    logger: Any = None,
    waiter: Waiter | None = None,
    octavia_client: OpenStackClient[Any] | None = None,
) -> IngressReconciler:
    """The reconciler over ``client``'s project; Barbican only when the catalog has it.
    ``octavia_client`` (default: ``client``) carries Octavia's calls: give it a policy that
    retries 409, which Octavia answers while another change holds the LB (PENDING_*)."""
    lbs = LoadBalancers(octavia_client or client, waiter=waiter)
    children = LoadBalancerChildren(lbs)
    tree = OctaviaTree(
        children=children, updates=LoadBalancerUpdates(lbs, children), l7=L7Policies(lbs)
    )
    log = logger or get_logger("osk8s.octavia_ingress")
    groups = None
    if config.octavia.manage_security_groups:
        groups = IngressSecurityGroups(
            SecurityGroups(client),
            client=client,
            cluster=config.cluster_name,
            subnet_id=config.octavia.subnet_id,
        )
    return IngressReconciler(
        config=config,
        kube=kube,
        lbs=lbs,
        tree=tree,
        fips=FloatingIps(client),
        secrets=Secrets(client) if _has_service(client, "key-manager") else None,
        recorder=recorder,
        logger=log,
        security_groups=groups,
    )


def _has_service(client: OpenStackClient[Any], service_type: str) -> bool:
    try:
        catalog = client.connection.service_catalog
    except Exception:  # no catalog reachable: decided again when the first call fails
        return True
    return any(entry.get("type") == service_type for entry in catalog)


def run(config: IngressConfig, *, stop: threading.Event | None = None) -> int:
    """Serve until ``stop`` is set (the CLI sets it on SIGTERM/SIGINT); 0 on a clean stop."""
    stop = stop if stop is not None else threading.Event()
    log = get_logger("osk8s.octavia_ingress")
    registry = CollectorRegistry()
    settings = ClientSettings(component=COMPONENT, version=__version__, timeout=60)
    ca_store = CaFileStore()
    connection = build_connection(config.openstack, settings=settings, ca_store=ca_store)
    metrics = ApiMetrics(registry)
    client: OpenStackClient[Any] = OpenStackClient(connection, metrics=metrics, logger=log)
    octavia: OpenStackClient[Any] = OpenStackClient(
        connection, metrics=metrics, logger=log, retry_policy=OCTAVIA_RETRY
    )
    kube_client = build_api_client(
        KubeClientOptions(
            kubeconfig=config.kubernetes.kubeconfig,
            master=config.kubernetes.api_host,
            qps=0,  # CPO sets QPS/burst to 1e6: effectively unlimited
            user_agent=f"{COMPONENT}/{__version__}",
        )
    )
    from kubernetes.client import CoordinationV1Api, CoreV1Api  # noqa: PLC0415

    clock = SystemClock()
    core = CoreV1Api(kube_client)
    recorder = EventRecorder(core, component=COMPONENT, clock=clock)
    reconciler = build_reconciler(
        config,
        client=client,
        octavia_client=octavia,
        kube=ApiKubeView(kube_client),
        recorder=recorder,
        logger=log,
    )

    def lead(ended: threading.Event) -> None:
        _serve(reconciler, kube_client, clock=clock, stop=ended, log=log)

    lock = KubeLeaseLock(CoordinationV1Api(kube_client), namespace=LEASE_NAMESPACE, name=COMPONENT)
    elector = LeaderElector(
        lock,
        config=LeaderElectionConfig(identity=os.environ.get("POD_NAME") or default_identity()),
        callbacks=LeaderCallbacks(on_started_leading=lead, on_stopped_leading=stop.set),
        clock=clock,
    )
    try:
        elector.run(stop)
    finally:
        connection.close()
        ca_store.close()
    return 0


def _no_requeue(outcome: object) -> None:
    """Done with the key: the informer's resync (30 s) and the node sync bring it back."""
    del outcome


class Syncer(Protocol):
    """What the serving loop needs of the reconciler."""

    def sync(self, key: str) -> object: ...

    def remember(self, ingress: Any) -> None: ...

    def sync_members(self) -> int: ...


def _serve(
    reconciler: Syncer,
    kube_client: Any,
    *,
    clock: Clock,
    stop: threading.Event,
    log: Any,
    node_sync_seconds: float = NODE_SYNC_SECONDS,
) -> None:
    from kubernetes.client import NetworkingV1Api  # noqa: PLC0415

    net = NetworkingV1Api(kube_client)
    ingresses = Informer(
        ApiListWatch(net.list_ingress_for_all_namespaces, description="ingresses"),
        name="ingresses",
        clock=clock,
        settings=InformerSettings(resync_period=RESYNC_SECONDS),
    )
    classes = Informer(
        ApiListWatch(net.list_ingress_class, description="ingressclasses"),
        name="ingressclasses",
        clock=clock,
    )
    controller = Controller(
        name=COMPONENT,
        reconcile=lambda key: _no_requeue(reconciler.sync(key)),
        queue=WorkQueue(clock=clock),
        informers=[ingresses, classes],
        settings=ControllerSettings(max_retries=MAX_RETRIES),
        logger=log,
    )

    def class_changed(_obj: Any) -> None:
        # Beyond CPO: a class made (or unmade) default, created after its Ingresses or gone
        # changes which Ingresses are ours: queue every one the legacy annotation does not
        # decide, at once rather than at the next resync.
        for ingress in ingresses.store.objects():
            annotations = (ingress.get("metadata") or {}).get("annotations") or {}
            if CLASS_ANNOTATION not in annotations:
                controller.enqueue(ingress)

    classes.add_handlers(
        Handlers(
            on_add=class_changed,
            on_update=lambda _old, new: class_changed(new),
            on_delete=class_changed,
        )
    )

    def deleted(obj: Any) -> None:
        reconciler.remember(obj)
        controller.enqueue(obj)

    ingresses.add_handlers(
        Handlers(
            on_add=controller.enqueue,
            on_update=lambda _old, new: controller.enqueue(new),
            on_delete=deleted,
        )
    )

    def node_sync() -> None:
        while not stop.wait(node_sync_seconds):
            try:
                reconciler.sync_members()
            except Exception as exc:  # the next round tries again
                log.warning("node sync failed", error=str(exc))

    threading.Thread(target=node_sync, name="node-sync", daemon=True).start()
    controller.run(stop)
