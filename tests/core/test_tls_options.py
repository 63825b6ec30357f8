"""``--tls-min-version`` / ``--tls-cipher-suites``: Go's names parsed, checked and applied.

Parsing is pinned against k8s.io/component-base/cli/flag (names, errors, the empty default);
what the flags do is checked with real handshakes of the stdlib client against the core's
HTTPS server built from the parsed flags (``secure_serving_options`` -> ``server_ssl_context``).
"""

from __future__ import annotations

import socket
import ssl
import warnings
from collections.abc import Generator, Iterator, Sequence

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from prometheus_client import CollectorRegistry

from osk8s_core.cli import GoFlagParser
from osk8s_core.cli.secure_serving import add_secure_serving_flags, secure_serving_options
from osk8s_core.errors import ConfigError
from osk8s_core.health import HealthServer
from osk8s_core.k8s.secure_serving import SecureServingOptions, server_ssl_context
from osk8s_core.k8s.tls_options import (
    CIPHER_SUITES,
    TLS_VERSIONS,
    TlsOptions,
    tls_options,
    warn_unavailable,
)
from osk8s_testing.tls import handshake

# The self-signed serving certificate is RSA 2048 (as upstream's): ECDHE_RSA suites serve it.
LISTED = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
LISTED_OPENSSL = "ECDHE-RSA-AES128-GCM-SHA256"
OTHER_OPENSSL = "ECDHE-RSA-AES256-GCM-SHA384"


def _openssl_has(name: str) -> bool:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.set_ciphers(name)
    except ssl.SSLError:
        return False
    return True


def _parse(*argv: str) -> SecureServingOptions:
    parser = GoFlagParser(prog="t")
    add_secure_serving_flags(parser)
    return secure_serving_options(parser.parse_args(list(argv)))


# --- parsing ---------------------------------------------------------------------------


def test_no_flags_keep_todays_behaviour() -> None:
    options = _parse()
    assert options.tls == TlsOptions()
    assert options.tls.minimum_version is ssl.TLSVersion.TLSv1_2
    context = server_ssl_context(options)
    default = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert [c["name"] for c in context.get_ciphers()] == [c["name"] for c in default.get_ciphers()]


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("VersionTLS10", ssl.TLSVersion.TLSv1),
        ("VersionTLS11", ssl.TLSVersion.TLSv1_1),
        ("VersionTLS12", ssl.TLSVersion.TLSv1_2),
        ("VersionTLS13", ssl.TLSVersion.TLSv1_3),
        ("", ssl.TLSVersion.TLSv1_2),  # component-base: empty = DefaultTLSVersion
    ],
)
def test_go_version_names(name: str, version: ssl.TLSVersion) -> None:
    options = tls_options(name, ())
    assert options.minimum_version is version
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    options.apply(context)
    assert context.minimum_version is version


@pytest.mark.parametrize("bad", ["VersionTLS14", "TLS1.2", "versiontls12", "1.3"])
def test_an_unknown_version_is_named(bad: str) -> None:
    with pytest.raises(ConfigError, match=f'--tls-min-version: unknown tls version "{bad}"'):
        _parse(f"--tls-min-version={bad}")


@pytest.mark.parametrize(
    "bad", ["TLS_FOO", "ECDHE-RSA-AES128-GCM-SHA256", "tls_aes_128_gcm_sha256", " TLS_X"]
)
def test_an_unknown_cipher_suite_is_named(bad: str) -> None:
    with pytest.raises(ConfigError, match="--tls-cipher-suites") as caught:
        _parse(f"--tls-cipher-suites=TLS_AES_128_GCM_SHA256,{bad}")
    assert repr(bad) in str(caught.value)
    assert "not supported or doesn't exist" in str(caught.value)


def test_comma_lists_and_repeated_flags_accumulate_as_pflag() -> None:
    options = _parse(
        "--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,"
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "--tls-cipher-suites",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        "--tls-min-version",
        "VersionTLS13",
    )
    assert options.tls.min_version == "VersionTLS13"
    assert options.tls.cipher_suites == (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    )
    assert options.tls.openssl_ciphers() == (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )


