"""Frozen dataclasses for every cloud.conf section besides ``[Global]`` (see ``auth``).

Each field names its INI key, unit and default through ``setting()``; defaults match CPO's
explicit defaults. These are plain values: no file access, no validation across sections
(components check what they need at start-up), nothing that talks to OpenStack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from osk8s_core.config.auth import AuthOptions
from osk8s_core.config.fields import setting
from osk8s_core.config.values import parse_lb_version, parse_search_order

_S = timedelta(seconds=1)


@dataclass(frozen=True)
class LoadBalancerOptions:
    """``[LoadBalancer]`` (OCCM): how Services of type LoadBalancer map to Octavia."""

    enabled: bool = setting("enabled", True, "false: OCCM offers no LoadBalancer interface.")
    lb_version: str = setting(
        "lb-version", "", "Only empty or v2 (anything else is refused).", parse=parse_lb_version
    )
    lb_provider: str = setting(
        "lb-provider", "amphora", "Octavia provider: amphora, octavia, ovn, f5, amphorav2."
    )
    lb_method: str = setting("lb-method", "ROUND_ROBIN", "Pool algorithm (ovn: SOURCE_IP_PORT).")
    subnet_id: str = setting("subnet-id", "", "VIP subnet; member subnet fallback.")
    member_subnet_id: str = setting("member-subnet-id", "", "Member subnet.")
    network_id: str = setting("network-id", "", "VIP network when no subnet-id.")
    floating_network_id: str = setting(
        "floating-network-id", "", "External network for floating IPs (empty: autodetect)."
    )
    floating_subnet_id: str = setting("floating-subnet-id", "", "Floating IP subnet id.")
    floating_subnet: str = setting(
        "floating-subnet", "", "Floating subnet name pattern: glob, ~regex, leading ! negates."
    )
    floating_subnet_tags: str = setting(
        "floating-subnet-tags", "", "Comma tags; any-of, leading & all-of, leading ! negates."
    )
    create_monitor: bool = setting("create-monitor", False, "Create health monitors by default.")
    monitor_delay: timedelta = setting(
        "monitor-delay", 5 * _S, "Health monitor delay (Go duration).", unit="seconds"
    )
    monitor_timeout: timedelta = setting(
        "monitor-timeout", 3 * _S, "Health monitor timeout (Go duration).", unit="seconds"
    )
    monitor_max_retries: int = setting("monitor-max-retries", 1, "Health monitor max retries.")
    monitor_max_retries_down: int = setting(
        "monitor-max-retries-down", 3, "Health monitor max retries down."
    )
    manage_security_groups: bool = setting(
        "manage-security-groups", False, "Per-Service security group on node ports."
    )
    internal_lb: bool = setting("internal-lb", False, "Force every Service internal.")
    node_selector: str = setting(
        "node-selector", "", "Member node label filter: 'k=v, k2' (key only: exists)."
    )
    cascade_delete: bool = setting("cascade-delete", True, "Use Octavia cascade delete.")
    flavor_id: str = setting("flavor-id", "", "Octavia flavor (API >= 2.6, not ovn).")
    availability_zone: str = setting(
        "availability-zone", "", "Octavia availability zone (API >= 2.14, not ovn)."
    )
    enable_ingress_hostname: bool = setting(
        "enable-ingress-hostname", False, "PROXY protocol: status hostname <ip>.<suffix>."
    )
    ingress_hostname_suffix: str = setting(
        "ingress-hostname-suffix", "nip.io", "Suffix for enable-ingress-hostname."
    )
    default_tls_container_ref: str = setting(
        "default-tls-container-ref", "", "Barbican container/secret URL for TERMINATED_HTTPS."
    )
    container_store: str = setting(
        "container-store", "barbican", "barbican (validates the ref) or external."
    )
    max_shared_lb: int = setting("max-shared-lb", 2, "Max Services sharing one load balancer.")
    provider_requires_serial_api_calls: bool = setting(
        "provider-requires-serial-api-calls",
        False,
        "No fully populated create: LB, then listeners, pools, members one by one.",
    )


@dataclass(frozen=True)
class LoadBalancerClass:
    """``[LoadBalancerClass "NAME"]``: per-class overrides chosen by a Service annotation."""

    floating_network_id: str = setting("floating-network-id", "", "External network.")
    floating_subnet_id: str = setting("floating-subnet-id", "", "Floating IP subnet id.")
    floating_subnet: str = setting("floating-subnet", "", "Floating subnet name pattern.")
    floating_subnet_tags: str = setting("floating-subnet-tags", "", "Floating subnet tags.")
    network_id: str = setting("network-id", "", "VIP network.")
    subnet_id: str = setting("subnet-id", "", "VIP subnet.")
    member_subnet_id: str = setting("member-subnet-id", "", "Member subnet.")


@dataclass(frozen=True)
class BlockStorageOptions:
    """``[BlockStorage]`` (cinder CSI; accepted and ignored by OCCM)."""

    node_volume_attach_limit: int = setting(
        "node-volume-attach-limit", 0, "Max volumes per node; 0: default (256), clamped to 256."
    )
    rescan_on_resize: bool = setting(
        "rescan-on-resize", False, "Rescan the block device and check size before FS resize."
    )
    ignore_volume_az: bool = setting(
        "ignore-volume-az", False, "PV topology = requested topology instead of volume AZ."
    )
    ignore_volume_microversion: bool = setting(
        "ignore-volume-microversion", False, "Do not set cinder microversions 3.34/3.42/3.51."
    )


@dataclass(frozen=True)
class MetadataOptions:
    """``[Metadata]``: where instance metadata comes from, and OCCM's HTTP client timeout."""

    search_order: tuple[str, ...] = setting(
        "search-order",
        ("configDrive", "metadataService"),
        "1-2 comma items of configDrive, metadataService.",
        parse=parse_search_order,
    )
    request_timeout: timedelta = setting(
        "request-timeout",
        60 * _S,
        "HTTP timeout; OCCM applies it to every OpenStack call (Go duration).",
        unit="seconds",
    )


