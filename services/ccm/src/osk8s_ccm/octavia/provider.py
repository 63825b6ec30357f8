"""CPO's LoadBalancer on Octavia behind the service controller's ``LoadBalancerProvider``:
EnsureLoadBalancer's steps (§1.4.4), UpdateLoadBalancer and EnsureLoadBalancerDeleted
(§1.4.10), sharing (§1.4.7), cluster rename (§1.4.8) and managed security groups (§1.4.9).

Crash safety comes from the order of steps: the LB is found by id or name before anything is
created, its id is handed to the recorder right after the create answered (the controller
persists it even when a later step fails), each child is created idempotently by name, and
the floating IP by its description marker. An LB Octavia left in ERROR is deleted and made
anew in the same sync, its floating IP kept and re-attached (osk8s, CPO #2036).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from osk8s_ccm import lb_annotations as ann
from osk8s_ccm.lb_provider import (
    LoadBalancerError,
    LoadBalancerNode,
    LoadBalancerRecorder,
    LoadBalancerService,
    LoadBalancerStatus,
    RetryLater,
)
from osk8s_ccm.lb_settings import (
    ServiceLoadBalancerSettings,
    ingress_for,
    service_settings,
    wait_lb_active_steps,
)
from osk8s_ccm.octavia import naming
from osk8s_ccm.octavia.desired import (
    TIMEOUT_KEYS,
    ListenerSpec,
    PortTarget,
    TreeOptions,
    listener_specs,
)
from osk8s_ccm.octavia.features import FeatureProbe, OctaviaFeatures
from osk8s_ccm.octavia.floating import FloatingAddresses, FloatingIpError, FloatingRequest
from osk8s_ccm.octavia.nodes import NodeSubnets, member_targets
from osk8s_ccm.octavia.rename import rename_tree
from osk8s_ccm.octavia.secgroups import ServiceSecurityGroups
from osk8s_ccm.octavia.tls import InvalidTlsRef, TlsRefs
from osk8s_ccm.octavia.tree import PortConflict, TreeReconciler
from osk8s_core import errors
from osk8s_core.config import LoadBalancerClass, LoadBalancerOptions
from osk8s_core.openstack.floating_ips import FloatingIps
from osk8s_core.openstack.lb_children import LoadBalancerChildren
from osk8s_core.openstack.lb_updates import LoadBalancerUpdates
from osk8s_core.openstack.loadbalancers import (
    GONE_STATUSES,
    LoadBalancers,
    LoadBalancerSpec,
    provisioning_status,
)
from osk8s_core.openstack.networking import Networking
from osk8s_core.openstack.ports import Ports
from osk8s_core.openstack.security_groups import SecurityGroups
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import WaitPolicy

if TYPE_CHECKING:
    from openstack.connection import Connection

    from osk8s_core.metrics import ReconcileMetrics
    from osk8s_core.openstack.client import OpenStackClient


def wait_policy_for_steps(steps: int) -> WaitPolicy:
    """CPO's ACTIVE wait: exponential backoff from 1 s by 1.2 for ``steps`` polls
    (``OCCM_WAIT_LB_ACTIVE_STEPS``, default 23: about five and a half minutes)."""
    total = sum(1.2**i for i in range(steps))
    return WaitPolicy(timeout=total, interval=1.0, factor=1.2, max_interval=1.2 ** (steps - 1))


def active_waiter(environ: Mapping[str, str]) -> tuple[Waiter, str | None]:
    """The Waiter of every "until ACTIVE" from ``OCCM_WAIT_LB_ACTIVE_STEPS`` (read once, at
    the process edge) and the warning to log when its value was bad."""
    steps, warning = wait_lb_active_steps(environ)
    return Waiter(policy=wait_policy_for_steps(steps)), warning


@dataclass(frozen=True)
class OctaviaSettings:
    """The cloud config sections the provider reads, parsed once at the edge."""

    options: LoadBalancerOptions = field(default_factory=LoadBalancerOptions)
    classes: Mapping[str, LoadBalancerClass] = field(default_factory=dict)
    region: str = ""


@dataclass
class _Sync:
    """One call's resolved inputs."""

    cluster: str
    service: LoadBalancerService
    settings: ServiceLoadBalancerSettings
    features: OctaviaFeatures
    lb_name: str
    recorder: LoadBalancerRecorder

    @property
    def family(self) -> str:
        return self.service.preferred_ip_family

    @property
    def fip_description(self) -> str:
        return naming.fip_description(self.cluster, self.service.namespace, self.service.name)

    def lb_method_refused(self, message: str) -> None:
        self.recorder.event("Warning", "LoadBalancerLbMethodUnknown", message)  # CPO's reason


