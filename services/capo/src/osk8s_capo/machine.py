"""OpenStackMachine reconcile (capo.md §2.6, §2.8, §1.11): the CAPI InfraMachine contract
around an OpenStackServer of the same name.

Normal path: owner Machine → its Cluster → pause → the OpenStackCluster; wait for the cluster
infrastructure (``WaitingForClusterInfrastructure``, 15 s) and the bootstrap data
(``WaitingForBootstrapData``, no requeue: the Machine watch brings it back); finalizer first;
create or adopt the OpenStackServer; mirror its state (providerID ``openstack://<region>/<id>``,
addresses, ``initialization.provisioned`` once, ``InstanceReady``/``Ready`` with Nova's fault
text); control-plane machines become API load balancer members, or get the API floating IP
on the no-LB path. Deletion: LB members (or the API FIP detached) → the OpenStackServer object
(its controller frees server, ports and volumes; also from ERROR) → the finalizer.
Beyond CAPO (opt-in, annotation ``capo.osk8s.io/control-plane-server-group`` on the
OpenStackCluster, value ``anti-affinity`` or ``soft-anti-affinity``): a managed Nova server
group ``<ns>-<cluster>-control-plane`` for the control-plane machines (CAPO #1256).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import structlog

from osk8s_capo import capi, naming
from osk8s_capo import conditions as cond
from osk8s_capo.credentials import IdentityError, IdentityRef
from osk8s_capo.kube import (
    CLUSTER,
    CLUSTER_NAME_LABEL,
    CONTROL_PLANE_LABEL,
    MACHINE,
    OPENSTACK_CLUSTER,
    OPENSTACK_MACHINE,
    OPENSTACK_SERVER,
    KubeObjects,
    labels_of,
    meta,
)
from osk8s_capo.machine_spec import InvalidMachineSpec, provider_id, server_spec
from osk8s_capo.manager import ControllerSpec, Watch
from osk8s_capo.scope import Scope
from osk8s_core import errors
from osk8s_core.crashpoints import NO_CRASH_POINTS, CrashPoints
from osk8s_core.k8s.controller import Requeue
from osk8s_core.openstack.server_groups import ServerGroups

FINALIZER: Final = "openstackmachine.infrastructure.cluster.x-k8s.io"
SERVER_GROUP_ANNOTATION: Final = "capo.osk8s.io/control-plane-server-group"
SERVER_GROUP_POLICIES: Final = ("anti-affinity", "soft-anti-affinity", "affinity")
API_INGRESS_READY: Final = "APIServerIngressReady"
REQUEUE_INFRA: Final = 15.0
REQUEUE_BUILD: Final = 10.0
REQUEUE_ERROR: Final = 60.0
REQUEUE_DELETE: Final = 2.0

WAITING_FOR_INFRA: Final = "WaitingForClusterInfrastructure"
WAITING_FOR_BOOTSTRAP: Final = "WaitingForBootstrapData"
INVALID_SPEC: Final = "InvalidMachineSpec"
INSTANCE_NOT_READY: Final = "InstanceNotReady"
INSTANCE_STATE_ERROR: Final = "InstanceStateError"
INSTANCE_DELETED: Final = "InstanceDeleted"
LB_MEMBER_ERROR: Final = "LoadBalancerMemberError"
FIP_ERROR: Final = "FloatingIPError"

if TYPE_CHECKING:
    from osk8s_capo.app import Dependencies
    from osk8s_capo.manager import Manager

ScopeFor = Callable[[str, IdentityRef], Scope]


@dataclass(frozen=True)
class MachineReconciler:
    kube: KubeObjects
    scope_for: ScopeFor
    crash_points: CrashPoints = NO_CRASH_POINTS

    def reconcile_key(self, key: str) -> Requeue | None:
        namespace, _, name = key.partition("/")
        return self.reconcile(namespace, name)

    def reconcile(self, namespace: str, name: str) -> Requeue | None:
        osm = self.kube.get(OPENSTACK_MACHINE, namespace, name)
        if osm is None:
            return None
        machine_name = capi.owner_name(osm, "Machine")
        machine = self.kube.get(MACHINE, namespace, machine_name) if machine_name else None
        if machine is None:
            if capi.is_deleting(osm):
                return self.delete_orphan(osm)
            return None  # CAPI sets the ownerRef; its update brings us back
        cluster_name = labels_of(osm).get(CLUSTER_NAME_LABEL) or (machine.get("spec") or {}).get(
            "clusterName"
        )
        cluster = self.kube.get(CLUSTER, namespace, str(cluster_name)) if cluster_name else None
        if cluster is None or capi.is_paused(cluster, osm):
            return None
        osc_name = capi.infrastructure_ref_name(cluster, "OpenStackCluster")
        osc = self.kube.get(OPENSTACK_CLUSTER, namespace, osc_name) if osc_name else None
        if osc is None:
            return self.delete_orphan(osm) if capi.is_deleting(osm) else None
        run = _MachineRun(self, osm, machine, cluster, osc)
        if capi.is_deleting(osm):
            return run.delete()
        return run.normal()

    def delete_orphan(self, osm: dict[str, Any]) -> Requeue | None:
        """Deleting with its Machine (or cluster) already gone: still free the server (its
        controller frees ports and volumes), then let the object go; never stuck."""
        if not capi.has_finalizer(osm, FINALIZER):
            return None
        namespace, name = str(meta(osm)["namespace"]), str(meta(osm)["name"])
        server = self.kube.get(OPENSTACK_SERVER, namespace, name)
        if server is not None:
            if not capi.is_deleting(server):
                self.kube.delete(OPENSTACK_SERVER, namespace, name)
            return Requeue(after=REQUEUE_DELETE)
        body = {"metadata": {"finalizers": capi.finalizers_without(osm, FINALIZER)}}
        self.kube.patch(OPENSTACK_MACHINE, osm, body)
        return None


class _MachineRun:
    def __init__(
        self,
        owner: MachineReconciler,
        osm: dict[str, Any],
        machine: dict[str, Any],
        cluster: dict[str, Any],
        osc: dict[str, Any],
    ) -> None:
        self.owner, self.kube = owner, owner.kube
        self.osm, self.machine, self.cluster, self.osc = osm, machine, cluster, osc
        self.status: dict[str, Any] = dict(osm.get("status") or {})
        self.namespace = str(meta(osm)["namespace"])
        self.name = str(meta(osm)["name"])
        self.cluster_name = str(meta(cluster)["name"])
        self.control_plane = CONTROL_PLANE_LABEL in labels_of(machine)
        self.log = structlog.get_logger("osk8s.capo.machine").bind(
            machine=f"{self.namespace}/{self.name}"
        )

    # -- status -----------------------------------------------------------------------------

    def condition(self, type_: str, state: bool | str, reason: str, message: str = "") -> None:
        cond.set_condition(self.status, type_, state, reason, message)

    def flush(self) -> None:
        """Write status when it changed (an idle pass writes nothing)."""
        if self.status != (self.osm.get("status") or {}):
            self.owner.crash_points.reach("openstackmachine_status_write.before")
            self.osm = self.kube.patch_status(OPENSTACK_MACHINE, self.osm, self.status)

    def identity(self) -> IdentityRef:
        ref = (self.osm.get("spec") or {}).get("identityRef") or (self.osc.get("spec") or {}).get(
            "identityRef"
        )
        return IdentityRef.from_spec(ref)

    def scope(self) -> Scope:
        try:
            scope = self.owner.scope_for(self.namespace, self.identity())
        except (IdentityError, errors.CredentialsError) as exc:
            self.condition(cond.AUTHENTICATED, False, cond.AUTH_FAILED, str(exc))
            self.flush()
            raise
        return scope

    # -- normal path ------------------------------------------------------------------------

    def normal(self) -> Requeue | None:
        provisioned = ((self.osc.get("status") or {}).get("initialization") or {}).get(
            "provisioned"
        )
        if not provisioned:
            self.condition(cond.INSTANCE_READY, False, WAITING_FOR_INFRA)
            self.condition(cond.READY, False, WAITING_FOR_INFRA)
            self.flush()
            return Requeue(after=REQUEUE_INFRA)
        bootstrap = ((self.machine.get("spec") or {}).get("bootstrap") or {}).get("dataSecretName")
        if not bootstrap:
            self.condition(cond.INSTANCE_READY, False, WAITING_FOR_BOOTSTRAP)
            self.condition(cond.READY, False, WAITING_FOR_BOOTSTRAP)
            self.flush()
            return None
        if not capi.has_finalizer(self.osm, FINALIZER):
            body = {
                "metadata": {
                    "finalizers": capi.finalizers_with(self.osm, FINALIZER),
                    "resourceVersion": meta(self.osm).get("resourceVersion"),
                }
            }
            self.osm = self.kube.patch(OPENSTACK_MACHINE, self.osm, body)
        server = self.kube.get(OPENSTACK_SERVER, self.namespace, self.name)
        if server is None:
            try:
                server = self.create_server()
            except InvalidMachineSpec as exc:
                self.condition(cond.INSTANCE_READY, False, INVALID_SPEC, str(exc))
                self.condition(cond.READY, False, INVALID_SPEC, str(exc))
                self.flush()
                raise errors.ConfigError(str(exc)) from exc
        return self.mirror(server)

    def managed_server_group(self) -> str | None:
        """Beyond CAPO: the opt-in control-plane server group, created by name if missing."""
        policy = (meta(self.osc).get("annotations") or {}).get(SERVER_GROUP_ANNOTATION)
        if not self.control_plane or not policy:
            return None
        if policy not in SERVER_GROUP_POLICIES:
            raise InvalidMachineSpec(
                f"{SERVER_GROUP_ANNOTATION}: {policy!r} is not one of "
                f"{', '.join(SERVER_GROUP_POLICIES)}"
            )
        groups = ServerGroups(self.scope().client)
        group = groups.create(
            naming.control_plane_server_group_name(self.namespace, self.cluster_name),
            policies=(policy,),
        )
        return str(group.id)

    def create_server(self) -> dict[str, Any]:
        spec = server_spec(
            self.osm,
            self.machine,
            self.osc,
            control_plane=self.control_plane,
            server_group_id=self.managed_server_group(),
        )
        body = {
            "apiVersion": OPENSTACK_SERVER.api_version,
            "kind": "OpenStackServer",
            "metadata": {
                "name": self.name,
                "labels": {CLUSTER_NAME_LABEL: self.cluster_name},
                "ownerReferences": [
                    {
                        "apiVersion": OPENSTACK_MACHINE.api_version,
                        "kind": "OpenStackMachine",
                        "name": self.name,
                        "uid": meta(self.osm)["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": spec,
        }
        try:
            return self.kube.create(OPENSTACK_SERVER, self.namespace, body)
        except errors.KubernetesConflict:
            found = self.kube.get(OPENSTACK_SERVER, self.namespace, self.name)
            if found is None:
                raise
            return found  # made by a pass that crashed before reading it back

    def mirror(self, server: Mapping[str, Any]) -> Requeue | None:
        sstatus = server.get("status") or {}
        state = str(sstatus.get("instanceState") or "")
        instance_ready = cond.find(dict(sstatus), cond.INSTANCE_READY)
        if sstatus.get("instanceID"):
            self.status["instanceID"] = sstatus["instanceID"]
        if state:
            self.status["instanceState"] = state
        if not state:
            reason = (instance_ready or {}).get("reason") or INSTANCE_NOT_READY
            message = (instance_ready or {}).get("message") or "waiting for the server"
            self.condition(cond.INSTANCE_READY, False, reason, message)
            self.condition(cond.READY, False, reason, message)
            self.flush()
            return Requeue(after=REQUEUE_BUILD)
        if state == "ACTIVE":
            return self.active(server)
        message = (instance_ready or {}).get("message") or f"server is in state {state}"
        if state == "ERROR":
            self.condition(cond.INSTANCE_READY, False, INSTANCE_STATE_ERROR, message)
            self.condition(cond.READY, False, INSTANCE_STATE_ERROR, message)
            result: Requeue | None = Requeue(after=REQUEUE_ERROR)
        elif state in ("DELETED", "SOFT_DELETED"):
            self.condition(cond.INSTANCE_READY, False, INSTANCE_DELETED, message)
            self.condition(cond.READY, False, INSTANCE_DELETED, message)
            result = None
        elif state == "BUILD":
            self.condition(cond.INSTANCE_READY, False, INSTANCE_NOT_READY, message)
            self.condition(cond.READY, False, INSTANCE_NOT_READY, message)
            result = Requeue(after=REQUEUE_BUILD)
        else:
            self.condition(cond.INSTANCE_READY, cond.UNKNOWN, INSTANCE_NOT_READY, message)
            self.condition(cond.READY, cond.UNKNOWN, INSTANCE_NOT_READY, message)
            result = Requeue(after=REQUEUE_ERROR)
        self.flush()
        return result

    def active(self, server: Mapping[str, Any]) -> Requeue | None:
        sstatus = server.get("status") or {}
        instance_id = str(sstatus["instanceID"])
        wanted = provider_id(self.identity().region, instance_id)
        if (self.osm.get("spec") or {}).get("providerID") != wanted:
            self.osm = self.kube.patch(
                OPENSTACK_MACHINE, self.osm, {"spec": {"providerID": wanted}}
            )
        self.status["addresses"] = list(sstatus.get("addresses") or [])
        self.condition(cond.INSTANCE_READY, True, cond.READY_REASON)
        if self.control_plane:
            try:
                self.api_ingress(server)
            except errors.OpenStackError as exc:
                reason = LB_MEMBER_ERROR if self.lb_status() else FIP_ERROR
                self.condition(API_INGRESS_READY, False, reason, str(exc))
                self.condition(cond.READY, False, reason, str(exc))
                self.flush()
                raise
            self.condition(API_INGRESS_READY, True, cond.READY_REASON)
        self.status.setdefault("initialization", {})["provisioned"] = True  # never reset
        self.condition(cond.READY, True, cond.READY_REASON)
        self.flush()
        return None

    # -- API ingress ------------------------------------------------------------------------

    def lb_status(self) -> Mapping[str, Any]:
        return (self.osc.get("status") or {}).get("apiServerManagedLoadBalancer") or {}

    def lb_ports(self) -> list[int]:
        spec = self.osc.get("spec") or {}
        endpoint = spec.get("controlPlaneEndpoint") or {}
        api = spec.get("apiServer") or {}
        port = int(endpoint.get("port") or api.get("port") or 6443)
        extra = (api.get("managedLoadBalancer") or {}).get("additionalPorts") or []
        return [port, *(int(p) for p in extra)]

    def management_port(self, scope: Scope, server: Mapping[str, Any]) -> tuple[str, str]:
        """(port ID, fixed IP) of the server's port on the cluster network."""
        network_id = ((self.osc.get("status") or {}).get("network") or {}).get("id")
        for ref in ((server.get("status") or {}).get("resources") or {}).get("ports") or []:
            port = scope.ports.get(str(ref["id"]))
            if network_id and port.network_id != network_id:
                continue
            for fixed in port.fixed_ips or []:
                return str(port.id), str(fixed["ip_address"])
        raise errors.NotFound("the server has no port with an address on the cluster network")

    def api_ingress(self, server: Mapping[str, Any]) -> None:
        scope = self.scope()
        port_id, address = self.management_port(scope, server)
        lb = self.lb_status()
        if lb.get("id"):
            lb_name = naming.load_balancer_name(self.namespace, self.cluster_name)
            for port in self.lb_ports():
                pool = scope.lb_children.find_pool(
                    str(lb["id"]), naming.lb_port_name(lb_name, port)
                )
                if pool is None:
                    raise errors.NotFound(f"pool for port {port} of {lb_name} not found")
                scope.lb_children.create_member(
                    str(lb["id"]),
                    str(pool.id),
                    address=address,
                    port=port,
                    name=naming.lb_member_name(lb_name, port, self.name),
                )
            return
        host = ((self.osc.get("spec") or {}).get("controlPlaneEndpoint") or {}).get("host")
        api = (self.osc.get("spec") or {}).get("apiServer") or {}
        if not host or api.get("enableFloatingIP") is False:
            return
        found = scope.floating_ips.query(floating_ip_address=host)
        if found and found[0].port_id != port_id:
            scope.floating_ips.associate(str(found[0].id), port_id, fixed_ip=address)

    # -- deletion ---------------------------------------------------------------------------

    def delete(self) -> Requeue | None:
        if not capi.has_finalizer(self.osm, FINALIZER):
            return None
        provisioned = ((self.osc.get("status") or {}).get("initialization") or {}).get(
            "provisioned"
        )
        server = self.kube.get(OPENSTACK_SERVER, self.namespace, self.name)
        if provisioned and server is not None and self.control_plane:
            self.leave_api_ingress(server)
        if server is not None:
            if not capi.is_deleting(server):
                self.kube.delete(OPENSTACK_SERVER, self.namespace, self.name)
            return Requeue(after=REQUEUE_DELETE)  # until its controller has freed it all
        body = {"metadata": {"finalizers": capi.finalizers_without(self.osm, FINALIZER)}}
        self.kube.patch(OPENSTACK_MACHINE, self.osm, body)
        return None

    def leave_api_ingress(self, server: Mapping[str, Any]) -> None:
        scope = self.scope()
        try:
            port_id, address = self.management_port(scope, server)
        except errors.NotFound:
            return
        lb = self.lb_status()
        if lb.get("id"):
            lb_name = naming.load_balancer_name(self.namespace, self.cluster_name)
            for port in self.lb_ports():
                pool = scope.lb_children.find_pool(
                    str(lb["id"]), naming.lb_port_name(lb_name, port)
                )
                member = (
                    scope.lb_children.find_member(str(pool.id), address, port) if pool else None
                )
                if pool is not None and member is not None:
                    scope.lb_children.delete_member(str(lb["id"]), str(pool.id), str(member.id))
            return
        # no LB: the API floating IP belongs to the cluster; detach it so the next
        # control-plane machine can take it (never deleted here)
        fip = scope.floating_ips.on_port(port_id)
        if fip is not None:
            scope.floating_ips.disassociate(str(fip.id))


