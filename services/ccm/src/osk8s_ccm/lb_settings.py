"""Per-Service load balancer settings: ``[LoadBalancer]``, ``[LoadBalancerClass]`` and the
Service's annotations merged into one frozen value (§1.4.3 of the CPO anchor).

The config sections are parsed by the core loader (``osk8s_core.config.LoadBalancerOptions`` /
``LoadBalancerClass``); this module only applies annotations on top. Parsing matches CPO: bool
annotations accept exactly ``true``/``false``, ints are Go ``Atoi`` (no spaces), strings are
taken as given even when empty. A bad value never raises: it yields the documented default and
a ``SettingWarning`` (the controller turns it into a Warning event). Values that make any
reconcile unsafe (unknown class, x-forwarded-for with proxy-protocol, bad source ranges) are
``errors``: the provider must refuse the Service rather than guess (CPO fails the sync too).

Precedence (matches CPO; pinned in tests/services/ccm/test_ccm_lb_settings.py):
  * most keys: annotation > config;
  * floating network and floating subnet spec, VIP network and subnet: class > annotation >
    config (CPO docs: "config options included in the class section take precedence over the
    annotations"); the floating subnet spec (id / name pattern / tags) is taken as a group from
    the first level that sets any of the three;
  * member subnet: annotation > class > config (CPO's code: the annotation beats the class);
  * ``[LoadBalancer] internal-lb=true`` forces internal whatever the annotation says.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

from osk8s_ccm import lb_annotations as ann
from osk8s_ccm.lb_provider import IngressPoint, LoadBalancerService
from osk8s_core.config import LoadBalancerClass, LoadBalancerOptions

LB_METHODS = ("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP", "SOURCE_IP_PORT")
ProxyProtocol = Literal["PROXY", "PROXYV2"]
WAIT_LB_ACTIVE_STEPS_ENV = "OCCM_WAIT_LB_ACTIVE_STEPS"
DEFAULT_WAIT_LB_ACTIVE_STEPS = 23

_GO_ATOI = re.compile(r"[+-]?[0-9]+")
_INVALID = "LoadBalancerAnnotationInvalid"
ETP_LOCAL_WITHOUT_MONITOR = "LoadBalancerHealthMonitorMissing"


@dataclass(frozen=True)
class SettingWarning:
    """A value that was ignored; ``reason`` is the Warning event's reason."""

    reason: str
    key: str
    message: str


@dataclass(frozen=True)
class ListenerTimeouts:
    """Listener timeouts in milliseconds (Octavia >= 2.1, never ovn: the provider decides)."""

    client_data: int = 50000
    member_connect: int = 5000
    member_data: int = 50000
    tcp_inspect: int = 0


@dataclass(frozen=True)
class HealthMonitorSettings:
    enabled: bool = False
    delay: int = 5
    """Seconds."""
    timeout: int = 3
    """Seconds."""
    max_retries: int = 1
    max_retries_down: int = 3


@dataclass(frozen=True)
class FloatingSubnetSpec:
    """How to pick the floating IP subnet: ``subnet_id`` beats ``name``/``tags`` (§1.4.6)."""

    subnet_id: str = ""
    name: str = ""
    """Pattern: plain/glob, ``~regex``, leading ``!`` negates."""
    tags: str = ""
    """Comma tags: any-of, leading ``&`` all-of, leading ``!`` negates."""

    @property
    def is_set(self) -> bool:
        return bool(self.subnet_id or self.name or self.tags)


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class ServiceLoadBalancerSettings:
    """Everything configurable about one Service's load balancer, after precedence."""

    class_name: str = ""
    internal: bool = False
    node_selector: Mapping[str, str] = field(default_factory=_empty)
    """Label filter for members; value "" means the key must exist."""
    connection_limit: int = -1
    floating_network_id: str = ""
    floating_subnet: FloatingSubnetSpec = field(default_factory=FloatingSubnetSpec)
    keep_floating_ip: bool = False
    port_id: str = ""
    lb_method: str = "ROUND_ROBIN"
    proxy_protocol: ProxyProtocol | None = None
    network_id: str = ""
    subnet_id: str = ""
    member_subnet_id: str = ""
    """Annotation > class > config ``member-subnet-id`` > config ``subnet-id``; "" = VIP subnet."""
    timeouts: ListenerTimeouts = field(default_factory=ListenerTimeouts)
    x_forwarded_for: bool = False
    flavor_id: str = ""
    availability_zone: str = ""
    health_monitor: HealthMonitorSettings = field(default_factory=HealthMonitorSettings)
    hostname: str = ""
    load_balancer_id: str = ""
    default_tls_container_ref: str = ""
    source_ranges: tuple[str, ...] = ()
    """Normalised CIDRs: spec > annotation > everything of the preferred family."""
    enable_ingress_hostname: bool = False
    ingress_hostname_suffix: str = "nip.io"
    warnings: tuple[SettingWarning, ...] = ()
    errors: tuple[str, ...] = ()
    """Non-empty: do not reconcile this Service (report the errors instead)."""


