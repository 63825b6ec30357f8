"""Secure serving options and the serving certificate, as Kubernetes' controller managers have them.

``SecureServingOptions`` is what k8s.io/apiserver's SecureServingOptions + delegating
authentication/authorization options hold for a controller manager (flags: see
``osk8s_core.cli.secure_serving``). Without ``--tls-cert-file``/``--tls-private-key-file`` a
self-signed pair (RSA 2048, as upstream's) for ``localhost``/``127.0.0.1`` is made in memory, as
upstream does when no certificate directory is set; Python's ``ssl`` only loads files, so the
pair passes through a private temporary directory (0700, key 0600) that is removed at once.
``--tls-min-version`` and ``--tls-cipher-suites`` (``TlsOptions``) apply to the context, as
upstream's ApplyTo does.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from osk8s_core.errors import ConfigError
from osk8s_core.k8s.tls_options import TlsOptions

DEFAULT_ALWAYS_ALLOW_PATHS: Final = ("/healthz", "/readyz", "/livez")
"""k8s.io/apiserver NewDelegatingAuthorizationOptions' default, kept by the controller managers."""
OCCM_SECURE_PORT: Final = 10258
"""cloud-controller-manager's --secure-port default (k8s.io/cloud-provider)."""


@dataclass(frozen=True)
class SecureServingOptions:
    bind_address: str = "0.0.0.0"
    """``--bind-address``: IP to listen on (empty means all interfaces, as upstream)."""
    secure_port: int = OCCM_SECURE_PORT
    """``--secure-port``: 0 disables HTTPS serving."""
    tls_cert_file: str = ""
    """``--tls-cert-file``: PEM certificate (chain); empty with no key = self-signed."""
    tls_private_key_file: str = ""
    """``--tls-private-key-file``: PEM key matching the certificate."""
    authentication_kubeconfig: str = ""
    """``--authentication-kubeconfig``: where TokenReviews go; empty = in-cluster / default."""
    authorization_kubeconfig: str = ""
    """``--authorization-kubeconfig``: where SubjectAccessReviews go; empty = in-cluster."""
    authorization_always_allow_paths: tuple[str, ...] = DEFAULT_ALWAYS_ALLOW_PATHS
    """``--authorization-always-allow-paths``: served without authorization."""
    authentication_skip_lookup: bool = False
    """``--authentication-skip-lookup``: accepted; there is no client-CA lookup to skip."""
    authentication_cache_ttl: float = 10.0
    """``--authentication-token-webhook-cache-ttl`` (seconds)."""
    authorization_allow_cache_ttl: float = 10.0
    """``--authorization-webhook-cache-authorized-ttl`` (seconds)."""
    authorization_deny_cache_ttl: float = 10.0
    """``--authorization-webhook-cache-unauthorized-ttl`` (seconds)."""
    tls: TlsOptions = field(default_factory=TlsOptions)
    """``--tls-min-version`` / ``--tls-cipher-suites``: default TLS 1.2 minimum, OpenSSL ciphers."""

    def __post_init__(self) -> None:
        if not 0 <= self.secure_port <= 65535:
            raise ConfigError(f"--secure-port {self.secure_port} must be between 0 and 65535")
        if bool(self.tls_cert_file) != bool(self.tls_private_key_file):
            raise ConfigError("--tls-cert-file and --tls-private-key-file must be given together")
        if self.bind_address:
            try:
                ipaddress.ip_address(self.bind_address)
            except ValueError:
                raise ConfigError(f"--bind-address {self.bind_address!r} is not an IP") from None


def _self_signed_pem(host: str) -> tuple[bytes, bytes]:
    """(certificate, key) PEM for ``localhost``, 127.0.0.1 and ``host``, valid one year."""
    # lazy: options are imported by flag parsing, which must stay cheap
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    # RSA 2048 as upstream (client-go util/cert GenerateSelfSignedCertKey): an operator's
    # --tls-cipher-suites written for upstream may list only ECDHE_RSA suites, which an EC
    # key could not serve at TLS 1.2.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"localhost@{int(now.timestamp())}")])
    ips = {ipaddress.ip_address("127.0.0.1")}
    if host and not ipaddress.ip_address(host).is_unspecified:
        ips.add(ipaddress.ip_address(host))
    sans: list[x509.GeneralName] = [x509.DNSName("localhost")]
    sans += [x509.IPAddress(ip) for ip in sorted(ips, key=str)]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def server_ssl_context(options: SecureServingOptions) -> ssl.SSLContext:
    """The TLS server context: the given pair, or a fresh self-signed one."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    options.tls.apply(context)  # default: TLS 1.2 minimum, Go's crypto/tls server default
    if options.tls_cert_file:
        try:
            context.load_cert_chain(options.tls_cert_file, options.tls_private_key_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot load --tls-cert-file/--tls-private-key-file: {type(exc).__name__}: "
                f"{getattr(exc, 'strerror', None) or exc}"
            ) from None
        return context
    cert_pem, key_pem = _self_signed_pem(options.bind_address)
    with tempfile.TemporaryDirectory(prefix="osk8s-serving-") as directory:
        cert_path = Path(directory) / "tls.crt"
        key_path = Path(directory) / "tls.key"
        cert_path.write_bytes(cert_pem)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key_pem)
        context.load_cert_chain(str(cert_path), str(key_path))
    return context
