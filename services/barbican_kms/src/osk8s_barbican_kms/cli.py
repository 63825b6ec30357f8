"""Entry point of ``barbican-kms-plugin``: parses upstream-compatible flags.

Service logic has not landed yet: running it exits clearly.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from osk8s_core import cli

PROG = "barbican-kms-plugin"


def build_parser() -> argparse.ArgumentParser:
    parser = cli.build_parser(PROG, "Kubernetes KMS v1beta1/v2 plugin backed by Barbican (osk8s).")
    parser.add_argument(
        "--socketpath", default="/var/lib/kms/kms.sock", help="unix socket to serve on"
    )
    cli.add_cloud_config_flags(parser, repeatable=False)
    parser.add_argument("--http-endpoint", default="", help="serve /metrics and /healthz here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    build_parser().parse_args(argv)
    return cli.not_implemented(PROG)