def _owned_listener(lb_name: str, is_owner: bool, features: OctaviaFeatures) -> Any:
    """CPO: a listener is this Service's when tagged with its LB name, or, untagged (or no
    tags on this Octavia), when the Service owns the LB and the name is one CCM gives."""

    def owned(listener: Any) -> bool:
        tags = list(getattr(listener, "tags", None) or [])
        if lb_name in tags:
            return True
        untagged = not any(naming.is_generated(t) for t in tags)
        return is_owner and untagged and str(listener.name or "").endswith(f"_{lb_name}")

    del features
    return owned


class OctaviaProvider:
    """``LoadBalancerProvider`` on Octavia and Neutron.

    ``octavia`` is the client for load-balancer calls (its retry policy should retry 409:
    Octavia answers Conflict while an LB is PENDING_*); ``network`` serves Neutron and
    Barbican. Both may wrap the same connection.
    """

    def __init__(
        self,
        *,
        octavia: OpenStackClient[Connection],
        network: OpenStackClient[Connection],
        settings: OctaviaSettings,
        waiter: Waiter,
        reconcile_metrics: ReconcileMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._lbs = LoadBalancers(octavia, waiter=waiter)
        self._children = LoadBalancerChildren(self._lbs)
        self._updates = LoadBalancerUpdates(self._lbs, self._children)
        options = settings.options
        self._tree = TreeReconciler(
            self._lbs,
            self._children,
            self._updates,
            serial=options.provider_requires_serial_api_calls,
        )
        self._features = FeatureProbe(octavia, provider=options.lb_provider)
        self._networking = Networking(network)
        self._fips = FloatingAddresses(FloatingIps(network), self._networking)
        self._subnets = NodeSubnets(Ports(network), region=settings.region)
        self._groups = ServiceSecurityGroups(
            SecurityGroups(network), Ports(network), self._networking
        )
        self._tls = TlsRefs(network)
        self._metrics = reconcile_metrics

    @property
    def load_balancers(self) -> LoadBalancers:
        return self._lbs

    # The protocol

    def get_load_balancer_name(self, cluster_name: str, service: LoadBalancerService) -> str:
        return naming.lb_name(cluster_name, service.namespace, service.name)

    def get_load_balancer(
        self, cluster_name: str, service: LoadBalancerService
    ) -> LoadBalancerStatus | None:
        settings = self._service_settings(service)
        lb = self._find(cluster_name, service, settings)
        if lb is None:
            return None
        fip = self._fips.on_port(lb.vip_port_id) if lb.vip_port_id else None
        address = str(fip.floating_ip_address) if fip is not None else str(lb.vip_address)
        return LoadBalancerStatus(ingress=ingress_for(address, settings))

    def ensure_load_balancer(
        self,
        cluster_name: str,
        service: LoadBalancerService,
        nodes: Sequence[LoadBalancerNode],
        recorder: LoadBalancerRecorder,
    ) -> LoadBalancerStatus:
        with self._timed("loadbalancer_ensure"):
            return self._ensure(self._start(cluster_name, service, recorder), nodes)

    def update_load_balancer(
        self,
        cluster_name: str,
        service: LoadBalancerService,
        nodes: Sequence[LoadBalancerNode],
        recorder: LoadBalancerRecorder,
    ) -> None:
        with self._timed("loadbalancer_update"):
            self._update(self._start(cluster_name, service, recorder), nodes)

    def ensure_load_balancer_deleted(
        self, cluster_name: str, service: LoadBalancerService, recorder: LoadBalancerRecorder
    ) -> None:
        with self._timed("loadbalancer_delete"):
            self._delete(cluster_name, service, recorder)

    # Steps

    def _timed(self, operation: str) -> Any:
        import contextlib  # noqa: PLC0415

        return (
            self._metrics.timed(operation)
            if self._metrics is not None
            else contextlib.nullcontext()
        )

    def _service_settings(self, service: LoadBalancerService) -> ServiceLoadBalancerSettings:
        return service_settings(service, self._settings.options, self._settings.classes)

    def _start(
        self, cluster: str, service: LoadBalancerService, recorder: LoadBalancerRecorder
    ) -> _Sync:
        settings = self._service_settings(service)
        if settings.errors:
            raise LoadBalancerError("; ".join(settings.errors), reason="InvalidConfiguration")
        for warning in settings.warnings:
            recorder.event("Warning", warning.reason, warning.message)
        features = self._octavia_call(self._features.features)
        return _Sync(
            cluster=cluster,
            service=service,
            settings=settings,
            features=features,
            lb_name=naming.lb_name(cluster, service.namespace, service.name),
            recorder=recorder,
        )

    def _octavia_call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except errors.WaitTimeout as exc:
            raise RetryLater(str(exc)) from exc
        except errors.OpenStackError as exc:
            raise LoadBalancerError(str(exc), reason=_reason(exc)) from exc

    def _find(
        self, cluster: str, service: LoadBalancerService, settings: ServiceLoadBalancerSettings
    ) -> Any | None:
        """By the ``load-balancer-id`` annotation, else by name, else by the legacy name."""
        if settings.load_balancer_id:
            try:
                lb = self._lbs.get(settings.load_balancer_id)
                if provisioning_status(lb) not in GONE_STATUSES:
                    return lb
            except errors.NotFound:
                pass  # gone (e.g. deleted after ERROR): fall back to the name
        found = self._lbs.find_by_name(naming.lb_name(cluster, service.namespace, service.name))
        if found is None and service.uid:
            found = self._lbs.find_by_name(naming.legacy_lb_name(service.uid))
        return found

    def _tree_options(
        self, sync: _Sync, member_subnet: str | None, nodes: Sequence[LoadBalancerNode]
    ) -> tuple[TreeOptions, tuple[PortTarget, ...], Any]:
        s, features = sync.settings, sync.features
        service = sync.service
        lb_method = s.lb_method
        if features.is_ovn and lb_method != "SOURCE_IP_PORT":
            sync.recorder.event(
                "Warning",
                "LoadBalancerLbMethodUnsupported",
                f"lb-provider ovn supports only SOURCE_IP_PORT, not {lb_method}",
            )
            lb_method = "SOURCE_IP_PORT"
        t = s.timeouts
        timeouts = dict(
            zip(
                TIMEOUT_KEYS,
                (t.client_data, t.member_connect, t.member_data, t.tcp_inspect),
                strict=True,
            )
        )
        restricted = not set(s.source_ranges) <= {"0.0.0.0/0", "::/0"}
        by_groups = features.is_ovn and self._settings.options.manage_security_groups
        if restricted and not features.vip_acl and not by_groups:
            sync.recorder.event(
                "Warning",
                "LoadBalancerSourceRangesIgnored",
                "source ranges cannot be enforced: this Octavia or provider has no listener "
                "allowed_cidrs (with ovn, set [LoadBalancer] manage-security-groups=true)",
            )
        etp_local = service.external_traffic_policy == "Local"
        opts = TreeOptions(
            lb_name=sync.lb_name,
            lb_algorithm=lb_method,
            connection_limit=s.connection_limit,
            proxy_protocol=s.proxy_protocol,
            x_forwarded_for=s.x_forwarded_for,
            tls_container_ref=s.default_tls_container_ref or None,
            timeouts=timeouts,
            allowed_cidrs=s.source_ranges,
            session_affinity_client_ip=service.session_affinity == "ClientIP",
            member_subnet_id=member_subnet,
            health_monitor=s.health_monitor.enabled,
            monitor_delay=s.health_monitor.delay,
            monitor_timeout=s.health_monitor.timeout,
            monitor_max_retries=s.health_monitor.max_retries,
            monitor_max_retries_down=s.health_monitor.max_retries_down,
            health_check_node_port=service.health_check_node_port if etp_local else 0,
            serial_member_names=self._settings.options.provider_requires_serial_api_calls,
        )
        ports = tuple(
            PortTarget(
                p.protocol, p.port, p.node_port if service.allocate_load_balancer_node_ports else 0
            )
            for p in service.ports
        )
        targets = member_targets(nodes, s.node_selector, sync.family)
        return opts, ports, targets

    def _vip_and_members(
        self, sync: _Sync, nodes: Sequence[LoadBalancerNode]
    ) -> tuple[str, str, str | None]:
        """(VIP network, VIP subnet, member subnet): settings, else the first node's subnet."""
        s = sync.settings
        network, subnet = s.network_id, s.subnet_id
        if not network and not subnet and not s.port_id:
            detected = self._subnets.subnet_of(nodes[0], sync.family) if nodes else None
            if detected is None:
                raise LoadBalancerError(
                    "no VIP subnet: set [LoadBalancer] subnet-id or network-id, or give the "
                    "nodes a providerID whose server port carries the node address",
                    reason="InvalidSubnet",
                )
            subnet = detected
        member_subnet = s.member_subnet_id or subnet or None
        return network, subnet, member_subnet

    def _wanted(
        self, sync: _Sync, nodes: Sequence[LoadBalancerNode], member_subnet: str | None
    ) -> tuple[ListenerSpec, ...]:
        opts, ports, targets = self._tree_options(sync, member_subnet, nodes)
        return listener_specs(ports, targets, opts, sync.features)

    def _ensure(self, sync: _Sync, nodes: Sequence[LoadBalancerNode]) -> LoadBalancerStatus:
        service, s = sync.service, sync.settings
        if not service.ports:
            raise LoadBalancerError("the Service has no ports", reason="InvalidConfiguration")
        if not nodes:
            raise LoadBalancerError("there are no available nodes", reason="NoNodes")
        if s.default_tls_container_ref and self._settings.options.container_store == "barbican":
            try:
                self._octavia_call(self._tls.validate, s.default_tls_container_ref)
            except InvalidTlsRef as exc:
                raise LoadBalancerError(str(exc), reason="InvalidTlsRef") from exc
        network, subnet, member_subnet = self._octavia_call(self._vip_and_members, sync, nodes)
        wanted = self._wanted(sync, nodes, member_subnet)
        lb = self._octavia_call(self._find, sync.cluster, service, s)
        lb = self._octavia_call(self._settle, sync, lb)
        created = lb is None
        if lb is None:
            lb = self._octavia_call(self._create, sync, network, subnet, wanted)
        sync.recorder.annotate(ann.LOAD_BALANCER_ID, str(lb.id))
        is_owner = lb.name in (sync.lb_name, naming.legacy_lb_name(service.uid))
        if not created:
            self._octavia_call(self._check_sharing, sync, lb, is_owner)
            if is_owner is False and naming.cluster_of(
                str(lb.name), service.namespace, service.name
            ):
                lb = self._octavia_call(self._rename, sync, lb)
                is_owner = lb.name == sync.lb_name
        if created and self._settings.options.provider_requires_serial_api_calls:
            created = False  # its children still have to be made one by one
        if not created:
            owned = _owned_listener(sync.lb_name, is_owner, sync.features)
            try:
                self._octavia_call(
                    self._tree.reconcile, lb.id, wanted, owned=owned, warn=sync.lb_method_refused
                )
            except PortConflict as exc:
                raise LoadBalancerError(str(exc), reason="PortConflict") from exc
        address = self._octavia_call(self._address, sync, lb, is_owner)
        sync.recorder.annotate(ann.LOAD_BALANCER_ADDRESS, address)
        if not created and sync.features.tags and sync.lb_name not in (lb.tags or []):
            self._octavia_call(
                self._lbs.update, lb.id, tags=[*(lb.tags or []), sync.lb_name], wait=False
            )
        self._octavia_call(self._security_groups, sync, lb, nodes, member_subnet)
        return LoadBalancerStatus(ingress=ingress_for(address, s))

    def _settle(self, sync: _Sync, lb: Any | None) -> Any | None:
        """The found LB once it is ACTIVE; None when it was in ERROR and is now deleted
        (osk8s, CPO #2036: CPO leaves it for a human)."""
        if lb is None:
            return None
        status = provisioning_status(lb)
        if status == "ACTIVE":
            return lb
        if status == "ERROR":
            if lb.name != sync.lb_name:
                raise LoadBalancerError(
                    f"load balancer {lb.id} is in ERROR and is not this Service's own: "
                    "left for its owner",
                    reason="OctaviaError",
                )
            sync.recorder.event(
                "Warning",
                "LoadBalancerRecreated",
                f"load balancer {lb.id} was in ERROR: deleting it and creating a new one "
                "(the floating IP is kept)",
            )
            sync.recorder.not_ready("OctaviaError", f"load balancer {lb.id} was in ERROR")
            self._lbs.delete(lb.id, cascade=True, wait=True)
            return None
        sync.recorder.not_ready(
            "WaitingForLoadBalancer", f"load balancer {lb.id} is {status}, waiting for ACTIVE"
        )
        return self._lbs.wait_active(lb.id)

    def _create(
        self, sync: _Sync, network: str, subnet: str, wanted: Sequence[ListenerSpec]
    ) -> Any:
        s, features, service = sync.settings, sync.features, sync.service
        ipv6 = sync.family == "IPv6"
        spec = LoadBalancerSpec(
            name=sync.lb_name,
            description=naming.lb_description(sync.cluster, service.namespace, service.name),
            vip_port_id=s.port_id or None,
            vip_subnet_id=None if s.port_id else (subnet or None),
            vip_network_id=None if (s.port_id or subnet) else (network or None),
            vip_address=service.load_balancer_ip or None
            if (s.internal or ipv6) and not s.port_id
            else None,
            provider=self._settings.options.lb_provider,
            flavor_id=s.flavor_id or None if features.flavors else None,
            availability_zone=self._zone(sync),
            tags=(sync.lb_name,) if features.tags else (),
        )
        if self._settings.options.provider_requires_serial_api_calls:
            lb = self._lbs.create(spec, wait=False)
        else:
            lb = self._updates.create_populated(
                spec, [w.body() for w in wanted], wait=False, looked_up=True
            )
        # Persist the id before the wait: a crash now still finds it on restart.
        sync.recorder.annotate(ann.LOAD_BALANCER_ID, str(lb.id))
        sync.recorder.not_ready("WaitingForLoadBalancer", f"load balancer {lb.id} is being created")
        try:
            return self._lbs.wait_active(lb.id)
        except errors.ResourceError as exc:
            # Matches CPO: an LB born in ERROR is deleted, and the sync fails (retried).
            self._lbs.delete(lb.id, cascade=True, wait=False)
            raise LoadBalancerError(
                f"load balancer {lb.id} went to ERROR on creation: {exc}", reason="OctaviaError"
            ) from exc

    def _zone(self, sync: _Sync) -> str | None:
        zone = sync.settings.availability_zone
        if not zone:
            return None
        if not sync.features.availability_zones:
            sync.recorder.event(  # matches CPO's reason (events.go), so alerts carry over
                "Warning",
                "LoadBalancerAvailabilityZonesIgnored",
                f"availability zone {zone!r} ignored: this Octavia (API < 2.14) or provider "
                "has no availability zones",
            )
            return None
        return zone

    def _check_sharing(self, sync: _Sync, lb: Any, is_owner: bool) -> None:
        if is_owner:
            return
        tags = list(lb.tags or [])
        if naming.cluster_of(str(lb.name), sync.service.namespace, sync.service.name):
            return  # this Service's LB under an older cluster name: renamed next
        if not sync.features.tags:
            raise LoadBalancerError(
                "sharing a load balancer needs Octavia tags (API >= 2.5)",
                reason="InvalidConfiguration",
            )
        if sync.settings.internal:
            raise LoadBalancerError(
                "an internal Service may not share another Service's load balancer",
                reason="InvalidConfiguration",
            )
        if sync.lb_name in tags:
            return
        users = [t for t in tags if naming.is_generated(t)]
        if len(users) + 1 > self._settings.options.max_shared_lb:
            raise LoadBalancerError(
                f"load balancer {lb.id} is already shared by {len(users)} Services "
                f"(max-shared-lb={self._settings.options.max_shared_lb})",
                reason="SharedLoadBalancerFull",
            )

    def _rename(self, sync: _Sync, lb: Any) -> Any:
        old = naming.cluster_of(str(lb.name), sync.service.namespace, sync.service.name)
        if old is None or old == sync.cluster:
            return lb
        sync.recorder.event(
            "Normal",
            "LoadBalancerRename",
            f"renaming load balancer {lb.id} from cluster {old!r} to {sync.cluster!r}",
        )
        renamed = rename_tree(
            self._lbs, self._children, self._updates, lb, old_cluster=old, new_cluster=sync.cluster
        )
        service = sync.service
        self._fips.redescribe(
            str(lb.vip_port_id),
            naming.fip_description(old, service.namespace, service.name),
            sync.fip_description,
        )
        return renamed

    def _address(self, sync: _Sync, lb: Any, is_owner: bool) -> str:
        """Step 11: the address to advertise; attaches, detaches or creates the FIP."""
        s = sync.settings
        vip = str(lb.vip_address)
        if sync.family == "IPv6":
            # Matches CPO: a Warning LoadBalancerFloatingIPSkipped on every IPv6 sync.
            sync.recorder.event(
                "Warning",
                "LoadBalancerFloatingIPSkipped",
                f"floating IP not supported for IPv6 Service {sync.service.key}: "
                f"using its IPv6 address {vip} instead",
            )
            return vip
        existing = self._fips.on_port(lb.vip_port_id)
        if s.internal:
            if existing is not None and is_owner:
                self._fips.release(
                    existing, description=sync.fip_description, keep=s.keep_floating_ip
                )
            return vip
        if existing is not None:
            return str(existing.floating_ip_address)
        if not is_owner:
            raise LoadBalancerError(
                f"load balancer {lb.id} has no floating IP and only its owner may attach one",
                reason="InvalidConfiguration",
            )
        network = s.floating_network_id or self._search_external_network(sync)
        if not network:
            sync.recorder.event(
                "Warning",
                "LoadBalancerForcedInternal",
                "no floating network found: the load balancer is reachable at its VIP only",
            )
            return vip
        request = FloatingRequest(
            description=sync.fip_description,
            network_id=network,
            subnet=s.floating_subnet,
            address=sync.service.load_balancer_ip,
        )
        try:
            fip = self._fips.ensure(lb.vip_port_id, request, None)
        except FloatingIpError as exc:
            raise LoadBalancerError(str(exc), reason="FloatingIpUnavailable") from exc
        return str(fip.floating_ip_address)

    def _search_external_network(self, sync: _Sync) -> str | None:
        """CPO's autodetect, with its ``LoadBalancerExternalNetworkSearchFailed`` warning. Unlike
        CPO the failure is not taken as "no network" (that would advertise the VIP on a
        transient Neutron error): the sync fails and is retried."""
        try:
            return self._fips.external_network()
        except errors.OpenStackError as exc:
            sync.recorder.event(
                "Warning",
                "LoadBalancerExternalNetworkSearchFailed",
                f"failed to find floating-network-id for Service {sync.service.key}: {exc}",
            )
            raise

    def _security_groups(
        self,
        sync: _Sync,
        lb: Any,
        nodes: Sequence[LoadBalancerNode],
        member_subnet: str | None,
        *,
        update_only: bool = False,
    ) -> None:
        service = sync.service
        name = naming.sg_name(service.uid, service.namespace, service.name)
        if not self._settings.options.manage_security_groups:
            if not update_only:
                self._groups.delete(name)
            return
        self._groups.ensure(
            name=name,
            description=naming.sg_description(sync.cluster, service.namespace, service.name),
            service=service,
            settings=sync.settings,
            features=sync.features,
            nodes=member_targets(nodes, sync.settings.node_selector, sync.family),
            member_subnet=member_subnet or str(lb.vip_subnet_id),
        )

    def _update(self, sync: _Sync, nodes: Sequence[LoadBalancerNode]) -> None:
        _, _, member_subnet = self._octavia_call(self._vip_and_members, sync, nodes)
        lb = self._octavia_call(self._find, sync.cluster, sync.service, sync.settings)
        if lb is None:
            raise LoadBalancerError(
                f"load balancer {sync.lb_name} does not exist", reason="NotFound"
            )
        if provisioning_status(lb) != "ACTIVE":
            raise RetryLater(f"load balancer {lb.id} is {provisioning_status(lb)}")
        is_owner = lb.name == sync.lb_name
        owned = _owned_listener(sync.lb_name, is_owner, sync.features)
        wanted = self._wanted(sync, nodes, member_subnet)
        try:
            self._octavia_call(
                self._tree.reconcile,
                lb.id,
                wanted,
                owned=owned,
                prune=False,
                warn=sync.lb_method_refused,
            )
        except PortConflict as exc:
            raise LoadBalancerError(str(exc), reason="PortConflict") from exc
        self._octavia_call(self._security_groups, sync, lb, nodes, member_subnet, update_only=True)

    def _delete(
        self, cluster: str, service: LoadBalancerService, recorder: LoadBalancerRecorder
    ) -> None:
        settings = self._service_settings(service)
        lb_name = naming.lb_name(cluster, service.namespace, service.name)
        description = naming.fip_description(cluster, service.namespace, service.name)
        lb = self._octavia_call(self._find, cluster, service, settings)
        if lb is not None:
            status = provisioning_status(lb)
            if status not in ("ACTIVE", "ERROR"):
                lb = self._octavia_call(self._lbs.wait_active, lb.id)
            self._octavia_call(self._delete_lb, lb, lb_name, settings, description)
        if not settings.keep_floating_ip:
            for fip in self._octavia_call(self._fips.leftovers, description):
                self._octavia_call(self._fips.release, fip, description=description, keep=False)
        self._octavia_call(
            self._groups.delete, naming.sg_name(service.uid, service.namespace, service.name)
        )
        del recorder

    def _delete_lb(
        self, lb: Any, lb_name: str, settings: ServiceLoadBalancerSettings, description: str
    ) -> None:
        tags = list(lb.tags or [])
        others = [t for t in tags if naming.is_generated(t) and t != lb_name]
        if (
            naming.is_generated(str(lb.name))
            and not others
            and (lb.name == lb_name or not settings.load_balancer_id or lb_name in tags)
        ):
            fip = self._fips.on_port(lb.vip_port_id) if lb.vip_port_id else None
            if fip is not None:
                self._fips.release(fip, description=description, keep=settings.keep_floating_ip)
            if self._settings.options.cascade_delete:
                self._lbs.delete(lb.id, cascade=True, wait=True)
            else:
                self._tree.delete_owned(lb.id, owned=lambda _listener: True)
                self._lbs.delete(lb.id, wait=True)
            return
        # Shared (or user-made) LB: only this Service's listeners and tag go.
        features = self._features.features()
        self._tree.delete_owned(lb.id, owned=_owned_listener(lb_name, lb.name == lb_name, features))
        if lb_name in tags:
            remaining = [t for t in tags if t != lb_name]
            # Matches CPO: an empty tag list is sent as [""] (Octavia ignores [] in a PUT).
            self._lbs.update(lb.id, tags=remaining or [""])


def _reason(exc: errors.OpenStackError) -> str:
    if isinstance(exc, errors.OverLimit):
        return "QuotaExceeded"
    return "OctaviaError"
