"""A throw-away self-signed TLS pair for 127.0.0.1 (test tooling and the demo only).

The certificate is its own CA bundle, so a client verifies it with ``verify=cert``. The key
file is written 0600. ``handshake`` is a stdlib TLS client with a chosen highest version and
cipher list, to check what a server accepts. Never used by the core or a service.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class TlsFiles:
    cert: str
    key: str


def self_signed_localhost(directory: Path, *, days: int = 1) -> TlsFiles:
    """Write ``tls.crt`` / ``tls.key`` for 127.0.0.1 into ``directory`` and return the paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "tls.crt"
    key_path = directory / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    return TlsFiles(cert=str(cert_path), key=str(key_path))


def handshake(
    port: int,
    *,
    host: str = "127.0.0.1",
    max_version: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
    timeout: float = 5.0,
) -> tuple[str, str]:
    """One TLS handshake with the server on ``host:port``: (protocol version, cipher name).

    ``max_version`` caps the client (``TLSv1_2``: it cannot speak TLS 1.3); ``ciphers`` is the
    OpenSSL list it offers for TLS <= 1.2. The server is not verified: only the handshake is
    under test. A refused handshake raises ``ssl.SSLError`` (or ``OSError`` if reset).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if max_version is not None:
        context.maximum_version = max_version
    if ciphers is not None:
        context.set_ciphers(ciphers)
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        version, cipher = tls.version(), tls.cipher()
        assert version is not None and cipher is not None
        return version, cipher[0]
