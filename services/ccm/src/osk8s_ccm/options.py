"""The process options of ``openstack-cloud-controller-manager``, parsed once from the flags.

``options_from_args`` turns the parsed command line into a frozen ``CcmOptions`` and checks it
as ``k8s.io/cloud-provider``'s options ``Validate`` does (``--cloud-provider cannot be
empty``, ``"x" is not in the list of known controllers``, ...): every error is collected and
reported at once, and the process exits 1 (``OptionsError``). ``enabled_controllers`` is
upstream's ``IsControllerEnabled``. No file is read and nothing talks to a server here.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from osk8s_core.cli import LogFlags, log_flags
from osk8s_core.cli.secure_serving import secure_serving_options
from osk8s_core.errors import ConfigError
from osk8s_core.k8s.client import KubeClientOptions
from osk8s_core.k8s.leader import LeaderElectionConfig
from osk8s_core.k8s.secure_serving import SecureServingOptions

PROVIDER_NAME: Final = "openstack"

CONTROLLER_ALIASES: Final = {
    "cloud-node": "cloud-node-controller",
    "cloud-node-lifecycle": "cloud-node-lifecycle-controller",
    "route": "node-route-controller",
    "service": "service-lb-controller",
}
"""k8s.io/cloud-provider's controller names and the canonical names it also accepts."""
KNOWN_CONTROLLERS: Final = tuple(CONTROLLER_ALIASES)


class OptionsError(ConfigError):
    """The command line is invalid (upstream prints the errors and exits 1)."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = tuple(errors)
        # utilerrors.NewAggregate: one error prints as itself, several as "[a, b]".
        text = self.errors[0] if len(self.errors) == 1 else f"[{', '.join(self.errors)}]"
        super().__init__(text)


def _canonical(name: str) -> str:
    """A controller's short name whether it was given short or canonical."""
    for short, canonical in CONTROLLER_ALIASES.items():
        if name == canonical:
            return short
    return name


def enabled_controllers(selection: Sequence[str]) -> tuple[str, ...]:
    """Upstream's ``IsControllerEnabled`` for each known controller, in a fixed order: the
    first item naming it (``name`` or ``-name``) decides, else ``*`` enables it."""
    enabled: list[str] = []
    for name in KNOWN_CONTROLLERS:
        decided: bool | None = None
        star = False
        for item in selection:
            if _canonical(item) == name:
                decided = True
            elif item.startswith("-") and _canonical(item[1:]) == name:
                decided = False
            elif item == "*":
                star = True
                continue
            else:
                continue
            break
        if decided if decided is not None else star:
            enabled.append(name)
    return tuple(enabled)


def _controller_errors(selection: Sequence[str]) -> list[str]:
    known = set(CONTROLLER_ALIASES) | set(CONTROLLER_ALIASES.values())
    errors = []
    for item in selection:
        name = item.removeprefix("-")
        if item != "*" and name not in known:
            errors.append(f'"{name}" is not in the list of known controllers')
    return errors


@dataclass(frozen=True)
class ControllerPeriods:
    node_monitor: float = 5.0
    """``--node-monitor-period`` (seconds): node lifecycle pass."""
    node_status_update: float = 300.0
    """``--node-status-update-frequency`` (seconds): node addresses refresh."""
    route_reconciliation: float = 10.0
    """``--route-reconciliation-period`` (seconds): routes pass."""
    min_resync: float = 43200.0
    """``--min-resync-period`` (seconds): informer resync (upstream randomises 1-2x)."""


@dataclass(frozen=True)
class LeaderElectionOptions:
    enabled: bool = True
    """``--leader-elect``: run controllers only while holding the lease."""
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    resource_lock: str = "leases"
    """``--leader-elect-resource-lock``: only ``leases`` (upstream's only lock since 1.24)."""
    resource_name: str = "cloud-controller-manager"
    resource_namespace: str = "kube-system"

    def config(self, identity: str) -> LeaderElectionConfig:
        return LeaderElectionConfig(
            identity=identity,
            lease_duration=self.lease_duration,
            renew_deadline=self.renew_deadline,
            retry_period=self.retry_period,
            # Another candidate may take over lease_duration - renew_deadline after a failed
            # renewal: the work gets half of that to stop before the process exits.
            stop_grace=max((self.lease_duration - self.renew_deadline) / 2, 0.1),
        )


