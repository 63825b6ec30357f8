"""The OpenStackCluster controller: the CAPI contract (capo.md §1.11) around the cluster
flows of §2.1-2.5 and the deletion order of §2.8.

Per reconcile: read the object fresh; skip when externally managed; wait for the owner
Cluster; report ``Paused`` and stop when paused; authenticate
(``OpenStackAuthenticationSucceeded``); persist the finalizer before any cloud write;
then network → router → security groups → API endpoint → failure domains, each step's
outcome in its condition (the OpenStack message included, CAPO #3375), ``Ready`` as their
sum, ``initialization.provisioned`` set once.
Status is written only when it changed (an unchanged cluster costs no write).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import structlog

from osk8s_capo import (
    bastion,
    capi,
    cluster_delete,
    cluster_endpoint,
    cluster_events,
    cluster_network,
    cluster_secgroups,
    naming,
)
from osk8s_capo import conditions as cond
from osk8s_capo.cluster_network import ClusterRef, NetworkError
from osk8s_capo.credentials import IdentityError, IdentityRef
from osk8s_capo.kube import (
    CLUSTER,
    MACHINE,
    OPENSTACK_CLUSTER,
    OPENSTACK_MACHINE,
    KubeObjects,
    meta,
)
from osk8s_capo.manager import ControllerSpec, Manager, Watch
from osk8s_core import errors
from osk8s_core.k8s.controller import Requeue
from osk8s_core.k8s.events import ObjectRef
from osk8s_core.k8s.store import split_key

if TYPE_CHECKING:
    from osk8s_capo.app import Dependencies
    from osk8s_capo.scope import Scope, ScopeFactory

FINALIZER: Final = "openstackcluster.infrastructure.cluster.x-k8s.io"
KIND: Final = "OpenStackCluster"
MACHINES_REQUEUE: Final = 5.0
ERROR_REQUEUE: Final = 0.0  # backoff of the work queue

_STEP_CONDITIONS: Final = (
    cond.NETWORK_READY,
    cond.ROUTER_READY,
    cond.SECURITY_GROUPS_READY,
    cond.API_ENDPOINT_READY,
)


@dataclass
class ClusterReconciler:
    kube: KubeObjects
    scopes: ScopeFactory
    events: Any = None
    logger: Any = None

    def __post_init__(self) -> None:
        if self.logger is None:
            self.logger = structlog.get_logger("osk8s.capo.openstackcluster")

    # Entry point

    def reconcile(self, key: str) -> Requeue | None:
        namespace, name = split_key(key)
        osc = self.kube.get(OPENSTACK_CLUSTER, namespace, name)
        if osc is None or capi.is_externally_managed(osc):
            return None
        log = self.logger.bind(openstackcluster=key)
        cluster_name = capi.owner_name(osc, "Cluster")
        if cluster_name is None:
            log.info("waiting for the owner Cluster to be set")
            return None
        cluster = self.kube.get(CLUSTER, namespace, cluster_name)
        if cluster is None:
            log.info("owner Cluster not found yet", cluster=cluster_name)
            return None
        status: dict[str, Any] = copy.deepcopy(osc.get("status") or {})
        before = copy.deepcopy(status)
        generation = meta(osc).get("generation")
        if capi.is_paused(cluster, osc):
            cond.set_condition(
                status,
                cond.PAUSED,
                True,
                cond.PAUSED_REASON,
                "reconciliation is paused",
                generation=generation,
            )
            self._write_status(osc, before, status)
            return None
        cond.set_condition(status, cond.PAUSED, False, cond.NOT_PAUSED, generation=generation)
        ref = ClusterRef(namespace, name)
        try:
            if capi.is_deleting(osc):
                result = self._delete(osc, ref, status, generation)
            else:
                result = self._normal(osc, ref, status, generation)
        except Exception:
            # Errors too end in a status write (the failing condition carries the message);
            # a process that dies (SIGKILL, or a test's SimulatedCrash) writes nothing.
            self._finish(osc, before, status)
            raise
        self._finish(osc, before, status)
        return result

    def _finish(self, osc: dict[str, Any], before: dict[str, Any], status: dict[str, Any]) -> None:
        # Our own spec write (controlPlaneEndpoint) bumps the generation: conditions
        # observed it, so stamp the latest one (no second write on the next pass).
        latest = meta(osc).get("generation")
        for item in status.get("conditions") or []:
            if latest is not None:
                item["observedGeneration"] = latest
        created = cluster_events.created(osc.get("spec") or {}, before, status)
        self._write_status(osc, before, status)
        for reason, message in created:  # once recorded: a failed write tells again
            self._event(osc, "Normal", reason, message)

    # Normal path

    def _scope(self, osc: Mapping[str, Any], status: dict[str, Any], generation: Any) -> Scope:
        spec = osc.get("spec") or {}
        try:
            scope = self.scopes.scope(
                meta(osc)["namespace"], IdentityRef.from_spec(spec.get("identityRef"))
            )
            scope.authenticate()
        except (IdentityError, errors.OpenStackError, errors.CredentialsError) as exc:
            cond.set_condition(
                status, cond.AUTHENTICATED, False, cond.AUTH_FAILED, str(exc), generation=generation
            )
            cond.set_condition(
                status, cond.READY, False, cond.AUTH_FAILED, str(exc), generation=generation
            )
            raise
        cond.set_condition(
            status, cond.AUTHENTICATED, True, cond.READY_REASON, generation=generation
        )
        return scope

    def _normal(  # noqa: PLR0915 - the steps of §2.1 in order, each with its condition
        self, osc: dict[str, Any], ref: ClusterRef, status: dict[str, Any], generation: Any
    ) -> Requeue | None:
        spec: dict[str, Any] = osc.get("spec") or {}
        scope = self._scope(osc, status, generation)
        if not capi.has_finalizer(osc, FINALIZER):
            # Persisted before any cloud write (CAPI contract).
            updated = self.kube.patch(
                OPENSTACK_CLUSTER,
                osc,
                {
                    "metadata": {
                        "finalizers": capi.finalizers_with(osc, FINALIZER),
                        "resourceVersion": meta(osc).get("resourceVersion"),
                    }
                },
            )
            osc["metadata"] = updated["metadata"]
        tags = list(spec.get("tags") or [])
        failing = None
        try:
            failing = cond.NETWORK_READY
            external = cluster_network.external_network(scope, spec)
            status["externalNetwork"] = external
            if spec.get("managedSubnets"):
                network = cluster_network.managed_network(scope, ref, spec, tags)
            else:
                network = cluster_network.existing_network(scope, spec)
            status["network"] = network
            cond.set_condition(
                status, cond.NETWORK_READY, True, cond.READY_REASON, generation=generation
            )
            failing = cond.ROUTER_READY
            if external is not None and (spec.get("managedSubnets") or spec.get("router")):
                if spec.get("managedSubnets"):
                    status["router"] = cluster_network.router(
                        scope, ref, spec, network=network, external=external, tags=tags
                    )
                else:
                    status["router"] = cluster_network.router_status_only(scope, spec)
                cond.set_condition(
                    status, cond.ROUTER_READY, True, cond.READY_REASON, generation=generation
                )
            else:
                status.pop("router", None)
                cond.set_condition(
                    status,
                    cond.ROUTER_READY,
                    True,
                    cond.NOT_MANAGED,
                    "no router used",
                    generation=generation,
                )
            failing = cond.SECURITY_GROUPS_READY
            cidrs = [s["cidr"] for s in network.get("subnets") or []]
            groups = cluster_secgroups.reconcile(scope, ref, spec, subnet_cidrs=cidrs, tags=tags)
            stale = (status.get("bastionSecurityGroup") or {}).get("id")
            if stale and "bastionSecurityGroup" not in groups:
                # Bastion disabled: its group goes, best effort (CAPO #2113); kept in status
                # until the delete succeeds, so it is retried.
                try:
                    scope.security_groups.delete(stale)
                except errors.OpenStackError as exc:
                    self.logger.info("bastion security group not deleted yet", error=str(exc))
                    groups = {**groups, "bastionSecurityGroup": status["bastionSecurityGroup"]}
            for field in (
                "controlPlaneSecurityGroup",
                "workerSecurityGroup",
                "bastionSecurityGroup",
            ):
                if field in groups:
                    status[field] = groups[field]
                else:
                    status.pop(field, None)
            cond.set_condition(
                status,
                cond.SECURITY_GROUPS_READY,
                True,
                cond.READY_REASON if groups else cond.NOT_MANAGED,
                "" if groups else "managedSecurityGroups not set",
                generation=generation,
            )
            failing = cond.API_ENDPOINT_READY
            lb_status = None
            if cluster_endpoint.lb_enabled(spec):

                def save(partial: dict[str, Any]) -> None:
                    status["apiServerManagedLoadBalancer"] = partial
                    self._write_status(osc, None, status)

                lb_status = cluster_endpoint.reconcile_load_balancer(
                    scope,
                    ref,
                    spec,
                    network=network,
                    external=external,
                    previous=status.get("apiServerManagedLoadBalancer") or {},
                    save=save,
                    router_ips=list((status.get("router") or {}).get("ips") or []),
                    tell=lambda reason, message: self._event(osc, "Normal", reason, message),
                    warn=lambda reason, message: self._warn_once(osc, reason, message),
                )
                status["apiServerManagedLoadBalancer"] = lb_status
            endpoint = cluster_endpoint.reconcile_endpoint(
                scope, ref, spec, external=external, lb_status=lb_status
            )
            if (spec.get("controlPlaneEndpoint") or {}) != endpoint:
                updated = self.kube.patch(
                    OPENSTACK_CLUSTER, osc, {"spec": {"controlPlaneEndpoint": endpoint}}
                )
                osc["metadata"] = updated["metadata"]
                osc["spec"] = updated.get("spec") or spec
            cond.set_condition(
                status, cond.API_ENDPOINT_READY, True, cond.READY_REASON, generation=generation
            )
            failing = cond.FAILURE_DOMAINS_READY
            if not status.get("failureDomains"):
                status["failureDomains"] = self._failure_domains(scope, spec)
            cond.set_condition(
                status, cond.FAILURE_DOMAINS_READY, True, cond.READY_REASON, generation=generation
            )
        except NetworkError as exc:
            self._failed(status, exc.condition, exc.reason, str(exc), generation)
            self._event(osc, "Warning", exc.event, str(exc))
            raise
        except errors.OpenStackError as exc:
            self._failed(status, failing or cond.READY, cond.OPENSTACK_ERROR, str(exc), generation)
            self._event(osc, "Warning", cond.OPENSTACK_ERROR, str(exc))
            raise
        init = dict(status.get("initialization") or {})
        if not init.get("provisioned"):
            init["provisioned"] = True  # written once, never reset (v1beta2 contract)
            status["initialization"] = init
            self._event(osc, "Normal", "Provisioned", "cluster infrastructure is ready")
        cond.set_condition(status, cond.READY, True, cond.READY_REASON, generation=generation)
        if spec.get("bastion") or status.get("bastion"):
            # §2.1 step 11, after provisioning: the bastion never holds the cluster back.
            view = {**osc, "status": status}  # the bastion SG of this pass, not the stored one
            wait = bastion.reconcile(self.kube, scope, view, status)
            if wait is not None:
                return Requeue(after=wait)
        return None

    def _event(self, osc: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        if self.events is not None:
            self.events.event(ObjectRef.of(osc), type_, reason, message)

    def _warn_once(self, osc: Mapping[str, Any], reason: str, message: str) -> None:
        """A warning every pass would find again (an invalid spec entry): told once per
        30 minutes (before kube-apiserver's 1 h event TTL drops it), not re-counted on each
        reconcile (an unchanged cluster costs no API write within that window)."""
        if self.events is not None:
            self.events.event_once(ObjectRef.of(osc), "Warning", reason, message)

    def _failed(
        self, status: dict[str, Any], condition: str, reason: str, message: str, generation: Any
    ) -> None:
        cond.set_condition(status, condition, False, reason, message, generation=generation)
        cond.set_condition(status, cond.READY, False, reason, message, generation=generation)

    def _failure_domains(self, scope: Scope, spec: Mapping[str, Any]) -> list[dict[str, Any]]:
        wanted = list(spec.get("controlPlaneAvailabilityZones") or [])
        zones = sorted({z["name"] for z in scope.availability_zones() if z["available"]})
        return [{"name": z, "controlPlane": (not wanted) or z in wanted} for z in zones]

    # Deletion

    def _delete(
        self, osc: dict[str, Any], ref: ClusterRef, status: dict[str, Any], generation: Any
    ) -> Requeue | None:
        if not capi.has_finalizer(osc, FINALIZER):
            return None
        namespace = ref.namespace
        cluster_name = capi.owner_name(osc, "Cluster") or ref.name
        selector = f"cluster.x-k8s.io/cluster-name={cluster_name}"
        machines = self.kube.list(MACHINE, namespace, label_selector=selector)
        machines += self.kube.list(OPENSTACK_MACHINE, namespace, label_selector=selector)
        cond.set_condition(
            status, cond.READY, False, cond.DELETING, "deleting", generation=generation
        )
        if machines:
            cond.set_condition(
                status,
                cond.READY,
                False,
                cond.DELETING,
                f"waiting for {len(machines)} machines to be deleted",
                generation=generation,
            )
            return Requeue(after=MACHINES_REQUEUE)
        spec = osc.get("spec") or {}
        scope = self._scope(osc, status, generation)
        # (b) The bastion first: its FIP, then its OpenStackServer (whose controller frees
        # the Nova server); wait until the object is gone.
        wait = bastion.delete(self.kube, scope, osc, status)
        if wait is not None:
            cond.set_condition(
                status, cond.READY, False, cond.DELETING,
                f"waiting for {naming.bastion_name(ref.name)} to be deleted",
                generation=generation,
            )  # fmt: skip
            return Requeue(after=wait)
        delete_foreign = (meta(osc).get("annotations") or {}).get(
            cluster_delete.FOREIGN_LB_ANNOTATION
        ) == "true"

        def tell(reason: str, message: str) -> None:
            self._event(osc, "Normal", reason, message)

        def warn(reason: str, message: str) -> None:
            self._event(osc, "Warning", reason, message)

        try:
            pending = cluster_delete.delete_api_load_balancer(
                scope, ref, spec, status, tell=tell, warn=warn
            )
            if pending is None:
                status.pop("apiServerManagedLoadBalancer", None)
                pending = cluster_delete.delete_network(
                    scope, ref, spec, status, delete_foreign=delete_foreign, tell=tell, warn=warn
                )
            if pending is not None:
                if "not made by this controller" in pending.reason:
                    cond.set_condition(
                        status,
                        cond.FOREIGN_LOAD_BALANCERS,
                        True,
                        cond.FOUND,
                        pending.reason,
                        generation=generation,
                    )
                cond.set_condition(
                    status, cond.READY, False, cond.DELETING, pending.reason, generation=generation
                )
                return Requeue(after=pending.after)
            cluster_delete.delete_security_groups(scope, ref, tell=tell, warn=warn)
            cluster_delete.delete_api_floating_ip(scope, ref, spec, status, tell=tell, warn=warn)
            cluster_delete.delete_control_plane_server_group(
                scope, namespace, cluster_name, tell=tell, warn=warn
            )
        except errors.OpenStackError as exc:
            cond.set_condition(
                status, cond.READY, False, cond.DELETION_FAILED, str(exc), generation=generation
            )
            raise
        self.kube.patch(
            OPENSTACK_CLUSTER,
            osc,
            {
                "metadata": {
                    "finalizers": capi.finalizers_without(osc, FINALIZER),
                    "resourceVersion": meta(osc).get("resourceVersion"),
                }
            },
        )
        osc["deleted"] = True
        self._event(osc, "Normal", "SuccessfulDeleteCluster", "cluster infrastructure deleted")
        return None

    # Status

    def _write_status(
        self, osc: dict[str, Any], before: dict[str, Any] | None, status: dict[str, Any]
    ) -> None:
        """Merge-patch only what changed (removed fields as null, nested ones too: a shrunk
        ``bastion`` record keeps no stale id/ip); nothing when unchanged."""
        if osc.get("deleted"):
            return
        base = before if before is not None else (osc.get("status") or {})
        patch = merge_patch(base, status)
        if not patch:
            return
        self.logger.debug("status patch", fields=sorted(patch))
        try:
            updated = self.kube.patch_status(OPENSTACK_CLUSTER, osc, patch)
        except errors.KubernetesNotFound:
            return
        osc["status"] = updated.get("status") or {}
        if before is not None:
            before.clear()
            before.update(copy.deepcopy(osc["status"]))


def merge_patch(base: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) turning ``base`` into ``new``: changed keys, removed
    ones as null, objects diffed recursively (a merge patch merges them), lists whole."""
    patch: dict[str, Any] = {}
    for key in set(base) | set(new):
        if key not in new:
            patch[key] = None
        elif base.get(key) != new[key]:
            old, value = base.get(key), new[key]
            if isinstance(old, Mapping) and isinstance(value, Mapping):
                patch[key] = merge_patch(old, value)
            else:
                patch[key] = value
    return patch


def cluster_to_infra(cluster: Mapping[str, Any]) -> list[str]:
    """Cluster events → its OpenStackCluster (pause transitions, deletion)."""
    name = capi.infrastructure_ref_name(cluster, KIND)
    namespace = meta(cluster).get("namespace")
    return [f"{namespace}/{name}"] if name and namespace else []


def register(manager: Manager, deps: Dependencies) -> None:
    reconciler = ClusterReconciler(kube=deps.kube, scopes=deps.scopes, events=deps.events)
    manager.register(
        ControllerSpec(
            name="openstackcluster",
            resource=OPENSTACK_CLUSTER,
            reconcile=reconciler.reconcile,
            workers=deps.concurrency.cluster,
            watches=(Watch(CLUSTER, cluster_to_infra),),
        )
    )
