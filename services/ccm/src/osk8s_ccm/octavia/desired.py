"""The Octavia tree a Service wants: one listener per port, its pool, members and monitor
(CPO §1.4.5), as frozen values with their request bodies. Pure: the reconcile in ``tree``
compares these with what Octavia has; the fully populated create sends them in one body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from osk8s_ccm.octavia import naming
from osk8s_ccm.octavia.features import OctaviaFeatures

TIMEOUT_KEYS: Final = (
    "timeout_client_data",
    "timeout_member_connect",
    "timeout_member_data",
    "timeout_tcp_inspect",
)


@dataclass(frozen=True)
class MemberSpec:
    name: str
    address: str
    port: int
    subnet_id: str | None = None
    monitor_port: int | None = None

    @property
    def key(self) -> tuple[str, int]:
        """Octavia's uniqueness rule within a pool."""
        return (self.address, self.port)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "address": self.address,
            "protocol_port": self.port,
        }
        if self.subnet_id:
            out["subnet_id"] = self.subnet_id
        if self.monitor_port:
            out["monitor_port"] = self.monitor_port
        return out


@dataclass(frozen=True)
class MonitorSpec:
    name: str
    type: str
    delay: int
    timeout: int
    max_retries: int
    max_retries_down: int
    http_method: str | None = None
    url_path: str | None = None
    expected_codes: str | None = None

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "delay": self.delay,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "max_retries_down": self.max_retries_down,
        }
        if self.type == "HTTP":
            out.update(
                http_method=self.http_method,
                url_path=self.url_path,
                expected_codes=self.expected_codes,
            )
        return out

    def updatable(self) -> dict[str, Any]:
        """What an in-place update may change (the type needs a new monitor)."""
        return {k: v for k, v in self.body().items() if k != "type"}


@dataclass(frozen=True)
class PoolSpec:
    name: str
    protocol: str
    lb_algorithm: str
    session_persistence: Mapping[str, str] | None = None
    members: tuple[MemberSpec, ...] = ()
    monitor: MonitorSpec | None = None

    def body(self, *, with_children: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "protocol": self.protocol,
            "lb_algorithm": self.lb_algorithm,
        }
        if self.session_persistence:
            out["session_persistence"] = dict(self.session_persistence)
        if with_children:
            if self.members:
                out["members"] = [m.body() for m in self.members]
            if self.monitor is not None:
                out["healthmonitor"] = self.monitor.body()
        return out


@dataclass(frozen=True)
class ListenerSpec:
    name: str
    protocol: str
    port: int
    pool: PoolSpec
    connection_limit: int = -1
    tags: tuple[str, ...] = ()
    timeouts: Mapping[str, int] = field(default_factory=dict)
    allowed_cidrs: tuple[str, ...] | None = None
    insert_headers: Mapping[str, str] | None = None
    default_tls_container_ref: str | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.protocol, self.port)

    def attributes(self) -> dict[str, Any]:
        """The listener's own attributes (no pool), as sent and as compared."""
        out: dict[str, Any] = {
            "name": self.name,
            "protocol": self.protocol,
            "protocol_port": self.port,
            "connection_limit": self.connection_limit,
            **dict(self.timeouts),
        }
        if self.tags:
            out["tags"] = list(self.tags)
        if self.allowed_cidrs is not None:
            out["allowed_cidrs"] = list(self.allowed_cidrs)
        if self.insert_headers is not None:
            out["insert_headers"] = dict(self.insert_headers)
        if self.default_tls_container_ref:
            out["default_tls_container_ref"] = self.default_tls_container_ref
        return out

    def body(self) -> dict[str, Any]:
        """For a fully populated LB create: the listener with its default pool tree."""
        return {**self.attributes(), "default_pool": self.pool.body(with_children=True)}


@dataclass(frozen=True)
class NodeTarget:
    """A member-to-be: a node's name and the address CCM picked for it."""

    name: str
    address: str


@dataclass(frozen=True)
class TreeOptions:
    """Everything of a Service's effective settings that shapes its listeners and pools."""

    lb_name: str
    lb_algorithm: str = "ROUND_ROBIN"
    connection_limit: int = -1
    proxy_protocol: str | None = None
    """None, ``PROXY`` or ``PROXYV2``."""
    x_forwarded_for: bool = False
    tls_container_ref: str | None = None
    timeouts: Mapping[str, int] = field(default_factory=dict)
    allowed_cidrs: tuple[str, ...] = ()
    session_affinity_client_ip: bool = False
    member_subnet_id: str | None = None
    health_monitor: bool = False
    monitor_delay: int = 5
    monitor_timeout: int = 3
    monitor_max_retries: int = 1
    monitor_max_retries_down: int = 3
    health_check_node_port: int = 0
    """Non-zero only with ``externalTrafficPolicy: Local``."""
    serial_member_names: bool = False


