"""The control-plane endpoint (capo.md §2.2) and the API server load balancer (§2.3).

LB, listeners, pools and monitors are named ``k8s-clusterapi-cluster-<ns>-<name>-kubeapi``
and ``…-kubeapi-<port>`` and found by name before any create. The floating IP is found by
its description (unique per cluster) so a crash between its create and the status write
adopts it; it is written to status before it is attached. A user-given
``apiServer.floatingIP`` is used, never deleted.

Events as CAPO's (``pkg/cloud/services/loadbalancer``): ``SuccessfulCreateListener``/``Pool``/
``Monitor`` and ``SuccessfulUpdateListener``/``Monitor`` when this pass made or changed one
(``tell``); ``OctaviaProviderNotFound``/``OctaviaFlavorNotFound`` when a create falls back to
Octavia's default and ``FailedIPAddressValidation`` per allowed CIDR dropped (``warn``: found
again on every pass until the spec changes, so the caller tells each once per half hour).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final, Protocol

from osk8s_capo import naming
from osk8s_capo.cluster_network import ClusterRef, NetworkError
from osk8s_capo.scope import Scope
from osk8s_core.errors import OpenStackError, Osk8sError
from osk8s_core.openstack.lb_catalog import LbFlavor
from osk8s_core.openstack.loadbalancers import LoadBalancerSpec

DEFAULT_PORT: Final = 6443
NOT_IMPLEMENTED: Final = 501
MONITOR_DEFAULTS: Final = {"delay": 10, "timeout": 5, "maxRetries": 5, "maxRetriesDown": 3}

Tell = Callable[[str, str], None]
"""(reason, message) of an event on the OpenStackCluster: Normal for ``tell``, Warning for
``warn``."""


def _quiet(reason: str, message: str) -> None:
    del reason, message


class LbCatalog(Protocol):
    """What a create needs to know of Octavia (``osk8s_core.openstack.lb_catalog``)."""

    def provider_names(self) -> list[str]: ...

    def flavors(self) -> list[LbFlavor]: ...


def api_port(spec: Mapping[str, Any]) -> int:
    """``controlPlaneEndpoint.port`` if valid, else ``apiServer.port``, else 6443."""
    endpoint = spec.get("controlPlaneEndpoint") or {}
    if endpoint.get("port"):
        return int(endpoint["port"])
    return int((spec.get("apiServer") or {}).get("port") or DEFAULT_PORT)


def lb_enabled(spec: Mapping[str, Any]) -> bool:
    lb = (spec.get("apiServer") or {}).get("managedLoadBalancer")
    return lb is not None and lb.get("enabled", True) is not False


def floating_ip_enabled(spec: Mapping[str, Any], external: Mapping[str, Any] | None) -> bool:
    api = spec.get("apiServer") or {}
    return external is not None and api.get("enableFloatingIP", True) is not False


def fip_description(cluster: ClusterRef) -> str:
    """Our marker on the API floating IP (adoption and cleanup by description)."""
    return f"{cluster.description} kubeapi"


def api_floating_ip(
    scope: Scope,
    cluster: ClusterRef,
    spec: Mapping[str, Any],
    external: Mapping[str, Any],
    known: str,
) -> Any:
    """Get or create the API FIP: the user's address, else the one in status, else ours by
    description, else a new one."""
    fips = scope.floating_ips
    wanted = (spec.get("apiServer") or {}).get("floatingIP") or known
    if wanted:
        found = fips.query(floating_ip_address=wanted)
        if found:
            return found[0]
        # CAPO creates a requested address that does not exist (needs admin rights).
        return fips.create(external["id"], description=fip_description(cluster), address=wanted)
    return fips.create(external["id"], description=fip_description(cluster))


def allowed_cidrs(
    user: list[str], network: Mapping[str, Any], router_ips: list[str]
) -> tuple[list[str], list[str]]:
    """``getCanonicalAllowedCIDRs``: the user's CIDRs plus the cluster subnets and the router's
    gateway IPs (nodes reach the API through it), bare IPs as /32 (/128), invalid entries
    dropped; sorted and unique. Returns (cidrs, dropped)."""
    wanted = [*user, *[s["cidr"] for s in network.get("subnets") or []], *router_ips]
    out: set[str] = set()
    dropped = []
    for item in wanted:
        try:
            out.add(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            dropped.append(item)
    return sorted(out), dropped


def invalid_cidr_warning(entry: str) -> tuple[str, str]:
    """CAPO's event for an allowed CIDR it drops (we also take IPv6, hence "IP")."""
    return (
        "FailedIPAddressValidation",
        f"{entry} is not a valid IP nor CIDR address and will not get applied to allowed_cidrs",
    )


