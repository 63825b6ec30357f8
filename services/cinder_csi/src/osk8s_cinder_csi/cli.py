"""Entry point of ``cinder-csi-plugin``: CPO-compatible flags, then ``run.run``.

Flags are CPO's (§2.6 of the anchor); deprecated ones are accepted and warned about. This
module stays import-light (``--help`` must not load grpc or openstacksdk): the wiring lives
in ``run``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from osk8s_core import cli

PROG = "cinder-csi-plugin"


def build_parser() -> argparse.ArgumentParser:
    """CPO's flags with pflag's types (StringSlice, StringToString, StringArray, Bool,
    Duration), so every form upstream's manifests and charts use parses the same."""
    parser = cli.build_parser(PROG, "Cinder CSI driver cinder.csi.openstack.org (osk8s).")
    parser.add_argument("--endpoint", default="unix://csi/csi.sock", help="CSI endpoint")
    cli.add_cloud_config_flags(parser, repeatable=True)
    cli.add_string_slice(
        parser,
        "--cloud-name",
        help='[Global "name"] sections to load as clouds (comma list, repeatable; '
        "default: [Global])",
    )
    parser.add_argument("--cluster", default="", help="cluster id written to volume metadata")
    cli.add_bool(parser, "--with-topology", default=True, help="topology awareness")
    cli.add_string_to_string(
        parser, "--additional-topology", help="extra topology segments reported by the node"
    )
    cli.add_bool(parser, "--provide-controller-service", default=True, help="controller service")
    cli.add_bool(parser, "--provide-node-service", default=True, help="node service")
    parser.add_argument("--http-endpoint", default="", help="serve /metrics on host:port")
    cli.add_bool(
        parser,
        "--pvc-annotations",
        help="PVC annotation scheduler hints (needs --extra-create-metadata)",
    )
    cli.add_string_array(parser, "--user-agent", help="extra User-Agent (repeatable)")
    parser.add_argument("--nodeid", default="", help="deprecated, ignored")
    parser.add_argument("--node-service-no-os-client", default="", help="deprecated, no-op")
    cli.add_duration(parser, "--min-resync-period", default="12h", help="PVC informer resync")
    cli.add_kubernetes_flags(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Deferred: keeps --help free of grpc/openstacksdk imports.
    from osk8s_cinder_csi.settings import settings_from_args  # noqa: PLC0415
    from osk8s_core.errors import ConfigError, CredentialsError  # noqa: PLC0415

    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 2
    from osk8s_cinder_csi import run  # noqa: PLC0415 - heavy: grpc, openstacksdk

    try:
        return run.run(settings)
    except (ConfigError, CredentialsError) as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 1