@dataclass(frozen=True)
class RouteOptions:
    """``[Route]``: the Neutron router whose static routes carry pod CIDRs."""

    router_id: str = setting("router-id", "", "Router id; empty disables the routes controller.")


@dataclass(frozen=True)
class NetworkingOptions:
    """``[Networking]``: how node addresses are derived from server ports."""

    ipv6_support_disabled: bool = setting(
        "ipv6-support-disabled", False, "Drop IPv6 node addresses."
    )
    public_network_name: tuple[str, ...] = setting(
        "public-network-name", (), "Networks whose addresses are ExternalIP.", repeatable=True
    )
    internal_network_name: tuple[str, ...] = setting(
        "internal-network-name", (), "Only these networks yield InternalIP.", repeatable=True
    )
    address_sort_order: str = setting(
        "address-sort-order", "", "Comma list of CIDRs to sort node addresses by."
    )


@dataclass(frozen=True)
class KeyManagerOptions:
    """``[KeyManager]`` (Barbican KMS): the current key and older keys still able to decrypt."""

    key_id: str = setting("key-id", "", "Barbican secret UUID used to encrypt.")
    old_key_ids: tuple[str, ...] = setting(
        "old-key-id", (), "Previous key ids kept for decryption during rotation.", repeatable=True
    )
    write_format: str = setting(
        "write-format",
        "aes-cbc",
        "Ciphertext Encrypt writes: aes-cbc (CPO's, the default) or envelope (osk8s, AES-GCM).",
    )


@dataclass(frozen=True)
class ConfigWarning:
    """Something the loader ignored (unknown section or key) or thinks doubtful."""

    file: str
    line: int
    section: str
    key: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line} [{self.section}]"
        return f"{where} {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


def _no_auth() -> Mapping[str, AuthOptions]:
    return MappingProxyType({})


def _no_classes() -> Mapping[str, LoadBalancerClass]:
    return MappingProxyType({})


@dataclass(frozen=True)
class CloudConfig:
    """A whole cloud.conf (one or several files merged). ``auth`` is keyed by the ``[Global]``
    subsection name, ``""`` for the plain ``[Global]``."""

    auth: Mapping[str, AuthOptions] = field(default_factory=_no_auth)
    load_balancer: LoadBalancerOptions = field(default_factory=LoadBalancerOptions)
    load_balancer_classes: Mapping[str, LoadBalancerClass] = field(default_factory=_no_classes)
    block_storage: BlockStorageOptions = field(default_factory=BlockStorageOptions)
    metadata: MetadataOptions = field(default_factory=MetadataOptions)
    route: RouteOptions = field(default_factory=RouteOptions)
    networking: NetworkingOptions = field(default_factory=NetworkingOptions)
    key_manager: KeyManagerOptions = field(default_factory=KeyManagerOptions)

    @property
    def global_(self) -> AuthOptions:
        """The plain ``[Global]`` section (OCCM, KMS); empty options when absent."""
        return self.auth.get("", AuthOptions())
