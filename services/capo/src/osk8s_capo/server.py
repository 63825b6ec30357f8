"""OpenStackServer (v1alpha1) reconcile: resolve → persist → ports → volumes → server → state,
and deletion: server (until gone) → ports → volumes (capo.md §2.7, §2.8, §2.9).

The write-before-act rules: the finalizer and ``status.resolved`` are persisted before any
cloud object is made ("no resolved status" implies "nothing was created"); each port ID and
the instance ID are written to status right after their create; every create is adoption by
name first (ports by name + network, volumes by name and size, the server by exact name), so a
crash between a create and its status write converges to one server and one set of ports.
Deletion works from deterministic names when status was lost. User-supplied objects (server
groups, networks, security groups) are never deleted.

Pause follows the labelled Cluster (``spec.paused``) or the object's annotation, as CAPO.
Events as CAPO's recorder names them (``SuccessfulCreatePort``/``Trunk``/``Server``,
``FailedCreatePort``/``Trunk``/``Server``, ``FailedReplaceTags``, ``DuplicateServerNames``,
``SuccessfulDeleteServer``/``Trunk``/``Port``, ``FailedDelete...``), on the OpenStackServer.
``floatingIPPoolRef`` is refused (condition, nothing created): there is no
OpenStackFloatingIPPool controller yet (capo.md §1.7).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import structlog

from osk8s_capo import capi
from osk8s_capo import conditions as cond
from osk8s_capo.credentials import IdentityError, IdentityRef
from osk8s_capo.kube import (
    CLUSTER,
    CLUSTER_NAME_LABEL,
    OPENSTACK_SERVER,
    KubeObjects,
    labels_of,
    meta,
)
from osk8s_capo.manager import ControllerSpec, Watch
from osk8s_capo.server_boot import (
    addresses,
    boot_attributes,
    fault_message,
    planned_volumes,
    port_attributes,
)
from osk8s_capo.server_cloud import ServerCloud
from osk8s_capo.server_resolve import PortDefaults, ResolveError, port_name, resolve
from osk8s_capo.webhooks import FLOATING_IP_POOL_UNSUPPORTED
from osk8s_core import errors
from osk8s_core.crashpoints import NO_CRASH_POINTS, CrashPoints
from osk8s_core.k8s.controller import Requeue
from osk8s_core.k8s.events import ObjectRef

if TYPE_CHECKING:
    from openstack.connection import Connection

    from osk8s_capo.app import Dependencies
    from osk8s_capo.manager import Manager
    from osk8s_core.k8s.events import EventRecorder, EventType
    from osk8s_core.openstack.client import OpenStackClient

FINALIZER: Final = "openstackserver.infrastructure.cluster.x-k8s.io"
DESCRIPTION: Final = "Created by cluster-api-provider-openstack"
REQUEUE_BUILD: Final = 10.0
REQUEUE_ERROR: Final = 60.0
REQUEUE_DELETE: Final = 5.0

# reasons (CAPO's conditions_consts.go)
DEPENDENCY_FAILED: Final = "DependencyFailed"
PORT_CREATE_FAILED: Final = "PortCreateFailed"
INSTANCE_CREATE_FAILED: Final = "InstanceCreateFailed"
INSTANCE_NOT_FOUND: Final = "InstanceNotFound"
INSTANCE_STATE_ERROR: Final = "InstanceStateError"
INSTANCE_NOT_READY: Final = "InstanceNotReady"
INSTANCE_DELETE_FAILED: Final = "InstanceDeleteFailed"

ClientFor = Callable[[str, IdentityRef], "OpenStackClient[Connection]"]
"""(namespace, identityRef) → the instrumented client of that credential set."""


@dataclass(frozen=True)
class ServerReconciler:
    kube: KubeObjects
    client_for: ClientFor
    cloud_for: Callable[[OpenStackClient[Connection]], ServerCloud] = ServerCloud.over
    crash_points: CrashPoints = NO_CRASH_POINTS
    events: EventRecorder | None = None

    def reconcile(self, namespace: str, name: str) -> Requeue | None:
        obj = self.kube.get(OPENSTACK_SERVER, namespace, name)
        if obj is None:
            return None
        log = structlog.get_logger("osk8s.capo.server").bind(server=f"{namespace}/{name}")
        if self.paused(namespace, obj):
            return None
        status: dict[str, Any] = dict(obj.get("status") or {})
        try:
            ref = IdentityRef.from_spec((obj.get("spec") or {}).get("identityRef"))
            cloud = self.cloud_for(self.client_for(namespace, ref))
        except (IdentityError, errors.CredentialsError) as exc:
            cond.set_condition(status, cond.AUTHENTICATED, False, cond.AUTH_FAILED, str(exc))
            self._write_status(obj, status)
            raise
        run = _Run(self, obj, status, cloud, log)
        if meta(obj).get("deletionTimestamp"):
            return run.delete()
        return run.normal()

    def paused(self, namespace: str, obj: Mapping[str, Any]) -> bool:
        """CAPO: the object's annotation, or ``spec.paused`` of the Cluster it is labelled with
        (a server with no such label, or whose Cluster is gone, follows its annotation only)."""
        cluster_name = labels_of(obj).get(CLUSTER_NAME_LABEL)
        cluster = self.kube.get(CLUSTER, namespace, cluster_name) if cluster_name else None
        return capi.is_paused(cluster, obj)

    def event(self, obj: Mapping[str, Any], type_: EventType, reason: str, message: str) -> None:
        if self.events is not None:
            self.events.event(ObjectRef.of(obj), type_, reason, message)

    def _write_status(self, obj: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
        self.crash_points.reach("openstackserver_status_write.before")
        return self.kube.patch_status(OPENSTACK_SERVER, obj, status)


class _Run:
    """One reconcile of one object (keeps the object and its status in step with writes)."""

    def __init__(
        self,
        owner: ServerReconciler,
        obj: dict[str, Any],
        status: dict[str, Any],
        cloud: ServerCloud,
        log: Any,
    ) -> None:
        self.owner, self.obj, self.status, self.cloud, self.log = owner, obj, status, cloud, log
        self.spec: Mapping[str, Any] = obj.get("spec") or {}
        self.name = str(meta(obj)["name"])
        self.namespace = str(meta(obj)["namespace"])

    def write(self) -> None:
        self.obj = self.owner._write_status(self.obj, self.status)

    def condition(self, state: bool | str, reason: str, message: str = "") -> None:
        cond.set_condition(self.status, cond.INSTANCE_READY, state, reason, message)

    def fail(self, reason: str, exc: BaseException) -> None:
        self.condition(False, reason, str(exc))
        self.write()

    def event(self, type_: EventType, reason: str, message: str) -> None:
        self.owner.event(self.obj, type_, reason, message)

    @contextmanager
    def warned(self, reason: str, message: str, *, condition: str | None = None) -> Iterator[None]:
        """An OpenStack failure inside is CAPO's Warning ``reason`` ("<message>: <error>"),
        and, given a ``condition`` reason, ``InstanceReady=False`` with it."""
        try:
            yield
        except errors.OpenStackError as exc:
            if condition is not None:
                self.fail(condition, exc)
            self.event("Warning", reason, f"{message}: {exc}")
            raise

    # -- normal path -------------------------------------------------------------------------

    def normal(self) -> Requeue | None:
        finalizers = list(meta(self.obj).get("finalizers") or [])
        if FINALIZER not in finalizers:
            body = {
                "metadata": {
                    "finalizers": [*finalizers, FINALIZER],
                    "resourceVersion": meta(self.obj).get("resourceVersion"),
                }
            }
            self.obj = self.owner.kube.patch(OPENSTACK_SERVER, self.obj, body)
        cond.set_condition(self.status, cond.AUTHENTICATED, True, cond.READY_REASON)
        user_data: bytes | None = None
        if not self.status.get("instanceID"):
            # checked before anything is made: a server that cannot boot gets no ports
            try:
                if self.spec.get("floatingIPPoolRef"):
                    raise errors.ConfigError(
                        f"spec.floatingIPPoolRef {FLOATING_IP_POOL_UNSUPPORTED}"
                    )
                user_data = self.user_data()
            except (errors.ConfigError, IdentityError) as exc:
                self.fail(DEPENDENCY_FAILED, exc)
                raise errors.ConfigError(str(exc)) from exc
        if not self.status.get("resolved"):
            try:
                self.status["resolved"] = resolve(self.spec, self.port_defaults(), self.cloud)
            except (ResolveError, errors.OpenStackError) as exc:
                self.fail(DEPENDENCY_FAILED, exc)
                raise
            self.write()  # persisted before anything is created
        resolved = self.status["resolved"]
        port_ids = self.ensure_ports(resolved)
        server = self.ensure_server(resolved, port_ids, user_data)
        return self.record_state(server)

    def port_defaults(self) -> PortDefaults:
        return PortDefaults(
            server_name=self.name,
            description=DESCRIPTION,
            tags=list(self.spec.get("tags") or []),
            trunk=bool(self.spec.get("trunk")),
            security_groups=list(self.spec.get("securityGroups") or []),
        )

    def ensure_ports(self, resolved: Mapping[str, Any]) -> list[str]:
        known = [p.get("id") for p in (self.status.get("resources") or {}).get("ports") or []]
        ids: list[str] = []
        for index, port in enumerate(resolved.get("ports") or []):
            if index < len(known) and known[index]:
                ids.append(str(known[index]))
                continue
            name = port["name"]
            with self.warned(
                "FailedCreatePort", f"Failed to create port {name}", condition=PORT_CREATE_FAILED
            ):
                created = self.cloud.ports.create(port["networkID"], name, **port_attributes(port))
            with self.warned(
                "FailedReplaceTags",
                f"Failed to replace port tags {name}",
                condition=PORT_CREATE_FAILED,
            ):
                for tag in port.get("tags") or []:
                    if tag not in (created.tags or []):
                        self.cloud.ports.add_tag(created, tag)
            self.event(
                "Normal", "SuccessfulCreatePort", f"Created port {name} with id {created.id}"
            )
            if port.get("trunk"):
                with self.warned(
                    "FailedCreateTrunk",
                    f"Failed to create trunk for port {name}",
                    condition=PORT_CREATE_FAILED,
                ):
                    # named after its port (CAPO); found again by parent port after a crash
                    trunk = self.cloud.trunks.create(str(created.id), name)
                self.event(
                    "Normal",
                    "SuccessfulCreateTrunk",
                    f"Created trunk {trunk.name} with id {trunk.id}",
                )
            ids.append(str(created.id))
            self.status["resources"] = {"ports": [{"id": i} for i in ids]}
            self.write()  # the ID is recorded before the next create
        return ids

    def user_data(self) -> bytes | None:
        ref = (self.spec.get("userDataRef") or {}).get("name")
        if not ref:
            return None
        data = self.owner.kube.read_secret(self.namespace, str(ref))
        value = data.get("value")
        if value is None:
            raise errors.ConfigError(
                f"bootstrap data Secret {self.namespace}/{ref} has no 'value' key"
            )
        return value.encode()

    def ensure_server(
        self, resolved: Mapping[str, Any], port_ids: list[str], user_data: bytes | None
    ) -> Any:
        instance_id = self.status.get("instanceID")
        if instance_id:
            try:
                return self.cloud.servers.get(str(instance_id))
            except errors.NotFound as exc:
                self.status["instanceState"] = "DELETED"
                self.status["ready"] = False
                self.fail(
                    INSTANCE_NOT_FOUND,
                    RuntimeError(f"server {instance_id} was unexpectedly deleted"),
                )
                raise errors.ResourceError(str(exc)) from exc
        try:
            volume_ids: dict[str | None, str] = {}
            for planned in planned_volumes(self.name, self.spec, resolved["imageID"], DESCRIPTION):
                volume = self.cloud.volumes.create(planned.spec)  # adopted by name, waits
                volume_ids[planned.device] = str(volume.id)
            attrs = boot_attributes(
                self.spec,
                resolved,
                port_ids=port_ids,
                volume_ids=volume_ids,
                user_data=user_data,
            )
            server = self.cloud.servers.create(self.name, **attrs)
        except errors.AmbiguousMatch as exc:
            # CAPO: more than one server of this exact name; adopting either could be wrong and
            # booting a third would add to the mess, so the user must delete the extra one
            message = f"{exc}: delete the extra server(s) named {self.name!r} in Nova"
            self.fail(INSTANCE_CREATE_FAILED, RuntimeError(message))
            self.event("Warning", "DuplicateServerNames", message)
            raise
        except errors.OpenStackError as exc:
            self.status["instanceState"] = "ERROR"
            self.fail(INSTANCE_CREATE_FAILED, exc)
            self.event(
                "Warning", "FailedCreateServer", f"Failed to create server {self.name}: {exc}"
            )
            raise
        self.status["instanceID"] = str(server.id)
        self.write()  # the instance ID is recorded before anything else happens
        self.event(
            "Normal", "SuccessfulCreateServer", f"Created server {self.name} with id {server.id}"
        )
        return server

    def record_state(self, server: Any) -> Requeue | None:
        state = str(server.status or "").upper()
        self.status["instanceState"] = state
        self.status["ready"] = state == "ACTIVE"
        if state == "ACTIVE":
            self.status["addresses"] = addresses(server)
            self.condition(True, cond.READY_REASON)
            result: Requeue | None = None
        elif state == "ERROR":
            self.condition(False, INSTANCE_STATE_ERROR, fault_message(server))
            result = Requeue(after=REQUEUE_ERROR)
        elif state in ("BUILD", ""):
            self.condition(False, INSTANCE_NOT_READY, "server is building")
            result = Requeue(after=REQUEUE_BUILD)
        else:
            self.condition(cond.UNKNOWN, INSTANCE_NOT_READY, f"server is in state {state}")
            result = Requeue(after=REQUEUE_ERROR)
        if self.status != (self.obj.get("status") or {}):
            self.write()  # an idle pass writes nothing
        return result

    # -- deletion ----------------------------------------------------------------------------

    def delete(self) -> Requeue | None:
        if FINALIZER not in (meta(self.obj).get("finalizers") or []):
            return None
        server_id = self.status.get("instanceID")
        found = None
        if server_id:
            try:
                found = self.cloud.servers.get(str(server_id))
            except errors.NotFound:
                found = None
        else:
            found = self.cloud.servers.find_by_name(self.name)
        if found is not None and str(found.status).upper() not in ("DELETED", "SOFT_DELETED"):
            if getattr(found, "task_state", None) == "deleting":
                return Requeue(after=REQUEUE_DELETE)  # asked already: no second DELETE
            try:
                self.cloud.servers.delete(str(found.id))
            except errors.OpenStackError as exc:
                self.fail(INSTANCE_DELETE_FAILED, exc)
                self.event(
                    "Warning", "FailedDeleteServer", f"Failed to delete server {self.name}: {exc}"
                )
                raise
            self.event(
                "Normal", "SuccessfulDeleteServer", f"Deleted server {self.name} with id {found.id}"
            )
            return Requeue(after=REQUEUE_DELETE)  # until Nova says it is gone
        for port_id in self.port_ids_for_delete():
            trunk = self.cloud.trunks.of_port(port_id)
            if trunk is not None:
                where = f"trunk {trunk.name} with id {trunk.id}"
                with self.warned("FailedDeleteTrunk", f"Failed to delete {where}"):
                    self.cloud.trunks.delete(str(trunk.id))  # Neutron keeps a trunk's parent port
                self.event("Normal", "SuccessfulDeleteTrunk", f"Deleted {where}")
            with self.warned("FailedDeletePort", f"Failed to delete port with id {port_id}"):
                self.cloud.ports.delete(port_id)
            self.event("Normal", "SuccessfulDeletePort", f"Deleted port with id {port_id}")
        if not self.delete_volumes():
            return Requeue(after=REQUEUE_DELETE)
        finalizers = [f for f in meta(self.obj).get("finalizers") or [] if f != FINALIZER]
        self.owner.kube.patch(OPENSTACK_SERVER, self.obj, {"metadata": {"finalizers": finalizers}})
        return None

    def port_ids_for_delete(self) -> list[str]:
        """Recorded ports, plus any port carrying one of our deterministic names (a create
        whose ID was never written, or status lost in a move)."""
        ids = [str(p["id"]) for p in (self.status.get("resources") or {}).get("ports") or []]
        for index, port in enumerate(self.spec.get("ports") or []):
            for found in self.cloud.ports.query(name=port_name(self.name, index, port)):
                if str(found.id) not in ids:
                    ids.append(str(found.id))
        return ids

    def delete_volumes(self) -> bool:
        """Delete our volumes by name; False while one is still attached or detaching
        (Nova releases delete_on_termination volumes asynchronously)."""
        done = True
        for planned in planned_volumes(self.name, self.spec, "", DESCRIPTION):
            for volume in self.cloud.volumes.query(name=planned.spec.name):
                if volume.name != planned.spec.name:
                    continue
                if volume.status in ("in-use", "detaching", "attaching", "deleting"):
                    done = False
                    continue
                self.cloud.volumes.delete(str(volume.id))
        return done


# -- manager wiring ---------------------------------------------------------------------------


def cluster_to_servers(kube: KubeObjects) -> Callable[[Mapping[str, Any]], list[str]]:
    """Cluster events → the OpenStackServers labelled with it, so a pause or an unpause of the
    Cluster reaches its servers at once rather than at the next resync."""

    def mapper(cluster: Mapping[str, Any]) -> list[str]:
        namespace, name = meta(cluster).get("namespace"), meta(cluster).get("name")
        if not namespace or not name:
            return []
        selector = f"{CLUSTER_NAME_LABEL}={name}"
        servers = kube.list(OPENSTACK_SERVER, str(namespace), label_selector=selector)
        return [f"{namespace}/{meta(s)['name']}" for s in servers]

    return mapper


def register(manager: Manager, deps: Dependencies) -> None:
    """The OpenStackServer controller (workers: ``--openstackmachine-concurrency``, as CAPO)."""
    reconciler = ServerReconciler(
        kube=deps.kube,
        client_for=lambda namespace, ref: deps.scopes.scope(namespace, ref).client,
        crash_points=deps.crash_points,
        events=deps.events,
    )

    def reconcile_key(key: str) -> Requeue | None:
        namespace, _, name = key.partition("/")
        return reconciler.reconcile(namespace, name)

    manager.register(
        ControllerSpec(
            name="openstackserver",
            resource=OPENSTACK_SERVER,
            reconcile=reconcile_key,
            workers=deps.concurrency.machine,
            watches=(Watch(CLUSTER, cluster_to_servers(deps.kube)),),
        )
    )