def test_the_name_table_matches_openssl_by_iana_number() -> None:
    """Each OpenSSL name we map to is the suite Go's name means (same IANA number), and the
    table holds component-base's full set: 13 secure + 2 legacy spellings + 12 insecure."""
    assert len(CIPHER_SUITES) == 27
    assert sum(suite.insecure for suite in CIPHER_SUITES.values()) == 12
    everything = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    everything.set_ciphers("ALL:@SECLEVEL=0")
    known = {c["name"]: c["id"] & 0xFFFF for c in everything.get_ciphers()}
    for go_name, suite in CIPHER_SUITES.items():
        if suite.openssl_name and suite.openssl_name in known:
            assert known[suite.openssl_name] == suite.iana_id, go_name
        if not suite.openssl_name:
            assert go_name in known and known[go_name] == suite.iana_id  # TLS 1.3: same name
    # every suite Go calls secure is one this OpenSSL offers
    for go_name, suite in CIPHER_SUITES.items():
        if not suite.insecure and suite.openssl_name:
            assert _openssl_has(suite.openssl_name), go_name


def test_legacy_chacha_spellings_mean_the_same_suite() -> None:
    old = tls_options("", ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"])
    new = tls_options("", ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"])
    assert old.openssl_ciphers() == new.openssl_ciphers() == ("ECDHE-ECDSA-CHACHA20-POLY1305",)


def test_a_suite_this_openssl_cannot_offer_is_left_out_with_a_warning() -> None:
    """Go would still offer RC4/3DES when listed; an upstream list must still start the pod,
    so such a suite is left out (and warned about), the others are served."""
    if _openssl_has("RC4-SHA"):
        pytest.skip("this OpenSSL still offers RC4")
    options = tls_options("", [LISTED, "TLS_RSA_WITH_RC4_128_SHA"])
    assert options.unavailable_suites() == ("TLS_RSA_WITH_RC4_128_SHA",)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    options.apply(context)
    tls12 = {c["name"] for c in context.get_ciphers() if c["protocol"] != "TLSv1.3"}
    assert tls12 == {CIPHER_SUITES[LISTED].openssl_name}

    class Recorder:
        def __init__(self) -> None:
            self.lines: list[tuple[str, dict[str, str]]] = []

        def warning(self, event: str, **fields: str) -> None:
            self.lines.append((event, fields))

    log = Recorder()
    warn_unavailable(options, log)
    assert [(e, f["suites"]) for e, f in log.lines] == [
        (
            "--tls-cipher-suites: left out, this TLS library cannot offer them",
            "TLS_RSA_WITH_RC4_128_SHA",
        )
    ]
    quiet = Recorder()
    warn_unavailable(tls_options("", [LISTED]), quiet)
    assert quiet.lines == []


def test_no_offerable_suite_at_all_is_a_clear_error() -> None:
    if _openssl_has("RC4-SHA"):
        pytest.skip("this OpenSSL still offers RC4")
    with pytest.raises(ConfigError, match="TLS_ECDHE_RSA_WITH_RC4_128_SHA cannot be offered"):
        tls_options("", ["TLS_ECDHE_RSA_WITH_RC4_128_SHA"])
    with pytest.raises(ConfigError, match="list at least one it can"):
        tls_options("", ["TLS_RSA_WITH_RC4_128_SHA", "TLS_AES_128_GCM_SHA256"])


def test_only_tls13_names_leave_tls13_as_the_floor() -> None:
    """Go: CipherSuites never restricts TLS 1.3, and with no TLS 1.2 suite listed no TLS 1.2
    handshake can agree on one; the same outcome here is a TLS 1.3 minimum."""
    options = tls_options("VersionTLS12", ["TLS_AES_128_GCM_SHA256"])
    assert options.openssl_ciphers() == ()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    options.apply(context)
    assert context.minimum_version is ssl.TLSVersion.TLSv1_3


def test_tls13_suites_stay_offered_with_a_tls12_list() -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_options("", [LISTED]).apply(context)
    offered = [c["name"] for c in context.get_ciphers()]
    tls13 = [c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.3"]
    assert LISTED_OPENSSL in offered and OTHER_OPENSSL not in offered
    assert set(tls13) == {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                          "TLS_CHACHA20_POLY1305_SHA256"}  # fmt: skip


def test_version_names_are_go_s() -> None:
    assert list(TLS_VERSIONS) == ["VersionTLS10", "VersionTLS11", "VersionTLS12", "VersionTLS13"]


# --- real handshakes against the core HTTPS server built from the flags ------------------


def _serve(argv: Sequence[str]) -> Generator[int, None, None]:
    options = _parse("--bind-address=127.0.0.1", *argv)
    server = HealthServer(
        registry=CollectorRegistry(),
        host="127.0.0.1",
        port=0,
        ssl_context=server_ssl_context(options),
        poll_interval=0.05,
    ).start()
    try:
        yield server.address[1]
    finally:
        server.stop()


@pytest.fixture(scope="module")
def tls13_port() -> Iterator[int]:
    yield from _serve(["--tls-min-version=VersionTLS13"])


@pytest.fixture(scope="module")
def cipher_port() -> Iterator[int]:
    yield from _serve([f"--tls-cipher-suites={LISTED}"])


@pytest.fixture(scope="module")
def default_port() -> Iterator[int]:
    yield from _serve([])


def test_tls13_minimum_refuses_a_tls12_client(tls13_port: int) -> None:
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        handshake(tls13_port, max_version=ssl.TLSVersion.TLSv1_2)
    assert handshake(tls13_port)[0] == "TLSv1.3"


def test_cipher_list_refuses_a_client_offering_only_another_suite(cipher_port: int) -> None:
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        handshake(cipher_port, max_version=ssl.TLSVersion.TLSv1_2, ciphers=OTHER_OPENSSL)
    listed = handshake(cipher_port, max_version=ssl.TLSVersion.TLSv1_2, ciphers=LISTED_OPENSSL)
    assert listed == ("TLSv1.2", LISTED_OPENSSL)
    assert handshake(cipher_port)[0] == "TLSv1.3"  # TLS 1.3 is not restricted, as in Go


def test_tls10_minimum_does_not_lower_openssl_s_security_level() -> None:
    """Set as asked, yet a TLS 1.0 client (itself at security level 0) is still refused: the
    documented difference from Go, which would serve it."""
    ports = _serve(["--tls-min-version=VersionTLS10"])
    port = next(ports)
    try:
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
        client.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            client.minimum_version = client.maximum_version = ssl.TLSVersion.TLSv1
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            pytest.raises((ssl.SSLError, ConnectionResetError)),
        ):
            client.wrap_socket(raw)
        assert handshake(port, max_version=ssl.TLSVersion.TLSv1_2)[0] == "TLSv1.2"
    finally:
        ports.close()


def test_without_flags_both_clients_are_served(default_port: int) -> None:
    """The control: what the two tests above refuse is served when no flag is given."""
    assert handshake(default_port, max_version=ssl.TLSVersion.TLSv1_2)[0] == "TLSv1.2"
    other = handshake(default_port, max_version=ssl.TLSVersion.TLSv1_2, ciphers=OTHER_OPENSSL)
    assert other == ("TLSv1.2", OTHER_OPENSSL)


def test_the_self_signed_certificate_is_rsa_2048_as_upstream_s(default_port: int) -> None:
    """client-go's GenerateSelfSignedCertKey makes RSA 2048 keys; an ECDHE_RSA-only
    --tls-cipher-suites written for upstream needs an RSA certificate at TLS 1.2."""
    pem = ssl.get_server_certificate(("127.0.0.1", default_port), timeout=5)
    key = x509.load_pem_x509_certificate(pem.encode()).public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048
