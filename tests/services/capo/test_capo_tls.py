"""capo-controller-manager's ``--tls-min-version`` / ``--tls-cipher-suites``.

As CAPI's flags.GetManagerOptions: they configure both the webhook server and the secure
diagnostics (metrics) server; an unknown value stops the process with exit 1 ("Unable to
start manager: invalid flags"). The manager is built by ``app.build`` from the binary's own
flag parser, its webhook runnable and diagnostics server started, and a stdlib TLS client
shakes hands with both.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from osk8s_capo import app
from osk8s_capo.cli import build_parser
from osk8s_core.errors import ConfigError
from osk8s_core.health import HealthServer
from osk8s_testing.local import free_port, offline_kubeconfig
from osk8s_testing.tls import handshake, self_signed_localhost

BIN = Path(sys.executable).parent / "capo-controller-manager"
# The webhook serves the test tooling's EC (P-256) pair; the diagnostics server, given no
# certificate, its self-signed RSA 2048 one (as controller-runtime's). The list holds one
# AES-128 suite of each kind; the AES-256 suite of the same kind is the one left out.
LISTED = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
LISTED_RSA = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
SUITES = {  # server: (listed, not listed), OpenSSL names
    "webhook": ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384"),
    "diagnostics": ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"),
}
REFUSED = (ssl.SSLError, ConnectionResetError)


@dataclass(frozen=True)
class Ports:
    webhook: int
    diagnostics: int


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _manager(tmp: Path, *flags: str) -> Iterator[Ports]:
    """The manager as ``app.run`` builds it; its webhook runnable and servers started."""
    certs = tmp / "serving-certs"
    certs.mkdir()
    self_signed_localhost(certs)
    ports = Ports(webhook=free_port(), diagnostics=free_port())
    args = build_parser().parse_args(
        [
            f"--kubeconfig={offline_kubeconfig(tmp)}",
            f"--webhook-port={ports.webhook}",
            f"--webhook-cert-dir={certs}",
            f"--diagnostics-address=127.0.0.1:{ports.diagnostics}",
            "--health-addr=0",
            *flags,
        ]
    )
    manager = app.build(args, environ={})
    stop = threading.Event()
    webhook = threading.Thread(target=dict(manager._runnables)["webhook-server"], args=(stop,))
    webhook.start()
    servers: list[HealthServer] = manager._start_servers()
    try:
        _wait_listening(ports.webhook)
        yield ports
    finally:
        stop.set()
        for server in servers:
            server.stop()
        webhook.join(timeout=5)
    assert not webhook.is_alive()


@pytest.fixture(scope="module")
def tls13(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ports]:
    yield from _manager(tmp_path_factory.mktemp("capo-tls13"), "--tls-min-version=VersionTLS13")


@pytest.fixture(scope="module")
def ciphers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ports]:
    # pflag StringSlice forms: a comma list, then the flag again with a separate value
    yield from _manager(
        tmp_path_factory.mktemp("capo-ciphers"),
        f"--tls-cipher-suites={LISTED},{LISTED_RSA}",
        "--tls-cipher-suites",
        "TLS_AES_128_GCM_SHA256",
    )


@pytest.mark.parametrize("server", ["webhook", "diagnostics"])
def test_tls13_minimum(tls13: Ports, server: str) -> None:
    port = getattr(tls13, server)
    with pytest.raises(REFUSED):
        handshake(port, max_version=ssl.TLSVersion.TLSv1_2)
    assert handshake(port)[0] == "TLSv1.3"


@pytest.mark.parametrize("server", ["webhook", "diagnostics"])
def test_cipher_suites(ciphers: Ports, server: str) -> None:
    port = getattr(ciphers, server)
    listed_suite, other_suite = SUITES[server]
    with pytest.raises(REFUSED):
        handshake(port, max_version=ssl.TLSVersion.TLSv1_2, ciphers=other_suite)
    listed = handshake(port, max_version=ssl.TLSVersion.TLSv1_2, ciphers=listed_suite)
    assert listed == ("TLSv1.2", listed_suite)
    assert handshake(port)[0] == "TLSv1.3"  # as Go: the list does not restrict TLS 1.3


def test_defaults_are_capis() -> None:
    options = app.options_from_args(build_parser().parse_args([]))
    assert options.tls.min_version == "VersionTLS12" and options.tls.cipher_suites == ()


def test_a_bad_cipher_suite_is_an_options_error() -> None:
    args = build_parser().parse_args(["--tls-cipher-suites=TLS_AES_128_GCM_SHA256,NOPE"])
    with pytest.raises(ConfigError, match="--tls-cipher-suites: cipher suite 'NOPE' not"):
        app.options_from_args(args)


def test_a_bad_value_exits_1_at_start(tmp_path: Path) -> None:
    """The real binary refuses the flag before any API call (nothing listens at the
    kubeconfig's address) with CAPO's exit status and message."""
    done = subprocess.run(
        [str(BIN), f"--kubeconfig={offline_kubeconfig(tmp_path)}", "--tls-min-version=TLS13"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Unable to start manager: invalid flags" in done.stderr
    assert 'unknown tls version "TLS13"' in done.stderr
