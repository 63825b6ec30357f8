"""Entry point of ``cinder-csi-plugin``: parses upstream-compatible flags.

Service logic (identity/controller/node) has not landed yet: running it exits clearly.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from osk8s_core import cli

PROG = "cinder-csi-plugin"


def build_parser() -> argparse.ArgumentParser:
    parser = cli.build_parser(PROG, "Cinder CSI driver cinder.csi.openstack.org (osk8s).")
    parser.add_argument("--endpoint", default="unix://csi/csi.sock", help="CSI endpoint")
    cli.add_cloud_config_flags(parser, repeatable=True)
    parser.add_argument("--cloud-name", action="append", default=[], help='[Global "name"]')
    parser.add_argument("--cluster", default="", help="cluster id written to volume metadata")
    parser.add_argument("--with-topology", default="true", help="true/false")
    parser.add_argument("--additional-topology", action="append", default=[], help="key=value")
    parser.add_argument("--provide-controller-service", default="true", help="true/false")
    parser.add_argument("--provide-node-service", default="true", help="true/false")
    parser.add_argument("--http-endpoint", default="", help="serve /metrics here")
    parser.add_argument("--pvc-annotations", action="store_true", help="PVC annotation hints")
    parser.add_argument("--user-agent", action="append", default=[], help="extra User-Agent")
    parser.add_argument("--nodeid", default="", help="deprecated, ignored")
    parser.add_argument("--node-service-no-os-client", default="", help="deprecated, no-op")
    cli.add_kubernetes_flags(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    build_parser().parse_args(argv)
    return cli.not_implemented(PROG)
