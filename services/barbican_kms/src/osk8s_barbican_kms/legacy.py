"""CPO's ciphertext format (cloud-provider-openstack ``pkg/kms/encryption/aescbc``).

A random 16-byte IV, then AES-CBC of the plaintext padded PKCS#7-style (1 to 16 bytes, each
equal to the count; a whole block when already aligned), with the Barbican payload as the key.
We write it byte for byte as CPO does, so CPO's plugin decrypts our output (the default write
format, see ``formats``). CBC is not authenticated, so unlike CPO we check the padding strictly
on reading; a wrong key still passes that check about once in 256 tries, which is why the key
is chosen by key id, never by trial.
"""

from __future__ import annotations

import os
from typing import Final

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from osk8s_barbican_kms.errors import InvalidCiphertext

BLOCK: Final = 16


def cbc_size(plaintext_len: int) -> int:
    """Length of CPO's ciphertext for ``plaintext_len`` bytes: IV + padded blocks."""
    return BLOCK + (plaintext_len // BLOCK + 1) * BLOCK


def encrypt_cbc(key: bytes, plaintext: bytes) -> bytes:
    """CPO's format: IV | AES-CBC(plaintext + PKCS#7 padding) under ``key`` (the payload)."""
    pad = BLOCK - len(plaintext) % BLOCK
    iv = os.urandom(BLOCK)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return b"".join(
        (
            iv,
            encryptor.update(plaintext),
            encryptor.update(bytes((pad,)) * pad),
            encryptor.finalize(),
        )
    )


def decrypt_cbc(key: bytes, data: bytes) -> bytes:
    """Plaintext of a CPO ciphertext; InvalidCiphertext when the shape or padding is wrong."""
    if len(data) < 2 * BLOCK or len(data) % BLOCK:
        raise InvalidCiphertext(
            "ciphertext is neither an osk8s envelope nor CPO AES-CBC "
            "(IV + a whole number of 16-byte blocks)"
        )
    decryptor = Cipher(algorithms.AES(key), modes.CBC(data[:BLOCK])).decryptor()
    padded = decryptor.update(data[BLOCK:]) + decryptor.finalize()
    pad = padded[-1]
    # CPO always pads (1..16 bytes, each equal to the count); anything else is not its data.
    if not 1 <= pad <= BLOCK or padded[-pad:] != bytes((pad,)) * pad:
        raise InvalidCiphertext("CPO AES-CBC ciphertext has invalid padding (wrong key or data)")
    return padded[:-pad]