class _Reader:
    """Reads annotations with CPO's parsing rules, collecting warnings and errors."""

    def __init__(self, annotations: Mapping[str, str]) -> None:
        self._values = annotations
        self.warnings: list[SettingWarning] = []
        self.errors: list[str] = []

    def has(self, key: str) -> bool:
        return key in self._values

    def string(self, key: str, default: str) -> str:
        return self._values.get(key, default)

    def boolean(self, key: str, default: bool) -> bool:
        value = self._values.get(key)
        if value is None:
            return default
        if value in ("true", "false"):
            return value == "true"
        self.warn(key, f"{value!r} is not true or false; using {str(default).lower()}")
        return default

    def integer(self, key: str, default: int) -> int:
        value = self._values.get(key)
        if value is None:
            return default
        if _GO_ATOI.fullmatch(value):
            return int(value)
        self.warn(key, f"{value!r} is not an integer; using {default}")
        return default

    def warn(self, key: str, message: str, reason: str = _INVALID) -> None:
        self.warnings.append(SettingWarning(reason=reason, key=key, message=f"{key}: {message}"))


def parse_node_selector(text: str) -> tuple[Mapping[str, str], list[str]]:
    """``k=v, k2`` → {k: v, k2: ""}; returns the problems of malformed items (skipped)."""
    out: dict[str, str] = {}
    problems: list[str] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        parts = item.split("=")
        if len(parts) > 2 or not parts[0].strip():
            problems.append(f"ignoring malformed selector item {item!r}")
            continue
        out[parts[0].strip()] = parts[1].strip() if len(parts) == 2 else ""
    return MappingProxyType(out), problems


def _proxy_protocol(reader: _Reader) -> ProxyProtocol | None:
    value = reader.string(ann.PROXY_PROTOCOL, "")
    if value in ("true", "v1"):
        return "PROXY"
    if value == "v2":
        return "PROXYV2"
    if value not in ("", "false"):
        reader.warn(ann.PROXY_PROTOCOL, f"{value!r} is not true, v1, v2 or false; PROXY off")
    return None


def _lb_method(reader: _Reader, default: str) -> str:
    value = reader.string(ann.LB_METHOD, default)
    if value in LB_METHODS:
        return value
    reader.warn(
        ann.LB_METHOD,
        f"{value!r} is not one of {', '.join(LB_METHODS)}; using {default}",
        reason="LoadBalancerLbMethodUnknown",
    )
    return default


def _source_ranges(service: LoadBalancerService, reader: _Reader) -> tuple[str, ...]:
    """``spec.loadBalancerSourceRanges`` > annotation > the whole preferred family. A bad CIDR
    is an error, not "allow everything": defaulting would open the LB to the world."""
    if service.load_balancer_source_ranges:
        items: list[str] = [r.strip() for r in service.load_balancer_source_ranges]
        where = "spec.loadBalancerSourceRanges"
    else:
        text = reader.string(ann.SOURCE_RANGES, "").strip()
        items = [r.strip() for r in text.split(",")] if text else []
        where = ann.SOURCE_RANGES
    if not items:
        return ("::/0",) if service.preferred_ip_family == "IPv6" else ("0.0.0.0/0",)
    out: list[str] = []
    for item in items:
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            reader.errors.append(f"{where}: {item!r} is not a CIDR")
    return tuple(out)


