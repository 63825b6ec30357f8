"""Entry point of ``capo-controller-manager``: parses upstream-compatible flags and runs the
controller manager (``app.run``); ``leaks`` (osk8s) lists OpenStack objects a cluster's names
or tags account for that no live OpenStackCluster/OpenStackMachine does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from osk8s_core import cli

PROG = "capo-controller-manager"


def build_parser() -> argparse.ArgumentParser:
    """CAPO's ``main.go`` flags (capo.md §4) with pflag types.

    Upstream parses them with ``pflag.Parse`` (ExitOnError), so flag errors exit 2.
    """
    parser = cli.build_parser(
        PROG, "Cluster API infrastructure provider for OpenStack (osk8s).", error_style="pflag"
    )
    add = parser.add_argument
    cli.add_bool(parser, "--leader-elect", help="enable leader election")
    cli.add_duration(parser, "--leader-elect-lease-duration", default="15s", help="lease")
    cli.add_duration(parser, "--leader-elect-renew-deadline", default="10s", help="renew")
    cli.add_duration(parser, "--leader-elect-retry-period", default="2s", help="retry")
    add("--metrics-bind-addr", default="", help="deprecated: use --diagnostics-address")
    add("--diagnostics-address", default=":8443", help="metrics and diagnostics address")
    cli.add_bool(parser, "--insecure-diagnostics", help="serve diagnostics over plain HTTP")
    add("--health-addr", default=":9440", help="health probe address")
    add("--namespace", default="", help="watch only this namespace")
    add("--watch-filter", default="", help="label value to filter on")
    add("--profiler-address", default="", help="pprof address")
    for kind in ("openstackcluster", "openstackmachine", "openstackmachinetemplate"):
        add(f"--{kind}-concurrency", type=cli.go_int, default=10, help="workers")
    cli.add_duration(parser, "--sync-period", default="10m", help="full resync period")
    add("--webhook-port", type=cli.go_int, default=9443, help="webhook server port")
    add("--webhook-cert-dir", default="/tmp/k8s-webhook-server/serving-certs/", help="certs")
    add("--ca-certs", default="", help="CA bundle for OpenStack")
    add("--scope-cache-max-size", type=cli.go_int, default=10, help="cached scopes")
    add("--lb-provider", default="", help="legacy, ignored")
    # CAPI's TLS options: the webhook and the HTTPS diagnostics server (app.options_from_args)
    add(
        "--tls-min-version",
        default="VersionTLS12",
        help="minimum TLS version: VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13",
    )
    cli.add_string_slice(
        parser, "--tls-cipher-suites", help="TLS 1.0-1.2 cipher suites (Go names, comma-separated)"
    )
    cli.add_string_slice(parser, "--skip-crd-migration-phases", help="CRD migrator phases")
    cli.add_feature_gates(parser)
    group = parser.add_argument_group("kubernetes client")
    group.add_argument("--kubeconfig", default="", help="path to a kubeconfig; in-cluster if empty")
    group.add_argument("--kube-api-qps", type=float, default=20.0, help="client QPS")
    group.add_argument("--kube-api-burst", type=cli.go_int, default=30, help="client burst")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["leaks"]:
        from osk8s_capo.leaks import main as leaks_main  # noqa: PLC0415 - lazy: cheap --help

        return leaks_main(args_list[1:])
    args = build_parser().parse_args(args_list)
    from osk8s_capo.app import run  # noqa: PLC0415 - lazy: --help must not import the client

    return run(args)
