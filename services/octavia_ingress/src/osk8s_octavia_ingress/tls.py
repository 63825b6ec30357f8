"""TLS Secrets of an Ingress → PKCS#12 bundles in Barbican (what Octavia's TERMINATED_HTTPS
listeners read), as CPO: the Secret's ``tls.key`` and the first certificate of ``tls.crt``,
the rest of the PEM bundle as CA chain, no password; stored base64 as
``application/octet-stream`` under ``kube_ingress_<cluster>_<ns>_<ingress>_<secret>``.
A secret of that name is reused (find-first), so a retry never stores a second one.
Key material never reaches a log line or an error message.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from osk8s_octavia_ingress.desired import IngressError

KEY_NAME = "tls.key"
CERT_NAME = "tls.crt"
_PKCS12_KEYS = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    dsa.DSAPrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
)


class SecretStore(Protocol):
    def store_bytes(
        self, name: str, payload: bytes, *, secret_type: str = "symmetric", **attrs: Any
    ) -> str: ...


def pkcs12_bundle(secret: Mapping[str, Any], *, name: str) -> bytes:
    """The PKCS#12 bytes of a ``kubernetes.io/tls``-shaped Secret; IngressError if a key is
    missing or unreadable (the message names the key, never its content)."""
    data = secret.get("data") or {}
    for key in (KEY_NAME, CERT_NAME):
        if key not in data:
            raise IngressError(f"{key} key doesn't exist in the secret {name}")
    try:
        key_pem = base64.b64decode(data[KEY_NAME])
        private_key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise IngressError(f"{KEY_NAME} of the secret {name} is not a PEM private key") from None
    try:
        certs = x509.load_pem_x509_certificates(base64.b64decode(data[CERT_NAME]))
    except ValueError:
        raise IngressError(f"{CERT_NAME} of the secret {name} is not a PEM bundle") from None
    if not isinstance(private_key, _PKCS12_KEYS):
        raise IngressError(f"{KEY_NAME} of the secret {name}: unsupported key type")
    return pkcs12.serialize_key_and_certificates(
        None, private_key, certs[0], certs[1:] or None, serialization.NoEncryption()
    )


def store(store: SecretStore, barbican_name: str, bundle: bytes) -> str:
    """The Barbican href of the bundle stored under ``barbican_name`` (find-first)."""
    return store.store_bytes(barbican_name, bundle, secret_type="opaque")
