"""Entry point of ``openstack-cloud-controller-manager``: upstream-compatible flags, then ``app``.

The flags are ``k8s.io/cloud-provider``'s (generic controller manager, cloud shared options,
node/service/route controllers, leader election, secure serving with delegated auth, client
connection, klog) plus CPO's ``--user-agent``, with pflag's types, so every manifest or chart
written for CPO parses. Flags upstream accepts whose feature we do not have (webhooks, pprof,
client-certificate auth, leader migration, SNI certificates...) are accepted and named in one
warning line, never an unknown-flag error. Exit codes as upstream: a flag or validation error
exits 1; a cloud provider that cannot be initialised exits 255 (``klog.Fatalf``); losing the
lease exits 1. This module stays import-light: ``--help`` loads no openstacksdk or kubernetes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from osk8s_ccm.names import PROG
from osk8s_core import __version__, cli
from osk8s_core.cli.secure_serving import add_secure_serving_flags

__all__ = ["PROG", "build_parser", "main"]
EXIT_INVALID = 1
"""Options that fail validation (upstream prints them and exits 1)."""


def _generic(parser: cli.GoFlagParser) -> None:
    add = parser.add_argument
    inert = parser.add_inert
    add("--cloud-provider", default="", help="the cloud provider: must be 'openstack'")
    cli.add_cloud_config_flags(parser, repeatable=False)
    add("--cluster-name", default="kubernetes", help="instance prefix, feeds load balancer names")
    cli.add_string_slice(
        parser,
        "--controllers",
        default=("*",),
        help="controllers to run: '*' for all, 'name' enables, '-name' disables "
        "(cloud-node, cloud-node-lifecycle, route, service)",
    )
    cli.add_bool(parser, "--configure-cloud-routes", default=True, help="routes on the router")
    cli.add_bool(parser, "--allocate-node-cidrs", help="pod CIDRs are allocated to nodes")
    add("--cluster-cidr", default="", help="pod CIDR(s) of the cluster, comma-separated")
    add("--concurrent-service-syncs", type=cli.go_int, default=1, help="service workers")
    add("--concurrent-node-syncs", type=cli.go_int, default=1, help="cloud-node workers")
    cli.add_duration(parser, "--min-resync-period", default="12h", help="informer resync")
    cli.add_duration(parser, "--node-monitor-period", default="5s", help="node lifecycle period")
    cli.add_duration(
        parser, "--node-status-update-frequency", default="5m", help="node addresses period"
    )
    cli.add_duration(parser, "--route-reconciliation-period", default="10s", help="routes period")
    cli.add_string_array(parser, "--user-agent", help="extra OpenStack User-Agent (repeatable)")
    cli.add_bool(
        parser,
        "--use-service-account-credentials",
        help="per-controller service account tokens (not done: the process's own credentials)",
    )
    cli.add_feature_gates(parser)
    inert(parser, "--cidr-allocator-type", default="RangeAllocator", help="accepted")
    inert(parser, "--external-cloud-volume-plugin", default="", help="accepted")
    inert(parser, "--controller-start-interval", type=cli.go_duration, default="0s", help="-")
    inert(parser, "--node-sync-period", type=cli.go_duration, default="0s", help="deprecated")
    inert(parser, "--concurrent-node-status-updates", type=cli.go_int, default=0, help="-")
    inert(parser, "--kube-api-content-type", default="application/vnd.kubernetes.protobuf")
    inert(parser, "--enable-leader-migration", action="store_true", help="accepted")
    inert(parser, "--leader-migration-config", default="", help="accepted")
    for flag in ("--show-hidden-metrics-for-version", "--allow-metric-labels-manifest"):
        inert(parser, flag, default="", help="accepted")
    for flag in ("--disabled-metrics", "--allow-metric-labels"):
        inert(parser, flag, action="append", default=[], help="accepted")


def _leader(parser: cli.GoFlagParser) -> None:
    group = parser.add_argument_group("leader election")
    cli.add_bool(group, "--leader-elect", default=True, help="run with leader election")
    cli.add_duration(group, "--leader-elect-lease-duration", default="15s", help="lease")
    cli.add_duration(group, "--leader-elect-renew-deadline", default="10s", help="renew")
    cli.add_duration(group, "--leader-elect-retry-period", default="2s", help="retry")
    group.add_argument("--leader-elect-resource-lock", default="leases", help="lock kind")
    group.add_argument(
        "--leader-elect-resource-name", default="cloud-controller-manager", help="lock name"
    )
    group.add_argument("--leader-elect-resource-namespace", default="kube-system", help="ns")


def _serving(parser: cli.GoFlagParser) -> None:
    group = parser.add_argument_group("secure serving")
    add_secure_serving_flags(group)
    inert = parser.add_inert
    for flag in ("--cert-dir", "--client-ca-file", "--requestheader-client-ca-file"):
        inert(group, flag, default="", help="accepted (no client certificates, no cert dir)")
    for flag in (
        "--tls-sni-cert-key",
        "--requestheader-allowed-names",
        "--requestheader-extra-headers-prefix",
        "--requestheader-group-headers",
        "--requestheader-username-headers",
        "--requestheader-uid-headers",
    ):
        inert(group, flag, action="append", default=[], help="accepted")
    inert(group, "--http2-max-streams-per-connection", type=cli.go_int, default=0, help="-")
    for flag in (
        "--permit-address-sharing",
        "--permit-port-sharing",
        "--disable-http2-serving",
        "--authentication-tolerate-lookup-failure",
        "--contention-profiling",
    ):
        inert(group, flag, action="store_true", help="accepted")
    inert(group, "--profiling", action="store_true", help="accepted (no pprof endpoints)")


def _webhooks(parser: cli.GoFlagParser) -> None:
    """The cloud-provider webhook server (no OpenStack webhook exists): accepted, unused."""
    group = parser.add_argument_group("webhooks (accepted, no webhook is served)")
    inert = parser.add_inert
    inert(group, "--webhooks", action="append", default=[], help="accepted")
    inert(group, "--webhook-secure-port", type=cli.go_int, default=0, help="accepted")
    for name in (
        "bind-address",
        "cert-dir",
        "tls-cert-file",
        "tls-private-key-file",
        "tls-min-version",
    ):
        inert(group, f"--webhook-{name}", default="", help="accepted")
    for name in ("tls-cipher-suites", "tls-sni-cert-key"):
        inert(group, f"--webhook-{name}", action="append", default=[], help="accepted")
    inert(group, "--webhook-http2-max-streams-per-connection", type=cli.go_int, default=0)
    for name in ("permit-address-sharing", "permit-port-sharing", "disable-http2-serving"):
        inert(group, f"--webhook-{name}", action="store_true", help="accepted")


def build_parser() -> cli.GoFlagParser:
    """``k8s.io/cloud-provider``'s flags with pflag types, plus CPO's ``--user-agent``."""
    parser = cli.build_parser(PROG, "OpenStack cloud controller manager (osk8s).")
    _generic(parser)
    _leader(parser)
    _serving(parser)
    _webhooks(parser)
    cli.add_kubernetes_flags(parser)
    # The cloud controller manager's client defaults (k8s.io/cloud-provider), not client-go's.
    parser.set_defaults(kube_api_qps=20.0, kube_api_burst=30)
    return parser


def kube_user_agent() -> str:
    """client-go's ``<binary>/<version>`` style; managedFields name the manager after it."""
    return f"{PROG}/{__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    args: argparse.Namespace = build_parser().parse_args(argv)
    # Deferred: keeps --help free of the kubernetes client and openstacksdk.
    from osk8s_ccm.options import OptionsError, options_from_args  # noqa: PLC0415

    try:
        options = options_from_args(args, user_agent=kube_user_agent())
    except OptionsError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_INVALID
    from osk8s_ccm import app  # noqa: PLC0415 - heavy: kubernetes, openstacksdk

    return app.run(options)
