"""One loaded key: the Barbican payload checked for size and turned into ready cipher objects.

The raw payload is kept only for CPO's AES-CBC format (which used it directly); our own format
uses an AES-256-GCM key derived from it with HKDF, so one secret never serves two modes with
the same key. Nothing here fetches, logs or prints key material: ``repr`` shows the id only.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from osk8s_barbican_kms.errors import KeyMaterialError

AES_KEY_SIZES: Final = frozenset({16, 24, 32})
"""Payload sizes accepted (AES-128/192/256, as CPO)."""
_GCM_INFO: Final = b"osk8s barbican-kms envelope v1 aes-256-gcm"


class LoadedKey:
    """A key ready for use; immutable after construction and safe to share across threads."""

    __slots__ = ("_raw", "aead", "key_id")

    def __init__(self, key_id: str, payload: bytes) -> None:
        if len(payload) not in AES_KEY_SIZES:
            raise KeyMaterialError(
                f"Barbican secret {key_id} holds {len(payload)} bytes, not an AES key",
                section="KeyManager",
                key="key-id",
                expected="a secret whose payload is 16, 24 or 32 raw bytes "
                "(payload-content-type application/octet-stream)",
            )
        self.key_id = key_id
        self._raw = bytes(payload)
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_GCM_INFO).derive(
            self._raw
        )
        self.aead = AESGCM(derived)
        """AES-256-GCM under the derived key (our envelope format)."""

    @property
    def legacy_key(self) -> bytes:
        """The payload as CPO used it for AES-CBC; only the legacy decoder may read it."""
        return self._raw

    def same_material(self, other: LoadedKey) -> bool:
        return self._raw == other._raw

    def __repr__(self) -> str:
        return f"LoadedKey(key_id={self.key_id!r}, bits={len(self._raw) * 8})"
