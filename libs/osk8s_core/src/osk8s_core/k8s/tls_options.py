"""``--tls-min-version`` / ``--tls-cipher-suites`` as Kubernetes components and CAPI take them.

The names are Go's: ``VersionTLS10``..``VersionTLS13`` and crypto/tls cipher suite names, the
set k8s.io/component-base/cli/flag accepts (secure and insecure, plus its two legacy CHACHA20
spellings). ``TlsOptions`` checks them once, when made, and ``apply`` puts them on an
``ssl.SSLContext``. As in Go, the cipher list restricts TLS 1.0-1.2 only: TLS 1.3 suites are
accepted and TLS 1.3 keeps its fixed set. A suite this OpenSSL cannot offer (RC4, 3DES: Go
still would) is left out with a warning at start, so an operator's list written for upstream
still starts the pod; only when none of the TLS 1.0-1.2 suites asked for can be offered is it a
``ConfigError``, never a server silently offering something else. No flags = today's
behaviour: TLS 1.2 minimum, OpenSSL's default ciphers. ``VersionTLS10``/``VersionTLS11`` are
accepted and set, but OpenSSL 3's default security level still fails TLS 1.0/1.1 handshakes
(it refuses their SHA-1 signatures); the security level is not lowered for them.
"""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from osk8s_core.errors import ConfigError

MIN_VERSION_FLAG: Final = "--tls-min-version"
CIPHER_SUITES_FLAG: Final = "--tls-cipher-suites"
DEFAULT_MIN_VERSION: Final = "VersionTLS12"
"""component-base's DefaultTLSVersion (an empty --tls-min-version means this)."""

TLS_VERSIONS: Final[Mapping[str, ssl.TLSVersion]] = {
    "VersionTLS10": ssl.TLSVersion.TLSv1,
    "VersionTLS11": ssl.TLSVersion.TLSv1_1,
    "VersionTLS12": ssl.TLSVersion.TLSv1_2,
    "VersionTLS13": ssl.TLSVersion.TLSv1_3,
}


@dataclass(frozen=True)
class CipherSuite:
    iana_id: int
    """The suite's IANA number (what OpenSSL reports as ``id & 0xffff``)."""
    openssl_name: str
    """OpenSSL's name for a TLS <= 1.2 suite; empty for TLS 1.3 suites (not configurable)."""
    insecure: bool = False
    """In Go's ``tls.InsecureCipherSuites()`` (component-base still accepts it)."""


def _suite(iana_id: int, openssl_name: str, *, insecure: bool = False) -> CipherSuite:
    return CipherSuite(iana_id=iana_id, openssl_name=openssl_name, insecure=insecure)


CIPHER_SUITES: Final[Mapping[str, CipherSuite]] = {
    # TLS 1.3 (Go: not configurable; accepted, they restrict nothing)
    "TLS_AES_128_GCM_SHA256": _suite(0x1301, ""),
    "TLS_AES_256_GCM_SHA384": _suite(0x1302, ""),
    "TLS_CHACHA20_POLY1305_SHA256": _suite(0x1303, ""),
    # tls.CipherSuites()
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": _suite(0xC009, "ECDHE-ECDSA-AES128-SHA"),
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": _suite(0xC00A, "ECDHE-ECDSA-AES256-SHA"),
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": _suite(0xC013, "ECDHE-RSA-AES128-SHA"),
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": _suite(0xC014, "ECDHE-RSA-AES256-SHA"),
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": _suite(0xC02B, "ECDHE-ECDSA-AES128-GCM-SHA256"),
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": _suite(0xC02C, "ECDHE-ECDSA-AES256-GCM-SHA384"),
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": _suite(0xC02F, "ECDHE-RSA-AES128-GCM-SHA256"),
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": _suite(0xC030, "ECDHE-RSA-AES256-GCM-SHA384"),
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": _suite(0xCCA8, "ECDHE-RSA-CHACHA20-POLY1305"),
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": _suite(
        0xCCA9, "ECDHE-ECDSA-CHACHA20-POLY1305"
    ),
    # component-base keeps the pre-Go-1.14 spellings of the two CHACHA20 suites
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": _suite(0xCCA8, "ECDHE-RSA-CHACHA20-POLY1305"),
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": _suite(0xCCA9, "ECDHE-ECDSA-CHACHA20-POLY1305"),
    # tls.InsecureCipherSuites()
    "TLS_RSA_WITH_RC4_128_SHA": _suite(0x0005, "RC4-SHA", insecure=True),
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": _suite(0x000A, "DES-CBC3-SHA", insecure=True),
    "TLS_RSA_WITH_AES_128_CBC_SHA": _suite(0x002F, "AES128-SHA", insecure=True),
    "TLS_RSA_WITH_AES_256_CBC_SHA": _suite(0x0035, "AES256-SHA", insecure=True),
    "TLS_RSA_WITH_AES_128_CBC_SHA256": _suite(0x003C, "AES128-SHA256", insecure=True),
    "TLS_RSA_WITH_AES_128_GCM_SHA256": _suite(0x009C, "AES128-GCM-SHA256", insecure=True),
    "TLS_RSA_WITH_AES_256_GCM_SHA384": _suite(0x009D, "AES256-GCM-SHA384", insecure=True),
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA": _suite(0xC007, "ECDHE-ECDSA-RC4-SHA", insecure=True),
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA": _suite(0xC011, "ECDHE-RSA-RC4-SHA", insecure=True),
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": _suite(0xC012, "ECDHE-RSA-DES-CBC3-SHA", insecure=True),
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": _suite(
        0xC023, "ECDHE-ECDSA-AES128-SHA256", insecure=True
    ),
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": _suite(
        0xC027, "ECDHE-RSA-AES128-SHA256", insecure=True
    ),
}


