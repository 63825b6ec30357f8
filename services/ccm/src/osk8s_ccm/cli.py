"""Entry point of ``openstack-cloud-controller-manager``: parses upstream-compatible flags.

Thin by design: flags are parsed here and the object graph is built in ``main``; the service
logic lives in its own modules (not landed yet, so running it exits with a clear message).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from osk8s_core import cli

PROG = "openstack-cloud-controller-manager"


def build_parser() -> argparse.ArgumentParser:
    """``k8s.io/cloud-provider``'s flags with pflag types, plus CPO's ``--user-agent``."""
    parser = cli.build_parser(PROG, "OpenStack cloud controller manager (osk8s).")
    add = parser.add_argument
    add("--cloud-provider", default="openstack", help="must be 'openstack'")
    cli.add_cloud_config_flags(parser, repeatable=False)
    add("--cluster-name", default="kubernetes", help="feeds load balancer names")
    cli.add_string_slice(
        parser,
        "--controllers",
        default=("*",),
        help="controllers to run: '*' for all, 'name' enables, '-name' disables "
        "(cloud-node, cloud-node-lifecycle, route, service)",
    )
    cli.add_bool(parser, "--configure-cloud-routes", default=True, help="route controller")
    cli.add_bool(parser, "--allocate-node-cidrs", help="allocate pod CIDRs to nodes")
    add("--cidr-allocator-type", default="RangeAllocator", help="CIDR allocator")
    add("--cluster-cidr", default="", help="pod CIDR for the route controller")
    add("--external-cloud-volume-plugin", default="", help="accepted for compatibility")
    cli.add_bool(parser, "--use-service-account-credentials", help="per-controller SA tokens")
    add("--concurrent-service-syncs", type=cli.go_int, default=1, help="service workers")
    cli.add_duration(parser, "--min-resync-period", default="12h", help="informer resync")
    cli.add_duration(parser, "--node-monitor-period", default="5s", help="node sync period")
    cli.add_duration(parser, "--node-status-update-frequency", default="5m", help="node status")
    cli.add_duration(parser, "--route-reconciliation-period", default="10s", help="routes")
    cli.add_string_array(parser, "--user-agent", help="extra User-Agent (repeatable)")
    cli.add_feature_gates(parser)
    leader = parser.add_argument_group("leader election")
    cli.add_bool(leader, "--leader-elect", default=True, help="run with leader election")
    cli.add_duration(leader, "--leader-elect-lease-duration", default="15s", help="lease")
    cli.add_duration(leader, "--leader-elect-renew-deadline", default="10s", help="renew")
    cli.add_duration(leader, "--leader-elect-retry-period", default="2s", help="retry")
    leader.add_argument("--leader-elect-resource-lock", default="leases", help="lock kind")
    leader.add_argument(
        "--leader-elect-resource-name", default="cloud-controller-manager", help="lock name"
    )
    leader.add_argument("--leader-elect-resource-namespace", default="kube-system", help="ns")
    serving = parser.add_argument_group("secure serving")
    serving.add_argument("--bind-address", default="0.0.0.0", help="serving address")
    serving.add_argument("--secure-port", type=cli.go_int, default=10258, help="serving port")
    serving.add_argument("--cert-dir", default="", help="serving certificate directory")
    serving.add_argument("--tls-cert-file", default="", help="serving certificate")
    serving.add_argument("--tls-private-key-file", default="", help="serving key")
    serving.add_argument("--authentication-kubeconfig", default="", help="authn kubeconfig")
    serving.add_argument("--authorization-kubeconfig", default="", help="authz kubeconfig")
    cli.add_bool(serving, "--authentication-skip-lookup", help="skip authn config lookup")
    cli.add_string_slice(
        serving,
        "--authorization-always-allow-paths",
        default=("/healthz", "/readyz", "/livez"),
        help="paths served without authorization",
    )
    cli.add_bool(serving, "--profiling", default=True, help="pprof endpoints")
    cli.add_bool(serving, "--contention-profiling", help="lock contention profiling")
    cli.add_kubernetes_flags(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    build_parser().parse_args(argv)
    return cli.not_implemented(PROG)
