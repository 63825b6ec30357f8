"""CPO's format both ways: what CPO's aescbc.Encrypt makes we read, what we write CPO reads.

CPO (pkg/kms/encryption/aescbc): paddingSize = 16 - len(data) % 16 (so 1..16, a whole block
when already aligned), padding bytes all equal paddingSize, a random 16-byte IV prepended,
AES-CBC with the Barbican payload as key. Decrypt splits the IV, refuses a body that is not a
whole number of blocks, CBC-decrypts and cuts as many bytes as the last byte says, unchecked.
The reference encryptor and decryptor below follow that text, using the cryptography
library's primitives directly, not our code.
"""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from osk8s_barbican_kms.errors import InvalidCiphertext
from osk8s_barbican_kms.legacy import cbc_size, decrypt_cbc, encrypt_cbc


def cpo_encrypt(data: bytes, key: bytes) -> bytes:
    padding_size = 16 - (len(data) % 16)
    plaintext = data + bytes([padding_size]) * padding_size
    iv = os.urandom(16)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return iv + encryptor.update(plaintext) + encryptor.finalize()


def cpo_decrypt(data: bytes, key: bytes) -> bytes:
    """CPO's Decrypt as described: no padding check (ValueError where Go errors or panics)."""
    iv, body = data[:16], data[16:]
    if len(body) % 16:
        raise ValueError("Invalid Data, not multiple of block size")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    plain = decryptor.update(body) + decryptor.finalize()
    if not plain or plain[-1] > len(plain):
        raise ValueError("slice bounds out of range (a Go panic in CPO)")
    return plain[: len(plain) - plain[-1]]


def cpo_reads(data: bytes, key: bytes, expected: bytes) -> bool:
    """Whether CPO's plugin would return ``expected`` for ``data`` (not an error, not garbage)."""
    try:
        return cpo_decrypt(data, key) == expected
    except ValueError:
        return False


@pytest.mark.parametrize("key_size", [16, 24, 32])
@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 32, 1000, 4096])
def test_what_we_write_cpo_reads(key_size: int, length: int) -> None:
    key = os.urandom(key_size)
    data = os.urandom(length)
    written = encrypt_cbc(key, data)
    assert len(written) == cbc_size(length) == 16 + (length // 16 + 1) * 16
    assert cpo_decrypt(written, key) == data
    assert encrypt_cbc(key, data)[:16] != written[:16]  # a fresh random IV every time


@pytest.mark.parametrize("key_size", [16, 24, 32])
@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 32, 1000, 4096])
def test_cpo_ciphertext_decrypts(key_size: int, length: int) -> None:
    key = os.urandom(key_size)
    data = os.urandom(length)
    assert decrypt_cbc(key, cpo_encrypt(data, key)) == data


def test_bad_shapes_are_rejected() -> None:
    key = os.urandom(32)
    for blob in (b"", b"x" * 16, b"x" * 31, b"x" * 33):
        with pytest.raises(InvalidCiphertext, match="neither an osk8s envelope nor CPO"):
            decrypt_cbc(key, blob)


def test_wrong_key_is_rejected_by_padding_check_in_almost_all_cases() -> None:
    # Unauthenticated CBC cannot always tell; strict padding makes a wrong key fail except
    # about 1 time in 256 (vs CPO, which returned garbage every time).
    key, other = os.urandom(32), os.urandom(32)
    data = b"a DEK-sized value, 32 bytes long"
    rejected = 0
    for _ in range(200):
        try:
            decrypt_cbc(other, cpo_encrypt(data, key))
        except InvalidCiphertext:
            rejected += 1
    assert rejected >= 190


def test_padding_must_be_uniform() -> None:
    key = os.urandom(16)
    iv = os.urandom(16)
    bad = b"0123456789ab" + b"\x01\x02\x03\x04"  # last byte 4, but not four 0x04 bytes
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    blob = iv + encryptor.update(bad) + encryptor.finalize()
    with pytest.raises(InvalidCiphertext, match="invalid padding"):
        decrypt_cbc(key, blob)