@dataclass(frozen=True)
class CcmOptions:
    cloud_provider: str
    """``--cloud-provider``: must be ``openstack`` (checked when the provider is initialised)."""
    cloud_config: str
    """``--cloud-config``: the cloud.conf path."""
    cluster_name: str
    """``--cluster-name``: feeds load balancer names."""
    controllers: tuple[str, ...]
    """Enabled controllers (short names), from ``--controllers``."""
    configure_cloud_routes: bool
    allocate_node_cidrs: bool
    cluster_cidr: str
    concurrent_service_syncs: int
    concurrent_node_syncs: int
    periods: ControllerPeriods
    leader_election: LeaderElectionOptions
    kube: KubeClientOptions
    serving: SecureServingOptions
    log: LogFlags
    user_agent: tuple[str, ...] = ()
    """``--user-agent`` (repeatable): extra OpenStack User-Agent words."""
    use_service_account_credentials: bool = False

    @property
    def routes_wanted(self) -> bool:
        """Upstream starts the route controller only with both flags set."""
        return self.allocate_node_cidrs and self.configure_cloud_routes


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(str(value))


def options_from_args(ns: argparse.Namespace, *, user_agent: str) -> CcmOptions:
    """Validate and freeze the parsed flags (``OptionsError`` lists every problem)."""
    errors: list[str] = []
    if not ns.cloud_provider:
        errors.append("--cloud-provider cannot be empty")
    errors += _controller_errors(ns.controllers)
    if ns.concurrent_service_syncs < 1:
        errors.append("--concurrent-service-syncs must be greater than 0")
    if ns.leader_elect_resource_lock != "leases":
        errors.append(
            f'--leader-elect-resource-lock "{ns.leader_elect_resource_lock}" is not supported: '
            "only leases"
        )
    leader = LeaderElectionOptions(
        enabled=ns.leader_elect,
        lease_duration=_seconds(ns.leader_elect_lease_duration),
        renew_deadline=_seconds(ns.leader_elect_renew_deadline),
        retry_period=_seconds(ns.leader_elect_retry_period),
        resource_lock=ns.leader_elect_resource_lock,
        resource_name=ns.leader_elect_resource_name,
        resource_namespace=ns.leader_elect_resource_namespace,
    )
    if leader.enabled:
        try:
            leader.config("check")
        except ValueError as exc:
            errors.append(f"leader election: {exc}")
    serving = SecureServingOptions()
    try:
        serving = secure_serving_options(ns)
    except ConfigError as exc:
        errors.append(str(exc))
    if errors:
        raise OptionsError(errors)
    return CcmOptions(
        cloud_provider=ns.cloud_provider,
        cloud_config=ns.cloud_config or "",
        cluster_name=ns.cluster_name,
        controllers=enabled_controllers(ns.controllers),
        configure_cloud_routes=ns.configure_cloud_routes,
        allocate_node_cidrs=ns.allocate_node_cidrs,
        cluster_cidr=ns.cluster_cidr,
        concurrent_service_syncs=ns.concurrent_service_syncs,
        concurrent_node_syncs=ns.concurrent_node_syncs,
        periods=ControllerPeriods(
            node_monitor=_seconds(ns.node_monitor_period),
            node_status_update=_seconds(ns.node_status_update_frequency),
            route_reconciliation=_seconds(ns.route_reconciliation_period),
            min_resync=_seconds(ns.min_resync_period),
        ),
        leader_election=leader,
        kube=KubeClientOptions(
            kubeconfig=ns.kubeconfig,
            master=ns.master,
            qps=ns.kube_api_qps,
            burst=ns.kube_api_burst,
            user_agent=user_agent,
        ),
        serving=serving,
        log=log_flags(ns),
        user_agent=tuple(ns.user_agent),
        use_service_account_credentials=ns.use_service_account_credentials,
    )