def _floating_subnet(
    reader: _Reader, lb_class: LoadBalancerClass | None, config: LoadBalancerOptions
) -> FloatingSubnetSpec:
    if lb_class is not None:
        spec = FloatingSubnetSpec(
            lb_class.floating_subnet_id, lb_class.floating_subnet, lb_class.floating_subnet_tags
        )
        if spec.is_set:
            return spec
    spec = FloatingSubnetSpec(
        reader.string(ann.FLOATING_SUBNET_ID, ""),
        reader.string(ann.FLOATING_SUBNET, ""),
        reader.string(ann.FLOATING_SUBNET_TAGS, ""),
    )
    if spec.is_set:
        return spec
    return FloatingSubnetSpec(
        config.floating_subnet_id, config.floating_subnet, config.floating_subnet_tags
    )


def _class_first(class_value: str, reader: _Reader, key: str, config_value: str) -> str:
    return class_value or reader.string(key, config_value)


def _monitor(reader: _Reader, config: LoadBalancerOptions) -> HealthMonitorSettings:
    # Go: int(Duration.Seconds()) truncates toward zero.
    return HealthMonitorSettings(
        enabled=reader.boolean(ann.ENABLE_HEALTH_MONITOR, config.create_monitor),
        delay=reader.integer(ann.HEALTH_MONITOR_DELAY, int(config.monitor_delay.total_seconds())),
        timeout=reader.integer(
            ann.HEALTH_MONITOR_TIMEOUT, int(config.monitor_timeout.total_seconds())
        ),
        max_retries=reader.integer(ann.HEALTH_MONITOR_MAX_RETRIES, config.monitor_max_retries),
        max_retries_down=reader.integer(
            ann.HEALTH_MONITOR_MAX_RETRIES_DOWN, config.monitor_max_retries_down
        ),
    )


def _timeouts(reader: _Reader) -> ListenerTimeouts:
    d = ListenerTimeouts()
    return ListenerTimeouts(
        client_data=reader.integer(ann.TIMEOUT_CLIENT_DATA, d.client_data),
        member_connect=reader.integer(ann.TIMEOUT_MEMBER_CONNECT, d.member_connect),
        member_data=reader.integer(ann.TIMEOUT_MEMBER_DATA, d.member_data),
        tcp_inspect=reader.integer(ann.TIMEOUT_TCP_INSPECT, d.tcp_inspect),
    )


def _lb_class(
    reader: _Reader, classes: Mapping[str, LoadBalancerClass]
) -> tuple[str, LoadBalancerClass | None]:
    name = reader.string(ann.CLASS, "")
    if not name:
        return "", None
    found = classes.get(name)
    if found is None:
        reader.errors.append(f"{ann.CLASS}: no [LoadBalancerClass {name!r}] in the cloud config")
    return name, found