@dataclass(frozen=True)
class PortTarget:
    protocol: str
    port: int
    node_port: int


def listener_protocol(port_protocol: str, opts: TreeOptions) -> str:
    if opts.tls_container_ref:
        return "TERMINATED_HTTPS"
    if opts.x_forwarded_for:
        return "HTTP"
    return port_protocol.upper()


def pool_protocol(listener_protocol_: str, opts: TreeOptions) -> str:
    if opts.proxy_protocol:
        return opts.proxy_protocol
    if opts.x_forwarded_for or opts.tls_container_ref:
        return "HTTP"
    return listener_protocol_


def use_http_monitor(port_protocol: str, opts: TreeOptions, features: OctaviaFeatures) -> bool:
    """ETP Local with a health-check node port: probe kube-proxy's /healthz (CPO #1720)."""
    if not (opts.health_monitor and opts.health_check_node_port and features.http_monitors):
        return False
    return port_protocol.upper() != "UDP" or features.http_monitor_on_udp


def monitor_spec(
    index: int, port_protocol: str, opts: TreeOptions, features: OctaviaFeatures
) -> MonitorSpec | None:
    if not opts.health_monitor:
        return None
    monitor = MonitorSpec(
        name=naming.monitor_name(index, opts.lb_name),
        type="UDP-CONNECT" if port_protocol.upper() == "UDP" else "TCP",
        delay=opts.monitor_delay,
        timeout=opts.monitor_timeout,
        max_retries=opts.monitor_max_retries,
        max_retries_down=opts.monitor_max_retries_down,
    )
    if use_http_monitor(port_protocol, opts, features):
        return replace(
            monitor, type="HTTP", http_method="GET", url_path="/healthz", expected_codes="200"
        )
    return monitor


def member_specs(
    port: PortTarget,
    nodes: Sequence[NodeTarget],
    opts: TreeOptions,
    *,
    monitor_port: int | None,
) -> tuple[MemberSpec, ...]:
    """One member per node at its nodePort; none when no nodePort is allocated."""
    if not port.node_port:
        return ()
    members = {
        (n.address, port.node_port): MemberSpec(
            name=naming.member_name(n.name, n.address, port.node_port)
            if opts.serial_member_names
            else n.name,
            address=n.address,
            port=port.node_port,
            subnet_id=opts.member_subnet_id,
            monitor_port=monitor_port,
        )
        for n in nodes
    }
    return tuple(sorted(members.values(), key=lambda m: m.key))


def listener_specs(
    ports: Sequence[PortTarget],
    nodes: Sequence[NodeTarget],
    opts: TreeOptions,
    features: OctaviaFeatures,
) -> tuple[ListenerSpec, ...]:
    """The listener tree of every port, in port order (the index is part of the names)."""
    out = []
    for index, port in enumerate(ports):
        lprotocol = listener_protocol(port.protocol, opts)
        monitor = monitor_spec(index, port.protocol, opts, features)
        http_probe = monitor is not None and monitor.type == "HTTP"
        pool = PoolSpec(
            name=naming.pool_name(index, opts.lb_name),
            protocol=pool_protocol(lprotocol, opts),
            lb_algorithm=opts.lb_algorithm,
            session_persistence={"type": "SOURCE_IP"} if opts.session_affinity_client_ip else None,
            members=member_specs(
                port, nodes, opts, monitor_port=opts.health_check_node_port if http_probe else None
            ),
            monitor=monitor,
        )
        headers = {"X-Forwarded-For": "true"} if opts.x_forwarded_for else None
        out.append(
            ListenerSpec(
                name=naming.listener_name(index, opts.lb_name),
                protocol=lprotocol,
                port=port.port,
                pool=pool,
                connection_limit=opts.connection_limit,
                tags=(opts.lb_name,) if features.tags else (),
                timeouts=dict(opts.timeouts) if features.timeouts and lprotocol != "UDP" else {},
                allowed_cidrs=tuple(sorted(opts.allowed_cidrs)) if features.vip_acl else None,
                insert_headers=headers if lprotocol in ("HTTP", "TERMINATED_HTTPS") else None,
                default_tls_container_ref=opts.tls_container_ref,
            )
        )
    return tuple(out)
