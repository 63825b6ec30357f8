"""Our ciphertext format, version 1: AES-256-GCM with a random 96-bit nonce per message.

Layout: ``MAGIC (6) | version (1) | key id length (1) | key id (utf-8) | nonce (12) | GCM
ciphertext + 16-byte tag``. Everything before the nonce is authenticated as associated data,
so the key id cannot be swapped. The version byte lets later formats coexist. This module
knows no key store and no gRPC; it only seals and opens with a key it is given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from osk8s_barbican_kms.errors import InvalidCiphertext

MAGIC: Final = b"OSK8S\x00"
"""Marks our format. A CPO ciphertext starts with a random IV: 2**-48 chance to collide."""
VERSION_1: Final = 1
NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16
MAX_KEY_ID_BYTES: Final = 255
_PREFIX: Final = len(MAGIC) + 2


@dataclass(frozen=True)
class Envelope:
    """A parsed (not yet opened) version-1 ciphertext."""

    key_id: str
    header: bytes
    nonce: bytes
    sealed: bytes


def is_envelope(data: bytes) -> bool:
    """True when ``data`` claims to be our format (then it must parse; no fallback)."""
    return data.startswith(MAGIC)


def header_for(key_id: str) -> bytes:
    """The authenticated header for ``key_id``; callers may cache it per key."""
    raw_id = key_id.encode()
    if not raw_id or len(raw_id) > MAX_KEY_ID_BYTES:
        raise ValueError(f"key id must be 1-{MAX_KEY_ID_BYTES} bytes")
    return MAGIC + bytes((VERSION_1, len(raw_id))) + raw_id


def seal(aead: AESGCM, header: bytes, plaintext: bytes) -> bytes:
    """Encrypt ``plaintext`` under a fresh random nonce; returns the whole envelope."""
    nonce = os.urandom(NONCE_SIZE)
    return b"".join((header, nonce, aead.encrypt(nonce, plaintext, header)))


def parse(data: bytes) -> Envelope:
    """Split an envelope; raise InvalidCiphertext when it is truncated or of another version."""
    if len(data) < _PREFIX or not data.startswith(MAGIC):
        raise InvalidCiphertext("ciphertext is not in the osk8s envelope format")
    version = data[len(MAGIC)]
    if version != VERSION_1:
        raise InvalidCiphertext(f"unsupported osk8s envelope version {version}")
    id_len = data[len(MAGIC) + 1]
    header_end = _PREFIX + id_len
    if id_len == 0 or len(data) < header_end + NONCE_SIZE + TAG_SIZE:
        raise InvalidCiphertext("ciphertext is truncated")
    try:
        key_id = data[_PREFIX:header_end].decode()
    except UnicodeDecodeError:
        raise InvalidCiphertext("ciphertext header is corrupt") from None
    nonce_end = header_end + NONCE_SIZE
    return Envelope(
        key_id=key_id,
        header=data[:header_end],
        nonce=data[header_end:nonce_end],
        sealed=data[nonce_end:],
    )


def open_envelope(aead: AESGCM, envelope: Envelope) -> bytes:
    """Decrypt and authenticate; a wrong key or any altered byte gives InvalidCiphertext."""
    try:
        return aead.decrypt(envelope.nonce, envelope.sealed, envelope.header)
    except InvalidTag:
        raise InvalidCiphertext(
            f"ciphertext failed authentication under key {envelope.key_id} "
            "(tampered, truncated or not made with this key)"
        ) from None
