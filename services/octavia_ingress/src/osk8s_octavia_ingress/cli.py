"""Entry point of ``octavia-ingress-controller``: CPO's ``--config`` and ``--debug`` plus
klog's flags; reads the config once and runs the controller.

Exit codes as CPO: 1 when the config cannot be read or lacks ``cluster-name`` (logrus
Fatal), 0 after SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Sequence

from osk8s_core import cli

PROG = "octavia-ingress-controller"
EXIT_CONFIG = 1


def build_parser() -> argparse.ArgumentParser:
    parser = cli.build_parser(PROG, "Ingress controller for OpenStack (osk8s).")
    parser.add_argument(
        "--config", default="", help="config file (default is $HOME/.ingress_openstack.yaml)"
    )
    cli.add_bool(parser, "--debug", help="Print more detailed information.")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    # SIGTERM/SIGINT stop the controller cleanly from here on, even during start-up.
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    # Heavy imports only past --help/--version.
    from osk8s_core.errors import ConfigError, Osk8sError  # noqa: PLC0415
    from osk8s_core.logging import DEBUG_VERBOSITY, configure_logging, get_logger  # noqa: PLC0415
    from osk8s_octavia_ingress.app import run  # noqa: PLC0415
    from osk8s_octavia_ingress.config import load_config  # noqa: PLC0415

    flags = cli.log_flags(ns)
    kwargs = flags.logging_kwargs()
    if ns.debug:
        kwargs["verbosity"] = max(int(kwargs["verbosity"]), DEBUG_VERBOSITY)
    configure_logging(**kwargs)
    log = get_logger("osk8s.octavia_ingress")
    try:
        config = load_config(ns.config, environ=os.environ)
    except ConfigError as exc:
        log.error("Failed to read config file", error=str(exc))
        return EXIT_CONFIG
    log.info("Using config file", file=config.file)
    # --debug (CPO: logrus debug level) shows what was read, never a credential.
    log.debug(
        "config read",
        cluster_name=config.cluster_name,
        subnet_id=config.octavia.subnet_id,
        floating_network_id=config.octavia.floating_network_id,
        manage_security_groups=config.octavia.manage_security_groups,
        provider_requires_serial_api_calls=config.octavia.provider_requires_serial_api_calls,
    )
    for warning in config.warnings:
        log.warning("config warning", detail=warning)
    try:
        return run(config, stop=stop)
    except Osk8sError as exc:  # incomplete credentials, no Kubernetes config: one clear line
        log.error("cannot start", error=str(exc))
        return EXIT_CONFIG
