"""``osk8s-kube-apiserver``: run the fake API server standalone (for the demo).

Binds 127.0.0.1 only; writes a kubeconfig for kubectl/clients when asked; stops on SIGTERM or
Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Sequence
from pathlib import Path

from osk8s_testing.kubeapi.reviews import WebhookConfig
from osk8s_testing.kubeapi.server import KubeApiServer, ServerConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="osk8s-kube-apiserver", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument(
        "--kubeconfig-out", type=Path, help="write a kubeconfig for this server here"
    )
    parser.add_argument(
        "--history-limit", type=int, default=5000, help="watch events kept before 410 Gone"
    )
    parser.add_argument(
        "--bookmark-interval", type=float, default=1.0, help="seconds between watch bookmarks"
    )
    parser.add_argument("--authentication-token-webhook-url", help="where TokenReviews are sent")
    parser.add_argument("--authorization-webhook-url", help="where SubjectAccessReviews are sent")
    parser.add_argument("--webhook-ca-file", help="CA bundle to verify an https webhook")
    parser.add_argument(
        "--guard-requests",
        action="store_true",
        help="authenticate/authorize every request through the webhooks (401/403)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    webhooks = WebhookConfig(
        token_review_url=args.authentication_token_webhook_url,
        authorization_url=args.authorization_webhook_url,
        verify=args.webhook_ca_file or True,
        guard_requests=args.guard_requests,
    )
    config = ServerConfig(
        port=args.port,
        history_limit=args.history_limit,
        bookmark_interval=args.bookmark_interval,
        webhooks=webhooks,
    )
    server = KubeApiServer(config).start()
    if args.kubeconfig_out:
        server.write_kubeconfig(args.kubeconfig_out)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    logging.getLogger("osk8s-kube-apiserver").info("serving on %s", server.url)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
