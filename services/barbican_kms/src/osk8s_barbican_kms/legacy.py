"""Decrypt ciphertext written by cloud-provider-openstack's barbican-kms-plugin (migration).

CPO's format (pkg/kms/encryption/aescbc): a random 16-byte IV, then AES-CBC of the plaintext
padded PKCS#7-style, with the Barbican payload as the key. CBC is not authenticated, so unlike
CPO we check the padding strictly; a wrong key still passes that check about once in 256
tries, which is why the key is chosen by key id, never by trial. Decrypt only: we never
write this format.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from osk8s_barbican_kms.errors import InvalidCiphertext

BLOCK: Final = 16


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
