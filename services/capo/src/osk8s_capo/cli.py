"""Entry point of ``capo-controller-manager``: parses upstream-compatible flags.

Service logic has not landed yet: running it exits clearly.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from osk8s_core import cli

PROG = "capo-controller-manager"


def build_parser() -> argparse.ArgumentParser:
    parser = cli.build_parser(PROG, "Cluster API infrastructure provider for OpenStack (osk8s).")
    parser.add_argument("--leader-elect", action="store_true", help="enable leader election")
    parser.add_argument("--metrics-bind-addr", default=":8080", help="metrics address")
    parser.add_argument("--health-addr", default=":9440", help="health probe address")
    parser.add_argument("--namespace", default="", help="watch only this namespace")
    parser.add_argument("--watch-filter", default="", help="label value to filter on")
    parser.add_argument("--openstackcluster-concurrency", type=int, default=10, help="workers")
    parser.add_argument("--openstackmachine-concurrency", type=int, default=10, help="workers")
    parser.add_argument("--sync-period", default="10m", help="full resync period")
    cli.add_kubernetes_flags(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    build_parser().parse_args(argv)
    return cli.not_implemented(PROG)
