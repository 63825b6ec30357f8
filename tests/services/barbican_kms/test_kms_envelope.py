"""The versioned AES-256-GCM envelope: round trip, randomness, and no garbage on tampering."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from osk8s_barbican_kms import envelope
from osk8s_barbican_kms.errors import InvalidCiphertext

KEY_ID = "6f1c5c3e-6d8a-4f59-9d6c-0c3e2b7f1a10"


@pytest.fixture
def aead() -> AESGCM:
    return AESGCM(os.urandom(32))


def test_round_trip_and_layout(aead: AESGCM) -> None:
    header = envelope.header_for(KEY_ID)
    sealed = envelope.seal(aead, header, b"secret data")
    assert sealed.startswith(b"OSK8S\x00\x01" + bytes([len(KEY_ID)]) + KEY_ID.encode())
    # header + 12-byte nonce + plaintext + 16-byte tag
    assert len(sealed) == len(header) + 12 + len(b"secret data") + 16
    parsed = envelope.parse(sealed)
    assert parsed.key_id == KEY_ID
    assert envelope.open_envelope(aead, parsed) == b"secret data"


def test_every_encryption_uses_a_new_nonce(aead: AESGCM) -> None:
    header = envelope.header_for(KEY_ID)
    outputs = {envelope.seal(aead, header, b"same") for _ in range(50)}
    assert len(outputs) == 50
    nonces = {envelope.parse(c).nonce for c in outputs}
    assert len(nonces) == 50


def test_any_flipped_byte_is_rejected(aead: AESGCM) -> None:
    sealed = envelope.seal(aead, envelope.header_for(KEY_ID), b"x" * 40)
    for index in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[index] ^= 0x01
        with pytest.raises(InvalidCiphertext):
            envelope.open_envelope(aead, envelope.parse(bytes(tampered)))


def test_truncation_at_every_length_is_rejected(aead: AESGCM) -> None:
    sealed = envelope.seal(aead, envelope.header_for(KEY_ID), b"y" * 20)
    for cut in range(len(sealed)):
        with pytest.raises(InvalidCiphertext):
            envelope.open_envelope(aead, envelope.parse(sealed[:cut]))


def test_swapped_key_id_fails_authentication(aead: AESGCM) -> None:
    other = "7f1c5c3e-6d8a-4f59-9d6c-0c3e2b7f1a10"  # same length, so only the bytes differ
    sealed = envelope.seal(aead, envelope.header_for(KEY_ID), b"data")
    forged = sealed.replace(KEY_ID.encode(), other.encode())
    parsed = envelope.parse(forged)
    assert parsed.key_id == other
    with pytest.raises(InvalidCiphertext, match="failed authentication"):
        envelope.open_envelope(aead, parsed)


def test_wrong_key_fails_authentication(aead: AESGCM) -> None:
    sealed = envelope.seal(aead, envelope.header_for(KEY_ID), b"data")
    with pytest.raises(InvalidCiphertext):
        envelope.open_envelope(AESGCM(os.urandom(32)), envelope.parse(sealed))


def test_unknown_version_is_rejected_clearly(aead: AESGCM) -> None:
    sealed = bytearray(envelope.seal(aead, envelope.header_for(KEY_ID), b"data"))
    sealed[len(envelope.MAGIC)] = 2
    with pytest.raises(InvalidCiphertext, match="unsupported osk8s envelope version 2"):
        envelope.parse(bytes(sealed))


def test_header_rejects_bad_key_ids() -> None:
    with pytest.raises(ValueError):
        envelope.header_for("")
    with pytest.raises(ValueError):
        envelope.header_for("k" * 256)
