"""Entry point of ``octavia-ingress-controller``: parses upstream-compatible flags.

Service logic has not landed yet: running it exits clearly.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from osk8s_core import cli

PROG = "octavia-ingress-controller"


def build_parser() -> argparse.ArgumentParser:
    """CPO's ``--config`` and ``--debug``; klog's full flag set comes from the core."""
    parser = cli.build_parser(PROG, "Octavia ingress controller (osk8s).")
    parser.add_argument(
        "--config",
        default="$HOME/.ingress_openstack.yaml",
        help="YAML config (kubernetes:, openstack:, octavia: sections)",
    )
    cli.add_bool(parser, "--debug", help="debug logging")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    build_parser().parse_args(argv)
    return cli.not_implemented(PROG)
