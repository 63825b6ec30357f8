"""Entry point of ``manila-csi-plugin``: CPO-compatible flags, then ``run.run``.

Flags are CPO's (§3.5 of the anchor); ``--share-protocol-selector`` and ``--fwdendpoint`` are
required as upstream's cobra marks them (exit 1 with cobra's message); deprecated ones are
accepted and warned about. Import-light: ``--help`` loads neither grpc nor openstacksdk.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from osk8s_core import cli

PROG = "manila-csi-plugin"


def build_parser() -> argparse.ArgumentParser:
    """CPO's manila-csi-plugin flags with pflag types."""
    parser = cli.build_parser(PROG, "Manila CSI driver manila.csi.openstack.org (osk8s).")
    add = parser.add_argument
    add("--endpoint", default="unix://tmp/csi.sock", help="CSI endpoint")
    add("--drivername", default="manila.csi.openstack.org", help="driver name")
    add("--nodeid", default="", help="deprecated, ignored")
    add("--nodeaz", default="", help="deprecated, ignored")
    add("--runtime-config-file", default="", help="runtime config JSON")
    add("--share-protocol-selector", default=None, help="NFS or CEPHFS (required)")
    add("--fwdendpoint", default=None, help="CSI node plugin to forward to (required)")
    cli.add_bool(parser, "--with-topology", help="topology support")
    add("--cluster-id", default="", help="cluster id in share metadata")
    cli.add_bool(parser, "--provide-controller-service", default=True, help="controller service")
    cli.add_bool(parser, "--provide-node-service", default=True, help="node service")
    cli.add_bool(parser, "--pvc-annotations", help="PVC annotation hints")
    add("--compatibility-settings", default="", help="vestigial upstream flag, ignored")
    cli.add_string_array(parser, "--user-agent", help="extra User-Agent (repeatable)")
    cli.add_duration(parser, "--min-resync-period", default="12h", help="PVC informer resync")
    add(
        "--controller-secrets-dir",
        default="",
        help="osk8s: mounted Secret with os-* keys for ListVolumes/ControllerGetVolume",
    )
    cli.add_kubernetes_flags(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from osk8s_core.errors import ConfigError, CredentialsError  # noqa: PLC0415
    from osk8s_manila_csi.settings import missing_required, settings_from_args  # noqa: PLC0415

    missing = missing_required(args)
    if missing:
        names = ", ".join(f'"{name}"' for name in missing)
        sys.stderr.write(f"Error: required flag(s) {names} not set\n")
        return 1
    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 1
    from osk8s_manila_csi import run  # noqa: PLC0415 - heavy: grpc, openstacksdk

    try:
        return run.run(settings)
    except (ConfigError, CredentialsError) as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 1