def provider_and_flavor(
    catalog: LbCatalog, settings: Mapping[str, Any], warn: Tell = _quiet
) -> tuple[str | None, str | None]:
    """``getOrCreateAPILoadBalancer``: the provider matched by name among Octavia's, the
    flavor by name among the enabled ones; one not found is a warning and Octavia's default
    (None). Looked up only for what the spec names."""
    provider: str | None = None
    flavor_id: str | None = None
    wanted = settings.get("provider")
    if wanted:
        if wanted in catalog.provider_names():
            provider = str(wanted)
        else:
            warn(
                "OctaviaProviderNotFound",
                f"Provider {wanted} specified for Octavia not found, using the default provider.",
            )
    flavor = settings.get("flavor")
    if flavor:
        found = [f.id for f in catalog.flavors() if f.enabled and f.name == flavor]
        if found:
            flavor_id = found[0]
        else:
            warn(
                "OctaviaFlavorNotFound",
                f"Flavor {flavor} specified for Octavia not found, using the default flavor.",
            )
    return provider, flavor_id


@contextmanager
def _lb_step(lb_name: str, event: str) -> Iterator[None]:
    """An OpenStack failure inside is ``APIEndpointReady=False/LoadBalancerFailed``, told as
    CAPO's Warning ``event`` (``FailedCreateListener``...)."""
    try:
        yield
    except NetworkError:
        raise
    except Osk8sError as exc:
        raise NetworkError(
            "LoadBalancerFailed",
            f"load balancer {lb_name}: {exc}",
            condition="APIEndpointReady",
            event=event,
        ) from exc


def reconcile_load_balancer(
    scope: Scope,
    cluster: ClusterRef,
    spec: Mapping[str, Any],
    *,
    network: Mapping[str, Any],
    external: Mapping[str, Any] | None,
    previous: Mapping[str, Any],
    save: Callable[[dict[str, Any]], None],
    router_ips: list[str] | None = None,
    tell: Tell = _quiet,
    warn: Tell = _quiet,
) -> dict[str, Any]:
    """Ensure the LB tree and its FIP; ``save`` persists partial status (IDs, FIP) at once.
    Returns status ``apiServerManagedLoadBalancer``."""
    name = naming.load_balancer_name(cluster.namespace, cluster.name)
    settings = (spec.get("apiServer") or {}).get("managedLoadBalancer") or {}
    subnets = network.get("subnets") or []
    if not subnets:
        raise NetworkError(
            "LoadBalancerFailed", "cluster network has no subnet", condition="APIEndpointReady"
        )
    tags = list(spec.get("tags") or [])
    with _lb_step(name, "FailedCreateLoadBalancer"):
        lb = _ensure_load_balancer(
            scope, cluster, spec, vip_subnet=subnets[0]["id"], previous=previous, warn=warn
        )
    # The provider the LB really has (the spec's may have fallen back to the default).
    ovn = str(getattr(lb, "provider", "") or "") == "ovn"
    status: dict[str, Any] = {
        "id": lb.id,
        "name": lb.name,
        "internalIP": lb.vip_address,
        "loadBalancerNetwork": {
            "id": network["id"],
            "name": network.get("name", ""),
            "subnets": subnets,
        },
    }
    if tags:
        status["tags"] = tags
    # VIP ACLs only when asked for, and never on OVN (CAPO: Octavia >= 2.12, not ovn).
    acl: list[str] | None = None
    if settings.get("allowedCIDRs") and not ovn:
        acl, dropped = allowed_cidrs(
            list(settings["allowedCIDRs"]), network, list(router_ips or [])
        )
        for entry in dropped:
            warn(*invalid_cidr_warning(entry))
        status["allowedCIDRs"] = acl
    if floating_ip_enabled(spec, external):
        assert external is not None
        with _lb_step(name, "FailedCreateFloatingIP"):
            fip = api_floating_ip(scope, cluster, spec, external, str(previous.get("ip") or ""))
        status["ip"] = fip.floating_ip_address
        save(status)  # written before the attach: a failure later cannot leak it
        scope.crash_points.reach("floating_ip_saved.after")
        if fip.port_id != lb.vip_port_id:
            with _lb_step(name, "FailedAssociateFloatingIP"):
                scope.floating_ips.associate(fip.id, lb.vip_port_id)
    else:
        # No floating IP: the schema requires ``ip``; the VIP is the address to use.
        status["ip"] = lb.vip_address
        save(status)
    ports = [api_port(spec), *[int(p) for p in settings.get("additionalPorts") or []]]
    algorithm = "SOURCE_IP_PORT" if ovn else "ROUND_ROBIN"
    monitor = {**MONITOR_DEFAULTS, **(settings.get("monitor") or {})}
    for port in ports:
        _ensure_port(
            scope, lb.id, name, port,
            acl=acl, algorithm=algorithm, monitor=monitor, tell=tell, warn=warn,
        )  # fmt: skip
    return status


