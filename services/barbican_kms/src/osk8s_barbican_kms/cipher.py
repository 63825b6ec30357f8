"""Encrypt and decrypt for both KMS API versions: size checks, key choice, format choice.

Encrypt always writes our envelope under the current key. Decrypt reads our envelope (the key
is named inside it) or, for migration, CPO's AES-CBC (the key is the one the request names,
else the current key). It never guesses among keys and never returns unauthenticated output
of our own format. No gRPC and no Barbican here: keys come from a ``KeyRingSource``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

from osk8s_barbican_kms import envelope, legacy
from osk8s_barbican_kms.errors import InvalidRequest, KeyMismatch
from osk8s_barbican_kms.keyring import KeyRing

MAX_PLAINTEXT: Final = 4 << 20
"""Default limit: a Secret is at most 1 MiB, so 4 MiB leaves room for any envelope."""
_ENVELOPE_OVERHEAD: Final = len(envelope.MAGIC) + 2 + envelope.MAX_KEY_ID_BYTES + 28


class KeyRingSource(Protocol):
    @property
    def ring(self) -> KeyRing: ...


@dataclass(frozen=True)
class Sealed:
    ciphertext: bytes
    key_id: str


class KmsCipher:
    """The cryptography behind every RPC; thread-safe (reads one ring snapshot per call)."""

    def __init__(self, *, keys: KeyRingSource, max_plaintext: int = MAX_PLAINTEXT) -> None:
        self._keys = keys
        self._max_plaintext = max_plaintext
        self._max_ciphertext = max_plaintext + _ENVELOPE_OVERHEAD

    def encrypt(self, plaintext: bytes) -> Sealed:
        if not plaintext:
            raise InvalidRequest("plaintext is empty")
        if len(plaintext) > self._max_plaintext:
            raise InvalidRequest(
                f"plaintext is {len(plaintext)} bytes, more than the {self._max_plaintext} allowed"
            )
        ring = self._keys.ring
        key = ring.current()
        return Sealed(envelope.seal(key.aead, ring.current_header, plaintext), key.key_id)

    def decrypt(self, ciphertext: bytes, *, key_id: str = "") -> bytes:
        """``key_id`` is what kube-apiserver stored with the data (KMS v2), or empty (v1)."""
        if not ciphertext:
            raise InvalidRequest("ciphertext is empty")
        if len(ciphertext) > self._max_ciphertext:
            raise InvalidRequest(f"ciphertext is {len(ciphertext)} bytes, larger than we write")
        ring = self._keys.ring
        if envelope.is_envelope(ciphertext):
            parsed = envelope.parse(ciphertext)
            if key_id and key_id != parsed.key_id:
                raise KeyMismatch(
                    f"request key_id {key_id} differs from key {parsed.key_id} of the ciphertext"
                )
            return envelope.open_envelope(ring.get(parsed.key_id).aead, parsed)
        key = ring.get(key_id) if key_id else ring.current()
        return legacy.decrypt_cbc(key.legacy_key, ciphertext)
