"""Command-line plumbing shared by every osk8s binary: Go flag semantics, once.

One parser (``GoFlagParser``: argparse behind pflag's argv rules, see ``goflags``) for all
services, with klog's logging flags (``klog``), so flags behave as CPO's and CAPO's binaries
parse them: ``--name=value`` and ``--name value``, bare booleans and ``--name=false``,
comma lists, Go durations, ``-v=2``/``--v=2``, single-dash long flags, upstream's errors and
exit codes. This package must stay import-light: ``--help`` must not pull in openstacksdk,
grpc or structlog.
"""

from __future__ import annotations

import argparse

from osk8s_core import __version__
from osk8s_core.cli.goflags import (
    ErrorStyle,
    GoFlagParser,
    add_bool,
    add_duration,
    add_feature_gates,
    add_string_array,
    add_string_slice,
    add_string_to_string,
    go_duration,
    go_int,
)
from osk8s_core.cli.klog import LogFlags, add_klog_flags, log_flags

__all__ = [
    "ErrorStyle",
    "GoFlagParser",
    "LogFlags",
    "add_bool",
    "add_cloud_config_flags",
    "add_duration",
    "add_feature_gates",
    "add_kubernetes_flags",
    "add_string_array",
    "add_string_slice",
    "add_string_to_string",
    "build_parser",
    "go_duration",
    "go_int",
    "log_flags",
    "version_string",
]


def version_string(prog: str) -> str:
    return f"{prog} (osk8s) {__version__}"


def build_parser(prog: str, description: str, *, error_style: ErrorStyle = "cobra") -> GoFlagParser:
    """A parser with the flags every osk8s binary shares (``--version``, klog's flags).

    ``error_style``: ``"cobra"`` for binaries upstream runs through component-base
    ``cli.Run`` (flag errors exit 1), ``"pflag"`` for ``pflag.Parse`` ones (exit 2).
    """
    parser = GoFlagParser(
        prog=prog,
        usage="%(prog)s [flags]",
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        error_style=error_style,
    )
    parser.add_argument("--version", action="version", version=version_string(prog))
    add_klog_flags(parser)
    return parser


def add_cloud_config_flags(parser: argparse.ArgumentParser, *, repeatable: bool) -> None:
    """``--cloud-config`` as upstream types it: a pflag StringSlice where CPO's binary allows
    several files (comma-separated and repeatable, later files win), else one path."""
    if repeatable:
        add_string_slice(
            parser,
            "--cloud-config",
            help="cloud.conf INI file(s): comma-separated or repeated, merged in order "
            "(later files win)",
        )
    else:
        parser.add_argument("--cloud-config", metavar="PATH", help="cloud.conf INI file")


def add_kubernetes_flags(parser: argparse.ArgumentParser) -> None:
    """The Kubernetes client flags CPO's binaries accept (KUBECONFIG env also honoured)."""
    group = parser.add_argument_group("kubernetes client")
    group.add_argument("--kubeconfig", default="", help="path to a kubeconfig; in-cluster if empty")
    group.add_argument("--master", default="", help="API server address, overrides kubeconfig")
    group.add_argument("--kube-api-qps", type=float, default=5.0, help="client QPS")
    group.add_argument("--kube-api-burst", type=go_int, default=10, help="client burst")