def service_settings(
    service: LoadBalancerService,
    config: LoadBalancerOptions,
    classes: Mapping[str, LoadBalancerClass],
) -> ServiceLoadBalancerSettings:
    """The effective settings of ``service``; never raises."""
    reader = _Reader(service.annotations)
    class_name, lb_class = _lb_class(reader, classes)
    cls = lb_class or LoadBalancerClass()
    selector, selector_problems = parse_node_selector(
        reader.string(ann.NODE_SELECTOR, config.node_selector)
    )
    for problem in selector_problems:
        reader.warn(ann.NODE_SELECTOR, problem)
    internal = reader.boolean(ann.INTERNAL, config.internal_lb) or config.internal_lb
    proxy = _proxy_protocol(reader)
    xff = reader.boolean(ann.X_FORWARDED_FOR, False)
    if xff and proxy is not None:
        reader.errors.append(
            f"{ann.X_FORWARDED_FOR} cannot be combined with {ann.PROXY_PROTOCOL}: choose one"
        )
    member_subnet = reader.string(ann.MEMBER_SUBNET_ID, "") or cls.member_subnet_id
    result = ServiceLoadBalancerSettings(
        class_name=class_name,
        internal=internal,
        node_selector=selector,
        connection_limit=reader.integer(ann.CONNECTION_LIMIT, -1),
        floating_network_id=_class_first(
            cls.floating_network_id, reader, ann.FLOATING_NETWORK_ID, config.floating_network_id
        ),
        floating_subnet=_floating_subnet(reader, lb_class, config),
        keep_floating_ip=reader.boolean(ann.KEEP_FLOATING_IP, False),
        port_id=reader.string(ann.PORT_ID, ""),
        lb_method=_lb_method(reader, config.lb_method),
        proxy_protocol=proxy,
        network_id=_class_first(cls.network_id, reader, ann.NETWORK_ID, config.network_id),
        subnet_id=_class_first(cls.subnet_id, reader, ann.SUBNET_ID, config.subnet_id),
        member_subnet_id=member_subnet or config.member_subnet_id or config.subnet_id,
        timeouts=_timeouts(reader),
        x_forwarded_for=xff,
        flavor_id=reader.string(ann.FLAVOR_ID, config.flavor_id),
        availability_zone=reader.string(ann.AVAILABILITY_ZONE, config.availability_zone),
        health_monitor=_monitor(reader, config),
        hostname=reader.string(ann.HOSTNAME, ""),
        load_balancer_id=reader.string(ann.LOAD_BALANCER_ID, ""),
        default_tls_container_ref=reader.string(
            ann.DEFAULT_TLS_CONTAINER_REF, config.default_tls_container_ref
        ),
        source_ranges=_source_ranges(service, reader),
        enable_ingress_hostname=reader.boolean(
            ann.ENABLE_INGRESS_HOSTNAME, config.enable_ingress_hostname
        ),
        ingress_hostname_suffix=config.ingress_hostname_suffix,
    )
    return _with_findings(result, reader, service)


def _with_findings(
    result: ServiceLoadBalancerSettings, reader: _Reader, service: LoadBalancerService
) -> ServiceLoadBalancerSettings:
    if service.external_traffic_policy == "Local" and not result.health_monitor.enabled:
        # osk8s (CPO #2866): without a monitor the LB keeps sending to nodes with no endpoint.
        reader.warn(
            ann.ENABLE_HEALTH_MONITOR,
            "externalTrafficPolicy Local needs a health monitor, or traffic to nodes without a"
            f' ready endpoint is dropped: set annotation {ann.ENABLE_HEALTH_MONITOR}: "true"'
            " (or [LoadBalancer] create-monitor=true in the cloud config)",
            reason=ETP_LOCAL_WITHOUT_MONITOR,
        )
    return replace(result, warnings=tuple(reader.warnings), errors=tuple(reader.errors))


def ingress_for(address: str, settings: ServiceLoadBalancerSettings) -> tuple[IngressPoint, ...]:
    """``status.loadBalancer.ingress`` for the advertised ``address`` (§1.4.4 step 13):
    the ``hostname`` annotation alone; PROXY with ingress-hostname (config or, osk8s, the
    per-Service annotation) → ``<address>.<suffix>``; PROXY → IP with ipMode Proxy; else VIP."""
    if settings.hostname:
        return (IngressPoint(hostname=settings.hostname),)
    if settings.proxy_protocol is not None:
        if settings.enable_ingress_hostname:
            return (IngressPoint(hostname=f"{address}.{settings.ingress_hostname_suffix}"),)
        return (IngressPoint(ip=address, ip_mode="Proxy"),)
    return (IngressPoint(ip=address, ip_mode="VIP"),)


def wait_lb_active_steps(environ: Mapping[str, str]) -> tuple[int, str | None]:
    """``OCCM_WAIT_LB_ACTIVE_STEPS`` (default 23); a bad value → default and a warning text."""
    value = environ.get(WAIT_LB_ACTIVE_STEPS_ENV)
    if value is None or value == "":
        return DEFAULT_WAIT_LB_ACTIVE_STEPS, None
    if _GO_ATOI.fullmatch(value) and int(value) > 0:
        return int(value), None
    return DEFAULT_WAIT_LB_ACTIVE_STEPS, (
        f"{WAIT_LB_ACTIVE_STEPS_ENV}={value!r} is not a positive integer; "
        f"using {DEFAULT_WAIT_LB_ACTIVE_STEPS}"
    )
