"""Entry point of ``manila-csi-plugin``: parses upstream-compatible flags.

Service logic has not landed yet: running it exits clearly.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from osk8s_core import cli

PROG = "manila-csi-plugin"


def build_parser() -> argparse.ArgumentParser:
    """CPO's manila-csi-plugin flags with pflag types (§3.5 of the anchor)."""
    parser = cli.build_parser(PROG, "Manila CSI driver manila.csi.openstack.org (osk8s).")
    add = parser.add_argument
    add("--endpoint", default="unix://tmp/csi.sock", help="CSI endpoint")
    add("--drivername", default="manila.csi.openstack.org", help="driver name")
    add("--nodeid", default="", help="deprecated, ignored")
    add("--nodeaz", default="", help="deprecated, ignored")
    add("--runtime-config-file", default="", help="runtime config JSON")
    add("--share-protocol-selector", default="", help="NFS or CEPHFS")
    add("--fwdendpoint", default="", help="node plugin to forward to")
    cli.add_bool(parser, "--with-topology", help="topology support")
    add("--cluster-id", default="", help="cluster id in share metadata")
    cli.add_bool(parser, "--provide-controller-service", default=True, help="controller service")
    cli.add_bool(parser, "--provide-node-service", default=True, help="node service")
    cli.add_bool(parser, "--pvc-annotations", help="PVC annotation hints")
    add("--compatibility-settings", default="", help="vestigial upstream flag, ignored")
    cli.add_string_array(parser, "--user-agent", help="extra User-Agent (repeatable)")
    cli.add_duration(parser, "--min-resync-period", default="12h", help="PVC informer resync")
    cli.add_kubernetes_flags(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    build_parser().parse_args(argv)
    return cli.not_implemented(PROG)
