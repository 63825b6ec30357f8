"""openstack-cloud-controller-manager's ``--tls-min-version`` / ``--tls-cipher-suites``.

Upstream (k8s.io/apiserver SecureServingOptions.ApplyTo) applies them to the secure port and
fails on an unknown name; the command then exits 1. Here: the ccm's own flag parsing and
``options_from_args``, then the secure port as ``app`` serves it, and a stdlib TLS client.
"""

from __future__ import annotations

import io
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from osk8s_ccm import app
from osk8s_ccm.ccm_metrics import CcmMetrics
from osk8s_ccm.cli import build_parser, main
from osk8s_ccm.options import options_from_args
from osk8s_core.health import HealthChecks
from osk8s_testing.local import free_port, offline_kubeconfig
from osk8s_testing.tls import handshake

# A common RSA-only hardening list: the self-signed serving certificate is RSA 2048 as
# upstream's, so TLS 1.2 clients get one of these (with an EC certificate none could).
LISTED = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
LISTED_OPENSSL = "ECDHE-RSA-AES128-GCM-SHA256"
ALSO_LISTED = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
ALSO_LISTED_OPENSSL = "ECDHE-RSA-AES256-GCM-SHA384"
OTHER_OPENSSL = "ECDHE-RSA-CHACHA20-POLY1305"


def _serve(tmp: Path, *flags: str) -> Iterator[int]:
    """The ccm's secure port, built from its flags as ``app.run`` builds it."""
    kubeconfig = offline_kubeconfig(tmp)  # TokenReview/SAR client only: never reached
    port = free_port()
    ns = build_parser().parse_args(
        [
            "--cloud-provider=openstack",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            *flags,
        ]
    )
    options = options_from_args(ns, user_agent="test/1")
    server = app._serve(options, CcmMetrics.create(), HealthChecks())
    assert server is not None
    try:
        yield server.address[1]
    finally:
        server.stop()


@pytest.fixture(scope="module")
def tls13_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    yield from _serve(tmp_path_factory.mktemp("ccm-tls13"), "--tls-min-version=VersionTLS13")


@pytest.fixture(scope="module")
def cipher_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    # pflag forms: a comma list, then the flag repeated with a space-separated value
    yield from _serve(
        tmp_path_factory.mktemp("ccm-ciphers"),
        f"--tls-cipher-suites={LISTED},{ALSO_LISTED}",
        "--tls-cipher-suites",
        "TLS_AES_128_GCM_SHA256",
    )


def test_tls13_minimum_on_the_secure_port(tls13_port: int) -> None:
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        handshake(tls13_port, max_version=ssl.TLSVersion.TLSv1_2)
    assert handshake(tls13_port)[0] == "TLSv1.3"


def test_cipher_suites_on_the_secure_port(cipher_port: int) -> None:
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        handshake(cipher_port, max_version=ssl.TLSVersion.TLSv1_2, ciphers=OTHER_OPENSSL)
    listed = handshake(cipher_port, max_version=ssl.TLSVersion.TLSv1_2, ciphers=LISTED_OPENSSL)
    assert listed == ("TLSv1.2", LISTED_OPENSSL)


def test_an_rsa_only_list_serves_tls12_clients_on_the_self_signed_port(cipher_port: int) -> None:
    """No --tls-cert-file: the self-signed pair is RSA 2048 as client-go's, so an operator's
    ECDHE_RSA-only list (written for upstream) still serves every TLS 1.2 client offering it."""
    for suite in (LISTED_OPENSSL, ALSO_LISTED_OPENSSL):
        assert handshake(cipher_port, max_version=ssl.TLSVersion.TLSv1_2, ciphers=suite) == (
            "TLSv1.2",
            suite,
        )
    # a client offering everything at TLS 1.2 gets a listed suite
    assert handshake(cipher_port, max_version=ssl.TLSVersion.TLSv1_2)[1] in {
        LISTED_OPENSSL,
        ALSO_LISTED_OPENSSL,
    }
    assert handshake(cipher_port)[0] == "TLSv1.3"  # TLS 1.3 is not restricted, as in Go


def test_the_flags_are_no_longer_named_as_without_effect() -> None:
    parser = build_parser()
    parser.warning_stream = io.StringIO()
    ns = parser.parse_args(
        [
            "--cloud-provider=openstack",
            "--tls-min-version=VersionTLS13",
            f"--tls-cipher-suites={LISTED}",
        ]
    )
    assert "--tls-" not in parser.warning_stream.getvalue()
    serving = options_from_args(ns, user_agent="t/1").serving
    assert serving.tls.min_version == "VersionTLS13"
    assert serving.tls.cipher_suites == (LISTED,)


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--tls-min-version=VersionTLS14", 'unknown tls version "VersionTLS14"'),
        ("--tls-cipher-suites=TLS_NOPE_WITH_NOTHING", "'TLS_NOPE_WITH_NOTHING' not supported"),
        # RC4 is gone from OpenSSL 3: a suite upstream knows but this build cannot offer
        ("--tls-cipher-suites=TLS_RSA_WITH_RC4_128_SHA", "cannot be offered"),
    ],
)
def test_a_bad_value_exits_1_naming_it(
    flag: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--cloud-provider=openstack", flag]) == 1
    err = capsys.readouterr().err
    assert message in err
    assert flag.split("=", 1)[0] in err
