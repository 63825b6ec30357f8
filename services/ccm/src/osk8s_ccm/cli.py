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
    parser = cli.build_parser(PROG, "OpenStack cloud controller manager (osk8s).")
    parser.add_argument("--cloud-provider", default="openstack", help="must be 'openstack'")
    cli.add_cloud_config_flags(parser, repeatable=False)
    parser.add_argument("--cluster-name", default="kubernetes", help="feeds load balancer names")
    parser.add_argument(
        "--controllers",
        default="*",
        help="comma list: cloud-node, cloud-node-lifecycle, route, service",
    )
    parser.add_argument("--configure-cloud-routes", default="true", help="true/false")
    parser.add_argument("--cluster-cidr", default="", help="pod CIDR for the route controller")
    parser.add_argument("--leader-elect", default="true", help="true/false")
    parser.add_argument("--bind-address", default="0.0.0.0", help="serving address")
    parser.add_argument("--secure-port", type=int, default=10258, help="serving port")
    parser.add_argument(
        "--use-service-account-credentials", default="false", help="per-controller SA tokens"
    )
    parser.add_argument(
        "--user-agent", action="append", default=[], help="extra User-Agent (repeatable)"
    )
    cli.add_kubernetes_flags(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    build_parser().parse_args(argv)
    return cli.not_implemented(PROG)