@dataclass(frozen=True)
class TlsOptions:
    """A server's TLS floor and TLS <= 1.2 cipher suites, validated when made."""

    min_version: str = DEFAULT_MIN_VERSION
    """``--tls-min-version``: a Go name (``VersionTLS12``); empty means the default."""
    cipher_suites: tuple[str, ...] = ()
    """``--tls-cipher-suites``: Go names; empty keeps OpenSSL's default list."""

    def __post_init__(self) -> None:
        if self.min_version and self.min_version not in TLS_VERSIONS:
            raise ConfigError(
                f'{MIN_VERSION_FLAG}: unknown tls version "{self.min_version}" '
                f"(possible values: {', '.join(TLS_VERSIONS)})"
            )
        unknown = [name for name in self.cipher_suites if name not in CIPHER_SUITES]
        if unknown:
            raise ConfigError(
                f"{CIPHER_SUITES_FLAG}: cipher suite {', '.join(map(repr, unknown))} not "
                "supported or doesn't exist (Go crypto/tls names, e.g. "
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)"
            )
        if self.cipher_suites:
            # Fail at start, not at the first handshake, when OpenSSL can offer none of them.
            self.apply(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))

    @property
    def minimum_version(self) -> ssl.TLSVersion:
        return TLS_VERSIONS[self.min_version or DEFAULT_MIN_VERSION]

    def openssl_ciphers(self) -> tuple[str, ...]:
        """OpenSSL names of the TLS <= 1.2 suites asked for, in order, without repeats."""
        names = (CIPHER_SUITES[name].openssl_name for name in self.cipher_suites)
        return tuple(dict.fromkeys(name for name in names if name))

    def apply(self, context: ssl.SSLContext) -> None:
        """Set the minimum version and (when given) the TLS <= 1.2 cipher list on ``context``."""
        with warnings.catch_warnings():
            # Python deprecates naming TLS 1.0/1.1; the operator asked for them explicitly.
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = self.minimum_version
        if not self.cipher_suites:
            return
        wanted = self.openssl_ciphers()
        if not wanted:
            # Only TLS 1.3 names: Go then has no TLS 1.2 suite to agree on, so only TLS 1.3
            # handshakes succeed. The same, said to OpenSSL: TLS 1.3 is the floor.
            context.minimum_version = ssl.TLSVersion.TLSv1_3
            return
        missing = self.unavailable_suites()
        usable = [name for name in wanted if name not in _openssl_names(missing)]
        if not usable:
            raise ConfigError(
                f"{CIPHER_SUITES_FLAG}: {', '.join(missing)} cannot be offered by this "
                f"build's TLS library ({ssl.OPENSSL_VERSION}); list at least one it can"
            )
        context.set_ciphers(":".join(usable))

    def unavailable_suites(self) -> tuple[str, ...]:
        """The TLS <= 1.2 suites asked for that this OpenSSL cannot offer (Go names, in order);
        ``apply`` leaves them out and the caller warns."""
        offered: set[str] = set()
        for name in self.openssl_ciphers():
            probe = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            try:
                probe.set_ciphers(name)
            except ssl.SSLError:
                continue
            offered |= {cipher["name"] for cipher in probe.get_ciphers()}
        return tuple(
            name
            for name in dict.fromkeys(self.cipher_suites)
            if CIPHER_SUITES[name].openssl_name and CIPHER_SUITES[name].openssl_name not in offered
        )


def warn_unavailable(options: TlsOptions, log: Any) -> None:
    """One warning at start naming the suites ``apply`` leaves out (nothing when none)."""
    if missing := options.unavailable_suites():
        log.warning(
            f"{CIPHER_SUITES_FLAG}: left out, this TLS library cannot offer them",
            suites=",".join(missing),
            library=ssl.OPENSSL_VERSION,
        )


def _openssl_names(go_names: Iterable[str]) -> set[str]:
    return {CIPHER_SUITES[name].openssl_name for name in go_names}


def tls_options(min_version: str, cipher_suites: Iterable[str]) -> TlsOptions:
    """The parsed flag values as options (``ConfigError`` names a bad value)."""
    return TlsOptions(
        min_version=min_version or DEFAULT_MIN_VERSION,
        cipher_suites=tuple(name for name in cipher_suites if name),
    )
