"""``GrpcServer.serve`` reacts to a signal the kernel handed to another thread.

A process-directed signal may land on any thread that does not block it (grpc's, the HTTP
server's...). CPython then only flags it; the Python handler runs when the main thread next
executes bytecode. ``serve`` therefore must not sleep in an untimed wait. The test delivers
SIGTERM to a helper thread with ``pthread_kill`` (what the kernel may do with ``kill``) and
expects ``serve`` to return promptly; before the fix it blocked for good.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

from grpc_helpers import KmsServicer, kms_registration

from osk8s_core.grpc.endpoint import parse_endpoint
from osk8s_core.grpc.server import ServerOptions, build_server


def test_signal_delivered_to_another_thread_still_stops_serve(sock_dir: Path) -> None:
    options = ServerOptions(endpoint=parse_endpoint(f"unix://{sock_dir}/s.sock"), grace_period=0)
    server = build_server(options, services=[kms_registration(KmsServicer())])
    parked = threading.Event()
    release = threading.Event()
    sent: list[float] = []
    default = signal.getsignal(signal.SIGTERM)

    def bystander() -> None:  # a thread that does not block SIGTERM, like grpc's
        parked.set()
        release.wait(60)

    def deliver() -> None:
        parked.wait(30)
        # Never before serve() handles SIGTERM: the default action would end the whole test
        # process (a slow main thread on a loaded machine is not there after a fixed sleep).
        deadline = time.monotonic() + 30
        while signal.getsignal(signal.SIGTERM) is default:
            if time.monotonic() > deadline:
                return  # not sent: the assertion below says so
            time.sleep(0.01)
        time.sleep(0.3)  # serve() is waiting by now (a signal during its start-up stops it too)
        sent.append(time.monotonic())
        signal.pthread_kill(helper.ident or 0, signal.SIGTERM)

    helper = threading.Thread(target=bystander, daemon=True)
    helper.start()
    threading.Thread(target=deliver, daemon=True).start()
    watchdog = threading.Timer(60, server.stop)  # the test fails instead of hanging
    watchdog.start()
    try:
        server.serve()
    finally:
        watchdog.cancel()
        release.set()
    assert sent, "the signal was never sent"
    # serve() polls every 0.2 s; the bound is far below the watchdog (slack for a loaded machine)
    assert time.monotonic() - sent[0] < 10, "serve() did not react to the signal in time"
    assert server.wait(0)
