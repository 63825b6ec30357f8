"""Entry point of ``barbican-kms-plugin``: parses upstream-compatible flags, then serves.

Flags match CPO (``--socketpath``, ``--cloud-config``) plus ours. The service modules are
imported only after parsing, so ``--help`` and ``--version`` never load grpc or openstacksdk.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from osk8s_core import cli

PROG = "barbican-kms-plugin"


def build_parser() -> argparse.ArgumentParser:
    parser = cli.build_parser(PROG, "Kubernetes KMS v1beta1/v2 plugin backed by Barbican (osk8s).")
    parser.add_argument(
        "--socketpath", default="", help="unix socket to serve on (required, as in CPO)"
    )
    cli.add_cloud_config_flags(parser, repeatable=False)
    parser.add_argument("--http-endpoint", default="", help="serve /metrics and /healthz here")
    parser.add_argument(
        "--key-refresh-interval",
        default="5m",
        help="re-read cloud.conf and re-fetch keys from Barbican this often (also on SIGHUP)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        # argparse exits 2 on a flag error; CPO's cobra command exits 1 (both print why).
        return 1 if exc.code == 2 else int(exc.code or 0)
    # Deferred: keeps --help free of grpc/openstacksdk imports.
    from osk8s_barbican_kms import app, options  # noqa: PLC0415
    from osk8s_core.errors import ConfigError  # noqa: PLC0415

    try:
        opts = options.from_args(args)
    except ConfigError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 1  # CPO: cobra's "required flag(s) ... not set" exits 1
    return app.run(opts)
