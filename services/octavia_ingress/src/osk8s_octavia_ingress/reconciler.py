"""One Ingress key → its Octavia load balancer, floating IP, Barbican secrets and status.

Order as CPO's ``ensureIngress``: LB (found or made by name) → skip when its description
already names this resourceVersion → TLS secrets → listener → pools, members, policies →
address (VIP, or a floating IP when not internal) → ``status.loadBalancer`` → event
``Updated`` → description with the new resourceVersion. An Ingress that is gone, being
deleted or not ours has its LB (cascade), floating IP (unless kept), security group and
Barbican secrets removed. Every step finds before it creates, so a crash anywhere and a
restart converge without a duplicate.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from osk8s_core import errors
from osk8s_core.k8s.events import ObjectRef
from osk8s_core.k8s.store import split_key
from osk8s_core.openstack.loadbalancers import LoadBalancerSpec, provisioning_status
from osk8s_octavia_ingress import ingress_settings, naming, selection, tls
from osk8s_octavia_ingress.config import IngressConfig
from osk8s_octavia_ingress.desired import HTTP_PORT, HTTPS_PORT, IngressError, build_tree
from osk8s_octavia_ingress.octavia_tree import ListenerSpec, OctaviaTree
from osk8s_octavia_ingress.port_groups import NodeServers, PortsNotConverged

if TYPE_CHECKING:
    from openstack.load_balancer.v2.load_balancer import LoadBalancer

    from osk8s_core.openstack.floating_ips import FloatingIps
    from osk8s_core.openstack.loadbalancers import LoadBalancers
    from osk8s_core.openstack.secrets import Secrets
    from osk8s_octavia_ingress.kube import JsonObject, KubeView


class Recorder(Protocol):
    """What the reconciler needs of an EventRecorder."""

    def normal(self, ref: ObjectRef, reason: str, message: str) -> None: ...

    def warning(self, ref: ObjectRef, reason: str, message: str) -> None: ...


@dataclass(frozen=True)
class Outcome:
    """What a sync did (for logs, tests and the benchmark)."""

    action: str
    """``skipped``, ``ensured``, ``deleted``, ``absent``."""
    address: str = ""


class IngressReconciler:
    """Reconciles Ingress keys; collaborators are passed in (no globals)."""

    def __init__(
        self,
        *,
        config: IngressConfig,
        kube: KubeView,
        lbs: LoadBalancers,
        tree: OctaviaTree,
        fips: FloatingIps,
        secrets: Secrets | None,
        recorder: Recorder,
        logger: Any,
        security_groups: Any = None,
    ) -> None:
        self._config = config
        self._kube = kube
        self._lbs = lbs
        self._tree = tree
        self._fips = fips
        self._secrets = secrets
        self._recorder = recorder
        self._log = logger
        self._groups = security_groups
        self._last_seen: dict[str, JsonObject] = {}

    def remember(self, ingress: JsonObject) -> None:
        """The last state of an Ingress (the informer's delete event), so a delete honours
        its ``keep-floatingip`` after the object is gone."""
        meta = ingress.get("metadata") or {}
        self._last_seen[f"{meta.get('namespace')}/{meta.get('name')}"] = ingress

    def sync(self, key: str) -> Outcome:
        namespace, name = split_key(key)
        ingress = self._kube.ingress(namespace, name)
        if ingress is None or ingress["metadata"].get("deletionTimestamp"):
            return self.delete(namespace, name, ingress or self._last_seen.get(key))
        if not selection.is_ours(ingress, self._kube.ingress_classes()):
            return self.delete(namespace, name, ingress)
        self._last_seen[key] = ingress
        try:
            return self._ensure(ingress)
        except IngressError as exc:
            self._recorder.warning(ObjectRef.of(_with_kind(ingress)), "Failed", str(exc))
            raise
        except (errors.OpenStackError, errors.WaitTimeout) as exc:
            # As CPO: a cloud failure is told on the Ingress too, not only in the log (the
            # error's text is the API's message; credentials never reach it).
            self._recorder.warning(
                ObjectRef.of(_with_kind(ingress)),
                "Failed",
                f"Failed to create openstack resources for ingress {key}: {exc}",
            )
            raise

    # Ensure

    def _resource(self, namespace: str, name: str) -> str:
        return naming.resource_name(self._config.cluster_name, namespace, name)

    def _lb_spec(self, namespace: str, name: str) -> LoadBalancerSpec:
        octavia = self._config.octavia
        return LoadBalancerSpec(
            name=self._resource(namespace, name),
            vip_subnet_id=octavia.subnet_id,
            description=naming.lb_description(self._config.cluster_name, namespace, name),
            provider=octavia.provider or None,
            flavor_id=octavia.flavor_id or None,
        )

    def _ensure(self, ingress: JsonObject) -> Outcome:
        meta = ingress["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        settings = ingress_settings.parse(ingress)
        resource = self._resource(namespace, name)
        lb_spec = self._lb_spec(namespace, name)
        lb = self._lbs.find_by_name(lb_spec.name)
        if lb is not None and naming.processed_version(lb.description) == str(
            meta.get("resourceVersion")
        ):
            return Outcome("skipped")
        refs = self._tls_refs(ingress, namespace, name)
        port = HTTPS_PORT if refs else HTTP_PORT
        nodes = self._kube.nodes()
        tree = build_tree(
            ingress,
            resource=resource,
            services=self._kube.services(namespace),
            nodes=nodes,
            listener_port=port,
        )
        listener_spec = build_listener_spec(resource, settings, refs)
        if lb is None and not self._config.octavia.provider_requires_serial_api_calls:
            # The whole tree in one POST (CPO: unless provider-requires-serial-api-calls).
            lb = self._tree.create_populated(lb_spec, listener_spec, tree)
        elif lb is None:
            lb = self._lbs.create(lb_spec)
        elif provisioning_status(lb) != "ACTIVE":
            lb = self._lbs.wait_active(lb.id)
        listener, dropped = self._tree.ensure_listener(lb.id, listener_spec)
        self._release_secrets(dropped, self._resource(namespace, name))
        self._tree.apply(lb.id, listener, tree)
        if self._groups is not None:
            self._groups.ensure(namespace, name, tree.node_ports, NodeServers.of(nodes))
        address = self._address(lb, settings, namespace, name)
        written = self._set_status(ingress, address)
        fullname = f"{namespace}/{name}"
        self._recorder.normal(
            ObjectRef.of(_with_kind(written)),
            "Updated",
            f"Successfully associated IP address {address} to ingress {fullname}",
        )
        version = str(written["metadata"].get("resourceVersion"))
        description = naming.processed_description(
            self._config.cluster_name, namespace, name, version
        )
        if lb.description != description:
            self._lbs.update(lb.id, description=description)
        return Outcome("ensured", address)

    def _tls_refs(self, ingress: JsonObject, namespace: str, name: str) -> list[str]:
        entries = (ingress.get("spec") or {}).get("tls") or []
        if not entries:
            return []
        if self._secrets is None:
            raise IngressError(
                "TLS Ingress not supported because of Key Manager service unavailable"
            )
        # Every Secret is read and converted before anything is stored: a missing or bad one
        # is an error that leaves nothing behind in Barbican or Octavia.
        found = []
        for entry in entries:
            secret_name = str(entry.get("secretName") or "")
            secret = self._kube.secret(namespace, secret_name)
            if secret is None:
                raise IngressError(
                    f'failed to create Barbican secret: secret "{secret_name}" not found'
                )
            found.append((secret_name, tls.pkcs12_bundle(secret, name=secret_name)))
        refs = []
        for secret_name, bundle in found:
            barbican_name = naming.secret_name(
                self._config.cluster_name, namespace, name, secret_name
            )
            existing = self._secrets.find_by_name(barbican_name)
            if existing is not None:
                refs.append(str(existing.secret_ref))
                continue
            refs.append(tls.store(self._secrets, barbican_name, bundle))
        return refs

    def _release_secrets(self, refs: list[str], resource: str) -> None:
        """Barbican secrets the listener no longer uses (TLS removed, a secret dropped from
        ``spec.tls``), deleted once the listener stopped naming them; only ours, by name."""
        if self._secrets is None:
            return
        for ref in refs:
            try:
                secret = self._secrets.get(ref)
            except errors.NotFound:
                continue
            if str(secret.name or "").startswith(f"{resource}_"):
                self._secrets.delete(ref)

    def _address(
        self,
        lb: LoadBalancer,
        settings: ingress_settings.IngressSettings,
        namespace: str,
        name: str,
    ) -> str:
        network = self._config.octavia.floating_network_id
        if settings.internal or not network:
            return str(lb.vip_address)
        port_id = str(lb.vip_port_id)
        if settings.floating_ip:
            return self._use_given_fip(settings.floating_ip, port_id, network)
        current = self._fips.on_port(port_id)
        if current is not None:
            return str(current.floating_ip_address)
        description = naming.fip_description(self._config.cluster_name, namespace, name)
        return str(
            self._fips.create(network, description=description, port_id=port_id).floating_ip_address
        )

    def _use_given_fip(self, address: str, port_id: str, network: str) -> str:
        found = self._fips.query(floating_ip_address=address)
        if not found:
            # CPO: a given address that does not exist yet is allocated on the network.
            fip = self._fips.create(
                network, description=f"Floating IP {address}", port_id=port_id, address=address
            )
            return str(fip.floating_ip_address)
        fip = found[0]
        if fip.port_id and fip.port_id != port_id:
            raise IngressError(f"floating IP {address} is already in use by another port")
        if fip.port_id != port_id:
            self._fips.associate(fip.id, port_id)
        return address

    def _set_status(self, ingress: JsonObject, address: str) -> JsonObject:
        current = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if current == [{"ip": address}]:
            return ingress
        return self._kube.set_address(ingress, address)

    # Delete

    def delete(self, namespace: str, name: str, last: JsonObject | None) -> Outcome:
        """Remove everything the Ingress had; ``last`` is its last known state (None when
        unknown: then only floating IPs this controller allocated are released)."""
        key = f"{namespace}/{name}"
        resource = self._resource(namespace, name)
        lb = self._lbs.find_by_name(resource)
        if lb is None and self._secrets is None:
            self._last_seen.pop(key, None)
            return Outcome("absent")
        settings = ingress_settings.parse(last) if last is not None else None
        if lb is not None:
            self._release_fip(lb, settings, namespace, name)
            if self._groups is not None:
                self._groups.delete(namespace, name)
            self._delete_lb(lb)
        # Barbican secrets by name prefix (as CPO) whenever an LB went, even if the last spec
        # had no TLS: a crash between a TLS listener's removal and its secrets' release must
        # not leave them for ever. Without an LB only when TLS may have been asked for, so
        # resyncs of Ingresses that are not ours make no Barbican call.
        had_tls = last is None or bool((last.get("spec") or {}).get("tls"))
        if self._secrets is not None and (lb is not None or had_tls):
            prefix = f"{resource}_"
            for secret in self._secrets.query():
                if str(secret.name or "").startswith(prefix):
                    self._secrets.delete(str(secret.secret_ref))
        self._last_seen.pop(key, None)
        return Outcome("deleted" if lb is not None else "absent")

    def _release_fip(
        self,
        lb: LoadBalancer,
        settings: ingress_settings.IngressSettings | None,
        namespace: str,
        name: str,
    ) -> None:
        fip = self._fips.on_port(str(lb.vip_port_id)) if lb.vip_port_id else None
        if fip is None:
            return
        ours = fip.description == naming.fip_description(self._config.cluster_name, namespace, name)
        keep = settings.keep_floating_ip if settings is not None else not ours
        if keep:
            self._fips.disassociate(fip.id)
        else:
            self._fips.delete(fip.id)

    def _delete_lb(self, lb: LoadBalancer) -> None:
        with contextlib.suppress(errors.ResourceError):  # an LB in ERROR can go as it is
            self._lbs.wait_active(lb.id)
        self._lbs.delete(lb.id, cascade=True, wait=True)

    # Node sync

    def sync_members(self, keys: Callable[[], list[JsonObject]] | None = None) -> int:
        """CPO's periodic node sync: the members of every Ingress LB follow the nodes.
        Beyond CPO (whose node sync never touches security groups), with
        ``manage-security-groups`` each Ingress's group follows too: on the ports of the
        member nodes' servers, off the other nodes' ports, rules on the NodePorts used. The
        nodes' ports are read once for all Ingresses. Returns the number of writes."""
        ingresses = keys() if keys is not None else self._kube.ingresses()
        classes = self._kube.ingress_classes()
        nodes = self._kube.nodes()
        servers = NodeServers.of(nodes)
        ports = self._groups.node_ports(servers) if self._groups is not None else None
        writes = 0
        for ingress in ingresses:
            if not selection.is_ours(ingress, classes):
                continue
            meta = ingress["metadata"]
            namespace, name = str(meta["namespace"]), str(meta["name"])
            lb = self._lbs.find_by_name(self._resource(namespace, name))
            if lb is None:
                continue
            try:
                tree = build_tree(
                    ingress,
                    resource=self._resource(namespace, name),
                    services=self._kube.services(namespace),
                    nodes=nodes,
                    listener_port=HTTP_PORT,
                )
            except IngressError as exc:
                self._log.warning(
                    "node sync skipped", ingress=f"{namespace}/{name}", error=str(exc)
                )
                continue
            writes += self._tree.sync_members(lb.id, tree.pools)
            if self._groups is not None:
                writes += self._sync_group(namespace, name, tree.node_ports, servers, ports)
        return writes

    def _sync_group(
        self,
        namespace: str,
        name: str,
        node_ports: Sequence[int],
        servers: NodeServers,
        ports: object,
    ) -> int:
        """One Ingress's group step of the node sync; its failure is a warning, never the
        end of the pass: the member sync (CPO parity) of every later Ingress still runs, and
        the next sync tries the group again. The writes that landed are counted."""
        try:
            return int(self._groups.sync(namespace, name, node_ports, servers, ports))
        except (errors.OpenStackError, errors.WaitTimeout) as exc:
            # The error's text is the API's (scrubbed, truncated) message: no credentials.
            self._log.warning(
                "node sync: security group not converged",
                ingress=f"{namespace}/{name}",
                error=str(exc),
            )
            return exc.writes if isinstance(exc, PortsNotConverged) else 0


def build_listener_spec(
    resource: str, settings: ingress_settings.IngressSettings, tls_refs: list[str]
) -> ListenerSpec:
    """The listener CPO makes: HTTP:80, or TERMINATED_HTTPS:443 with the first TLS secret as
    the default certificate and every one for SNI; allowed CIDRs and the timeouts that are
    set as listener attributes (updated in place when they change)."""
    attributes: dict[str, Any] = {"allowed_cidrs": list(settings.allowed_cidrs)}
    attributes.update(dict(settings.timeouts))
    if tls_refs:
        attributes["default_tls_container_ref"] = tls_refs[0]
        attributes["sni_container_refs"] = list(tls_refs)
        return ListenerSpec(resource, "TERMINATED_HTTPS", HTTPS_PORT, attributes)
    return ListenerSpec(resource, "HTTP", HTTP_PORT, attributes)


def _with_kind(ingress: Mapping[str, Any]) -> Mapping[str, Any]:
    if ingress.get("kind"):
        return ingress
    return {**ingress, "kind": "Ingress", "apiVersion": "networking.k8s.io/v1"}