# -- manager wiring ---------------------------------------------------------------------------


def machine_to_infra(machine: Mapping[str, Any]) -> list[str]:
    """Machine events (bootstrap data, failure domain) → its OpenStackMachine."""
    ref = (machine.get("spec") or {}).get("infrastructureRef") or {}
    namespace = meta(machine).get("namespace")
    if ref.get("kind") != "OpenStackMachine" or not ref.get("name") or not namespace:
        return []
    return [f"{namespace}/{ref['name']}"]


def server_to_machine(server: Mapping[str, Any]) -> list[str]:
    """OpenStackServer status changes → the OpenStackMachine owning it."""
    owner = capi.owner_name(server, "OpenStackMachine", group=OPENSTACK_MACHINE.group)
    namespace = meta(server).get("namespace")
    return [f"{namespace}/{owner}"] if owner and namespace else []


def register(manager: Manager, deps: Dependencies) -> None:
    reconciler = MachineReconciler(
        kube=deps.kube, scope_for=deps.scopes.scope, crash_points=deps.crash_points
    )
    manager.register(
        ControllerSpec(
            name="openstackmachine",
            resource=OPENSTACK_MACHINE,
            reconcile=reconciler.reconcile_key,
            workers=deps.concurrency.machine,
            watches=(Watch(MACHINE, machine_to_infra), Watch(OPENSTACK_SERVER, server_to_machine)),
        )
    )
