"""Entry point of ``manila-csi-plugin``: parses upstream-compatible flags.

Service logic has not landed yet: running it exits clearly.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from osk8s_core import cli

PROG = "manila-csi-plugin"


def build_parser() -> argparse.ArgumentParser:
    parser = cli.build_parser(PROG, "Manila CSI driver manila.csi.openstack.org (osk8s).")
    parser.add_argument("--endpoint", default="unix:///tmp/csi.sock", help="CSI endpoint")
    parser.add_argument("--drivername", default="manila.csi.openstack.org", help="driver name")
    parser.add_argument("--nodeid", default="", help="node id")
    parser.add_argument("--nodeaz", default="", help="node availability zone")
    parser.add_argument("--runtime-config-file", default="", help="runtime config JSON")
    parser.add_argument("--share-protocol-selector", default="", help="NFS or CEPHFS")
    parser.add_argument("--fwdendpoint", default="", help="node plugin to forward to")
    parser.add_argument("--with-topology", action="store_true", help="topology support")
    parser.add_argument("--cluster-id", default="", help="cluster id in share metadata")
    parser.add_argument("--provide-controller-service", default="true", help="true/false")
    parser.add_argument("--provide-node-service", default="true", help="true/false")
    parser.add_argument("--pvc-annotations", action="store_true", help="PVC annotation hints")
    cli.add_kubernetes_flags(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    build_parser().parse_args(argv)
    return cli.not_implemented(PROG)
