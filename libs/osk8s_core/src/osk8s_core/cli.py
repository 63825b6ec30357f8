"""Command-line plumbing shared by every osk8s binary.

One CLI library (argparse) for all services, so flag spelling and ``--version`` /
logging flags behave the same everywhere. Go's flag package accepts ``--name=value`` and
``--name value``; argparse does too, which keeps upstream manifests working unchanged.
This module must stay import-light: ``--help`` must not pull in openstacksdk or grpc.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from osk8s_core import __version__


def version_string(prog: str) -> str:
    return f"{prog} (osk8s) {__version__}"


def build_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser with the flags every osk8s binary shares (``--version``, logging)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=version_string(prog))
    logging_group = parser.add_argument_group("logging")
    logging_group.add_argument(
        "-v",
        "--v",
        dest="verbosity",
        type=int,
        default=2,
        help="log verbosity, klog-compatible: >=4 enables debug",
    )
    logging_group.add_argument(
        "--log-format",
        choices=("console", "json"),
        default="json",
        help="log line format",
    )
    return parser


def add_cloud_config_flags(parser: argparse.ArgumentParser, *, repeatable: bool) -> None:
    """``--cloud-config`` as upstream spells it (repeatable where CPO's binary allows it)."""
    if repeatable:
        parser.add_argument(
            "--cloud-config",
            action="append",
            default=[],
            metavar="PATH",
            help="cloud.conf INI file; repeat to merge several (later files win)",
        )
    else:
        parser.add_argument("--cloud-config", metavar="PATH", help="cloud.conf INI file")


def add_kubernetes_flags(parser: argparse.ArgumentParser) -> None:
    """The Kubernetes client flags CPO's binaries accept (KUBECONFIG env also honoured)."""
    group = parser.add_argument_group("kubernetes client")
    group.add_argument("--kubeconfig", default="", help="path to a kubeconfig; in-cluster if empty")
    group.add_argument("--master", default="", help="API server address, overrides kubeconfig")
    group.add_argument("--kube-api-qps", type=float, default=5.0, help="client QPS")
    group.add_argument("--kube-api-burst", type=int, default=10, help="client burst")


def not_implemented(prog: str, argv: Sequence[str] | None = None) -> int:
    """Exit status and message for a binary whose service logic has not landed yet.

    The binary exists so images and manifests can be wired, but it refuses to pretend to run.
    """
    del argv
    sys.stderr.write(
        f"{version_string(prog)}: the service logic is not implemented in this release; "
        "only --help and --version work.\n"
    )
    return 3