def _ensure_load_balancer(
    scope: Scope,
    cluster: ClusterRef,
    spec: Mapping[str, Any],
    *,
    vip_subnet: str,
    previous: Mapping[str, Any],
    warn: Tell,
) -> Any:
    """The API LB, found by name or created (ACTIVE either way)."""
    lbs = scope.load_balancers
    name = naming.load_balancer_name(cluster.namespace, cluster.name)
    settings = (spec.get("apiServer") or {}).get("managedLoadBalancer") or {}
    provider = flavor_id = None
    if (settings.get("provider") or settings.get("flavor")) and lbs.find_by_name(name) is None:
        # As CAPO: chosen when the LB is created, never compared afterwards.
        provider, flavor_id = provider_and_flavor(scope.lb_catalog, settings, warn)
    return lbs.create(
        LoadBalancerSpec(
            name=name,
            vip_subnet_id=vip_subnet,
            vip_address=previous.get("internalIP") or (spec.get("apiServer") or {}).get("fixedIP"),
            description=cluster.description,
            provider=provider,
            flavor_id=flavor_id,
            availability_zone=settings.get("availabilityZone"),
            tags=list(spec.get("tags") or []),
        )
    )


def _ensure_port(
    scope: Scope,
    lb_id: str,
    lb_name: str,
    port: int,
    *,
    acl: list[str] | None,
    algorithm: str,
    monitor: Mapping[str, int],
    tell: Tell,
    warn: Tell,
) -> None:
    """Listener, pool and monitor ``<lb>-<port>`` of one port, each found by name before a
    create; each failure told as CAPO's ``Failed<Create|Update><Kind>``."""
    children = scope.lb_children
    child = naming.lb_port_name(lb_name, port)
    # Look first: the creates wait for ACTIVE around them even when nothing is made.
    with _lb_step(lb_name, "FailedCreateListener"):
        listener = children.find_listener(lb_id, child)
        if listener is None:
            extra: dict[str, Any] = {"allowed_cidrs": acl} if acl is not None else {}
            listener = children.create_listener(lb_id, child, protocol="TCP", port=port, **extra)
            tell("SuccessfulCreateListener", f"Created listener {child} with id {listener.id}")
    if acl is not None and sorted(listener.allowed_cidrs or []) != acl:
        with _lb_step(lb_name, "FailedUpdateListener"):
            _update_listener_acl(scope, lb_id, listener.id, acl)
        tell(
            "SuccessfulUpdateListener",
            f"Updated allowed_cidrs [{' '.join(acl)}] for listener {child} with id {listener.id}",
        )
    with _lb_step(lb_name, "FailedCreatePool"):
        pool = children.find_pool(lb_id, child)
        if pool is None:
            pool = children.create_pool(
                lb_id, child, protocol="TCP", lb_algorithm=algorithm, listener_id=listener.id
            )
            tell("SuccessfulCreatePool", f"Created pool {child} with id {pool.id}")
    _ensure_monitor(scope, lb_id, pool.id, child, monitor, lb_name=lb_name, tell=tell, warn=warn)


