"""Entry points of ``k8s-keystone-auth`` (webhook) and ``client-keystone-auth`` (exec plugin).

Flags match CPO's, with the same env defaults. Heavy modules (Flask, keystoneauth, the
Kubernetes client) are imported only after parsing, so ``--help`` and ``--version`` stay fast;
nothing here imports grpc. ``main`` builds the object graph and serves until SIGTERM.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Sequence

from osk8s_core import cli
from osk8s_keystone_auth.client_options import CLIENT_PROG, build_client_parser
from osk8s_keystone_auth.options import SERVER_PROG, ServerOptions, build_server_parser

__all__ = ["CLIENT_PROG", "SERVER_PROG", "build_client_parser", "build_server_parser"]


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_server_parser().parse_args(argv)
    from osk8s_core.errors import ConfigError, Osk8sError  # noqa: PLC0415
    from osk8s_core.logging import bind_component, configure_logging, get_logger  # noqa: PLC0415

    configure_logging(**cli.log_flags(ns).logging_kwargs())
    bind_component("keystone-auth")
    log = get_logger("osk8s.keystone_auth")
    try:
        options = ServerOptions.from_args(ns, os.environ)
        from osk8s_keystone_auth.service import build  # noqa: PLC0415

        webhook = build(options, logger=log, environ=os.environ)
        webhook.start()
    except (ConfigError, Osk8sError, OSError, ValueError) as exc:
        log.error("cannot start", error=str(exc))
        return 1
    host, port = webhook.server.address
    log.info("webhook serving", address=f"{host}:{port}")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    log.info("stopping")
    webhook.stop()
    return 0


def client_main(argv: Sequence[str] | None = None) -> int:
    ns = build_client_parser().parse_args(argv)
    from osk8s_keystone_auth.client import run_client  # noqa: PLC0415

    return run_client(ns, environ=os.environ, stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr)
