"""The validated command line of ``cinder-csi-plugin`` (``Settings``), built from argparse.

Kept import-light so a bad flag is reported before grpc/openstacksdk load; it checks values
(endpoint form, booleans, topology pairs, cloud-config presence) and reads no files.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field

from osk8s_cinder_csi.options import parse_bool, parse_topology
from osk8s_core.cli import LogFlags, log_flags
from osk8s_core.errors import ConfigError
from osk8s_core.grpc.endpoint import parse_endpoint


@dataclass(frozen=True)
class Settings:
    """Everything the flags say, validated."""

    endpoint: str
    cloud_config: tuple[str, ...]
    cloud_names: tuple[str, ...]
    cluster: str
    with_topology: bool
    additional_topology: dict[str, str]
    controller: bool
    node: bool
    http_endpoint: str
    pvc_annotations: bool
    user_agent: tuple[str, ...]
    verbosity: int
    log_format: str
    deprecated: tuple[str, ...]
    kubeconfig: str = ""
    master: str = ""
    kube_api_qps: float = 5.0
    kube_api_burst: int = 10
    log: LogFlags = field(default_factory=LogFlags)
    """klog's flags (``-v``, ``--vmodule``, ``--log-file``...) for ``configure_logging``."""


def settings_from_args(args: argparse.Namespace) -> Settings:
    parse_endpoint(args.endpoint)  # fail early, with the accepted forms in the message
    deprecated = tuple(
        flag
        for flag, value in (
            ("--nodeid", args.nodeid),
            ("--node-service-no-os-client", args.node_service_no_os_client),
        )
        if value
    )
    settings = Settings(
        endpoint=args.endpoint,
        cloud_config=tuple(args.cloud_config),
        cloud_names=tuple(args.cloud_name) or ("",),
        cluster=args.cluster,
        with_topology=parse_bool(args.with_topology, flag="with-topology"),
        additional_topology=(
            dict(args.additional_topology)  # pflag StringToString, already parsed by the CLI
            if isinstance(args.additional_topology, Mapping)
            else dict(parse_topology(args.additional_topology))
        ),
        controller=parse_bool(args.provide_controller_service, flag="provide-controller-service"),
        node=parse_bool(args.provide_node_service, flag="provide-node-service"),
        http_endpoint=args.http_endpoint,
        pvc_annotations=parse_bool(args.pvc_annotations, flag="pvc-annotations"),
        user_agent=tuple(args.user_agent),
        verbosity=args.verbosity,
        log_format=args.log_format,
        deprecated=deprecated,
        kubeconfig=args.kubeconfig,
        master=args.master,
        kube_api_qps=args.kube_api_qps,
        kube_api_burst=args.kube_api_burst,
        log=log_flags(args),
    )
    if settings.controller and not settings.cloud_config:
        raise ConfigError(
            "the controller service needs a cloud config", key="cloud-config", expected="a path"
        )
    return settings
