"""``osk8s-fault-proxy``: the fault proxy as a standalone process, steered over HTTP.

Rules are set through the control endpoint (``POST /__faults__``, see ``control``); each call is
logged to stderr as one line. Binds 127.0.0.1 only; prints its URL on stdout once listening (so a
script that asked for ``--port 0`` learns the port). Stops cleanly on SIGTERM / SIGINT.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Sequence

from aiohttp import web

from osk8s_core.cli import build_parser
from osk8s_testing.faultproxy.app import ProxyState, build_app
from osk8s_testing.faultproxy.calls import Call
from osk8s_testing.faultproxy.forward import Rewrite
from osk8s_testing.faultproxy.server import LOOPBACK

PROG = "osk8s-fault-proxy"


def _log_call(call: Call) -> None:
    status = call.status if call.status is not None else "-"
    fault = f" fault={call.fault}" if call.fault else ""
    sys.stderr.write(f"{call.method} {call.path} {status}{fault}\n")


def _rewrite(text: str) -> Rewrite:
    upstream, sep, proxy = text.partition("=")
    if not sep or not upstream or not proxy:
        raise ValueError(f"--rewrite wants UPSTREAM_URL=PROXY_URL, got {text!r}")
    return Rewrite(upstream=upstream, proxy=proxy)


async def serve(state: ProxyState, port: int) -> None:
    runner = web.AppRunner(build_app(state), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, LOOPBACK, port).start()
    sys.stdout.write(f"listening on http://{LOOPBACK}:{runner.addresses[0][1]}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    # A usage error exits 2 (the pflag/argparse convention), not cobra's 1.
    parser = build_parser(
        PROG, "HTTP reverse proxy on 127.0.0.1 that injects faults per path.", error_style="pflag"
    )
    parser.add_argument("--upstream", required=True, help="base URL to forward to")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument(
        "--rewrite",
        action="append",
        default=[],
        metavar="UPSTREAM_URL=PROXY_URL",
        help="replace this URL in text bodies and Location headers (repeatable)",
    )
    args = parser.parse_args(argv)
    try:
        rewrites = tuple(_rewrite(r) for r in args.rewrite)
    except ValueError as e:
        parser.error(str(e))
    state = ProxyState(upstream=args.upstream.rstrip("/"), rewrites=rewrites, on_call=_log_call)
    asyncio.run(serve(state, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