def _update_listener_acl(scope: Scope, lb_id: str, listener_id: str, acl: list[str]) -> None:
    api = scope.load_balancers.api
    scope.load_balancers.wait_active(lb_id)
    scope.client.call(
        "loadbalancer_listener_update",
        lambda: api.update_listener(listener_id, allowed_cidrs=acl),
    )
    scope.load_balancers.wait_active(lb_id)


def _ensure_monitor(
    scope: Scope,
    lb_id: str,
    pool_id: str,
    name: str,
    monitor: Mapping[str, int],
    *,
    lb_name: str,
    tell: Tell = _quiet,
    warn: Tell = _quiet,
) -> None:
    """The pool's TCP monitor: created, or its timings updated to the spec's, as CAPO's
    ensureMonitor (``Successful``/``Failed`` + ``CreateMonitor``/``UpdateMonitor``)."""
    children = scope.lb_children
    wanted = {
        "delay": int(monitor["delay"]),
        "timeout": int(monitor["timeout"]),
        "max_retries": int(monitor["maxRetries"]),
        "max_retries_down": int(monitor["maxRetriesDown"]),
    }
    with _lb_step(lb_name, "FailedCreateMonitor"):
        found = children.find_health_monitor(pool_id)
        if found is None:
            try:
                made = children.create_health_monitor(
                    lb_id,
                    pool_id,
                    monitor_type="TCP",
                    delay=wanted["delay"],
                    timeout=wanted["timeout"],
                    max_retries=wanted["max_retries"],
                    max_retries_down=wanted["max_retries_down"],
                    name=name,
                )
            except OpenStackError as exc:
                if exc.status != NOT_IMPLEMENTED:
                    raise
                # CAPO: a provider without health monitors (e.g. some OVN setups) is no error.
                warn(
                    "SkippedCreateMonitor",
                    "Health Monitor is not created as it's not implemented with the current "
                    "Octavia provider.",
                )
                return
            tell("SuccessfulCreateMonitor", f"Created monitor {name} with id {made.id}")
            return
    changed = {k: v for k, v in wanted.items() if getattr(found, k, None) != v}
    if not changed:
        return
    with _lb_step(lb_name, "FailedUpdateMonitor"):
        api = scope.load_balancers.api
        scope.load_balancers.wait_active(lb_id)
        scope.client.call(
            "loadbalancer_healthmonitor_update",
            lambda: api.update_health_monitor(found.id, **changed),
        )
        scope.load_balancers.wait_active(lb_id)
    tell("SuccessfulUpdateMonitor", f"Updated monitor {name} with id {found.id}")


def reconcile_endpoint(
    scope: Scope,
    cluster: ClusterRef,
    spec: Mapping[str, Any],
    *,
    external: Mapping[str, Any] | None,
    lb_status: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The decision table of §2.2; returns ``{host, port}``."""
    port = api_port(spec)
    if lb_status is not None:
        host = lb_status.get("ip") or lb_status.get("internalIP")
        return {"host": host, "port": port}
    endpoint = spec.get("controlPlaneEndpoint") or {}
    if endpoint.get("host") and endpoint.get("port"):
        return {"host": endpoint["host"], "port": int(endpoint["port"])}
    if floating_ip_enabled(spec, external):
        assert external is not None
        try:
            fip = api_floating_ip(scope, cluster, spec, external, "")
        except Osk8sError as exc:
            raise NetworkError(
                "FloatingIPError", f"API floating IP: {exc}", condition="APIEndpointReady"
            ) from exc
        return {"host": fip.floating_ip_address, "port": port}
    fixed = (spec.get("apiServer") or {}).get("fixedIP")
    if fixed:
        return {"host": fixed, "port": port}
    raise NetworkError(
        "APIEndpointConfigFailed",
        "unable to determine control plane endpoint",
        condition="APIEndpointReady",
    )
