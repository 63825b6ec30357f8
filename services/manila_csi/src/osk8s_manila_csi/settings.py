"""The validated command line of ``manila-csi-plugin`` (``Settings``), built from argparse.

Import-light (a bad flag is reported before grpc/openstacksdk load) and reads no files. Names,
defaults and the required flags match CPO (§3.5 of the anchor): ``--share-protocol-selector``
(NFS or CEPHFS, any case) and ``--fwdendpoint`` must be given.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Final

from osk8s_core.cli import LogFlags, log_flags
from osk8s_core.errors import ConfigError
from osk8s_core.grpc.endpoint import parse_endpoint

PROTOCOLS: Final = ("NFS", "CEPHFS")
DRIVER_VERSION: Final = "0.9.0"
"""CPO's manila driver version; VendorVersion is ``0.9.0@<osk8s version>``."""
TOPOLOGY_KEY: Final = "topology.manila.csi.openstack.org/zone"
REQUIRED_FLAGS: Final = ("fwdendpoint", "share-protocol-selector")


@dataclass(frozen=True)
class Settings:
    """Everything the flags say, validated."""

    endpoint: str
    driver_name: str
    protocol: str
    """``NFS`` or ``CEPHFS`` (upper-cased)."""
    fwd_endpoint: str
    with_topology: bool
    runtime_config_file: str
    cluster_id: str
    controller: bool
    node: bool
    pvc_annotations: bool
    user_agent: tuple[str, ...]
    controller_secrets_dir: str
    """Beyond CPO: a mounted Secret (``os-*`` files) for RPCs that carry no secrets
    (ListVolumes, ControllerGetVolume); empty = those RPCs are not offered."""
    deprecated: tuple[str, ...]
    verbosity: int = 0
    kubeconfig: str = ""
    master: str = ""
    kube_api_qps: float = 5.0
    kube_api_burst: int = 10
    log: LogFlags = field(default_factory=LogFlags)


def missing_required(args: argparse.Namespace) -> list[str]:
    """Required flags absent from the command line (cobra checks presence, not value: the
    parser leaves them None when not given)."""
    return [name for name in REQUIRED_FLAGS if getattr(args, name.replace("-", "_")) is None]


def parse_protocol(value: str) -> str:
    protocol = value.strip().upper()
    if protocol not in PROTOCOLS:
        raise ConfigError(
            f"share protocol {value!r} not supported",
            key="share-protocol-selector",
            expected=" or ".join(PROTOCOLS),
        )
    return protocol


def settings_from_args(args: argparse.Namespace) -> Settings:
    parse_endpoint(args.endpoint)  # fail early, with the accepted forms in the message
    if not args.fwdendpoint:
        raise ConfigError(
            "node plugin endpoint is empty", key="fwdendpoint", expected="unix:///path"
        )
    parse_endpoint(args.fwdendpoint)
    deprecated = tuple(
        flag
        for flag, value in (
            ("--nodeid", args.nodeid),
            ("--nodeaz", args.nodeaz),
            ("--compatibility-settings", args.compatibility_settings),
        )
        if value
    )
    return Settings(
        endpoint=args.endpoint,
        driver_name=args.drivername,
        protocol=parse_protocol(args.share_protocol_selector),
        fwd_endpoint=args.fwdendpoint,
        with_topology=bool(args.with_topology),
        runtime_config_file=args.runtime_config_file,
        cluster_id=args.cluster_id,
        controller=bool(args.provide_controller_service),
        node=bool(args.provide_node_service),
        pvc_annotations=bool(args.pvc_annotations),
        user_agent=tuple(args.user_agent),
        controller_secrets_dir=args.controller_secrets_dir,
        deprecated=deprecated,
        verbosity=args.verbosity,
        kubeconfig=args.kubeconfig,
        master=args.master,
        kube_api_qps=args.kube_api_qps,
        kube_api_burst=args.kube_api_burst,
        log=log_flags(args),
    )
