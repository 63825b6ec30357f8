"""Encrypt and decrypt for both KMS API versions: size checks, key choice, format choice.

KMS v2 Encrypt writes the ring's ``write-format`` under the current key: CPO's AES-CBC by
default, our envelope when configured. KMS v1beta1 always writes and reads the envelope only:
v1beta1 carries no key id and CPO never served it, so no CBC data can exist there. v2 Decrypt
reads either format: our envelope names its key inside; CPO's uses the key the request's
``key_id`` names (kube-apiserver stores it with the data), else the current key, as CPO did.
It never guesses among keys. No gRPC and no Barbican here: keys come from a ``KeyRingSource``.

Every answer must fit the 4 MiB gRPC message limit of KMS clients (kube-apiserver keeps
grpc-go's default receive limit): a plaintext whose answer would not is refused up front.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

from osk8s_barbican_kms import envelope, legacy
from osk8s_barbican_kms.errors import InvalidCiphertext, InvalidRequest, KeyMismatch
from osk8s_barbican_kms.formats import WriteFormat, split_kms_key_id
from osk8s_barbican_kms.keyring import KeyRing

MAX_REPLY: Final = 4 << 20
"""grpc's default maximum receive size, used by kube-apiserver's KMS client: no answer of ours
(EncryptResponse with ciphertext and key_id) may be larger."""
_ENVELOPE_EXTRA: Final = envelope.NONCE_SIZE + envelope.TAG_SIZE


class KeyRingSource(Protocol):
    @property
    def ring(self) -> KeyRing: ...


@dataclass(frozen=True)
class Sealed:
    ciphertext: bytes
    key_id: str


def _varint_size(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)


def bytes_field_size(length: int) -> int:
    """Wire size of a non-empty ``bytes``/``string`` field numbered 1-15 (proto3 omits empty)."""
    return 1 + _varint_size(length) + length if length else 0


def ciphertext_size(fmt: WriteFormat, key_id: str, plaintext_len: int) -> int:
    if fmt is WriteFormat.AES_CBC:
        return legacy.cbc_size(plaintext_len)
    return len(envelope.header_for(key_id)) + plaintext_len + _ENVELOPE_EXTRA


def reply_size(fmt: WriteFormat, key_id: str, reply_key_id: str, plaintext_len: int) -> int:
    """Size of the EncryptResponse for a plaintext of ``plaintext_len`` bytes."""
    ciphertext = ciphertext_size(fmt, key_id, plaintext_len)
    return bytes_field_size(ciphertext) + bytes_field_size(len(reply_key_id.encode()))


def max_plaintext(fmt: WriteFormat, key_id: str, reply_key_id: str, max_reply: int) -> int:
    """The largest plaintext whose EncryptResponse still fits ``max_reply`` bytes."""
    low, high = 0, max_reply
    while low < high:
        mid = (low + high + 1) // 2
        if reply_size(fmt, key_id, reply_key_id, mid) <= max_reply:
            low = mid
        else:
            high = mid - 1
    return low


class KmsCipher:
    """The cryptography behind every RPC; thread-safe (reads one ring snapshot per call)."""

    def __init__(self, *, keys: KeyRingSource, max_reply: int = MAX_REPLY) -> None:
        self._keys = keys
        self._max_reply = max_reply

    def encrypt(self, plaintext: bytes) -> Sealed:
        """KMS v2: the configured write format; ``key_id`` as Status reports it."""
        ring = self._keys.ring
        key = ring.current()
        fmt = ring.write_format
        self._check_plaintext(plaintext, fmt, key.key_id, ring.kms_key_id)
        if fmt is WriteFormat.AES_CBC:
            return Sealed(legacy.encrypt_cbc(key.legacy_key, plaintext), ring.kms_key_id)
        return Sealed(envelope.seal(key.aead, ring.current_header, plaintext), ring.kms_key_id)

    def encrypt_v1(self, plaintext: bytes) -> bytes:
        """KMS v1beta1: always our envelope (the only format v1beta1 Decrypt reads)."""
        ring = self._keys.ring
        key = ring.current()
        self._check_plaintext(plaintext, WriteFormat.ENVELOPE, key.key_id, "")
        return envelope.seal(key.aead, ring.current_header, plaintext)

    def decrypt(self, ciphertext: bytes, *, key_id: str = "") -> bytes:
        """KMS v2. ``key_id`` is what kube-apiserver stored with the data (may be empty)."""
        self._check_ciphertext(ciphertext)
        ring = self._keys.ring
        name, named_format = split_kms_key_id(key_id)
        if envelope.is_envelope(ciphertext):
            return self._open(ring, ciphertext, name)
        if named_format is WriteFormat.ENVELOPE:
            raise InvalidCiphertext(f"key_id {key_id} names an osk8s envelope; this is not one")
        key = ring.get(name) if name else ring.current()
        return legacy.decrypt_cbc(key.legacy_key, ciphertext)

    def decrypt_v1(self, ciphertext: bytes) -> bytes:
        """KMS v1beta1: our envelope only; never tries CBC (no key id to choose a key by)."""
        self._check_ciphertext(ciphertext)
        if not envelope.is_envelope(ciphertext):
            raise InvalidCiphertext(
                "not an osk8s envelope: KMS v1beta1 data is only ever written in it "
                "(CPO's plugin never served v1beta1)"
            )
        return self._open(self._keys.ring, ciphertext, "")

    @staticmethod
    def _open(ring: KeyRing, ciphertext: bytes, expected_id: str) -> bytes:
        parsed = envelope.parse(ciphertext)
        if expected_id and expected_id != parsed.key_id:
            raise KeyMismatch(
                f"request key_id {expected_id} differs from key {parsed.key_id} of the ciphertext"
            )
        return envelope.open_envelope(ring.get(parsed.key_id).aead, parsed)

    def _check_plaintext(
        self, plaintext: bytes, fmt: WriteFormat, key_id: str, reply_key_id: str
    ) -> None:
        if not plaintext:
            raise InvalidRequest("plaintext is empty")
        size = reply_size(fmt, key_id, reply_key_id, len(plaintext))
        if size > self._max_reply:
            limit = max_plaintext(fmt, key_id, reply_key_id, self._max_reply)
            raise InvalidRequest(
                f"plaintext of {len(plaintext)} bytes is too large: its {fmt.value} answer would "
                f"be {size} bytes, over the {self._max_reply}-byte gRPC message limit of KMS "
                f"clients (at most {limit} bytes of plaintext here; a DEK is 32)"
            )

    def _check_ciphertext(self, ciphertext: bytes) -> None:
        if not ciphertext:
            raise InvalidRequest("ciphertext is empty")
        if len(ciphertext) > self._max_reply:
            raise InvalidRequest(
                f"ciphertext is {len(ciphertext)} bytes, larger than any answer we write"
            )
