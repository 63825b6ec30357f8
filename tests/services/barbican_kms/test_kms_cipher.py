"""Encrypt/Decrypt logic for both API versions, without gRPC: formats, keys, limits."""

from __future__ import annotations

import os

import pytest

from osk8s_barbican_kms.cipher import KmsCipher
from osk8s_barbican_kms.errors import (
    InvalidCiphertext,
    InvalidRequest,
    KeyMismatch,
    KeyUnavailable,
    UnknownKey,
)
from osk8s_barbican_kms.keyring import KeyIds
from osk8s_barbican_kms.keystore import KeyStore
from osk8s_core.errors import ServiceUnavailable

from .kms_fakes import KEY_A, KEY_B, KEY_C, FakeBarbican, MutableKeyIds, RecordingLogger
from .test_kms_legacy import cpo_encrypt


@pytest.fixture
def barbican() -> FakeBarbican:
    fake = FakeBarbican()
    fake.add(KEY_A)
    fake.add(KEY_B, 16)
    return fake


@pytest.fixture
def ids() -> MutableKeyIds:
    return MutableKeyIds(KeyIds(KEY_A))


@pytest.fixture
def store(barbican: FakeBarbican, ids: MutableKeyIds) -> KeyStore:
    s = KeyStore(reader=barbican, key_ids=ids, logger=RecordingLogger())
    s.refresh()
    return s


@pytest.fixture
def cipher(store: KeyStore) -> KmsCipher:
    return KmsCipher(keys=store, max_plaintext=1 << 16)


def test_round_trip_with_and_without_key_id(cipher: KmsCipher) -> None:
    sealed = cipher.encrypt(b"hello")
    assert sealed.key_id == KEY_A
    assert cipher.decrypt(sealed.ciphertext, key_id=KEY_A) == b"hello"
    assert cipher.decrypt(sealed.ciphertext) == b"hello"  # v1beta1 sends no key id


def test_data_under_old_key_decrypts_after_rotation(
    cipher: KmsCipher, store: KeyStore, ids: MutableKeyIds
) -> None:
    old = cipher.encrypt(b"written before rotation")
    ids.ids = KeyIds(KEY_B, (KEY_A,))
    store.refresh()
    new = cipher.encrypt(b"written after")
    assert new.key_id == KEY_B
    assert cipher.decrypt(old.ciphertext, key_id=KEY_A) == b"written before rotation"
    assert cipher.decrypt(new.ciphertext, key_id=KEY_B) == b"written after"


def test_data_under_forgotten_key_is_failed_precondition_not_garbage(
    cipher: KmsCipher, store: KeyStore, ids: MutableKeyIds
) -> None:
    old = cipher.encrypt(b"data")
    ids.ids = KeyIds(KEY_B)
    store.refresh()
    with pytest.raises(UnknownKey):
        cipher.decrypt(old.ciphertext, key_id=KEY_A)


def test_request_key_id_must_match_the_ciphertext(cipher: KmsCipher) -> None:
    sealed = cipher.encrypt(b"data")
    with pytest.raises(KeyMismatch, match=KEY_C):
        cipher.decrypt(sealed.ciphertext, key_id=KEY_C)


def test_tampered_and_truncated_ciphertext(cipher: KmsCipher) -> None:
    sealed = cipher.encrypt(b"x" * 64).ciphertext
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 0x80])
    with pytest.raises(InvalidCiphertext):
        cipher.decrypt(tampered, key_id=KEY_A)
    with pytest.raises(InvalidCiphertext):
        cipher.decrypt(sealed[:30], key_id=KEY_A)


def test_random_bytes_are_rejected(cipher: KmsCipher) -> None:
    with pytest.raises(InvalidCiphertext):
        cipher.decrypt(os.urandom(37), key_id=KEY_A)


def test_empty_and_oversized_requests(cipher: KmsCipher) -> None:
    with pytest.raises(InvalidRequest, match="plaintext is empty"):
        cipher.encrypt(b"")
    with pytest.raises(InvalidRequest, match="more than the 65536 allowed"):
        cipher.encrypt(b"a" * ((1 << 16) + 1))
    assert cipher.encrypt(b"a" * (1 << 16)).key_id == KEY_A
    with pytest.raises(InvalidRequest, match="ciphertext is empty"):
        cipher.decrypt(b"")
    with pytest.raises(InvalidRequest, match="larger than we write"):
        cipher.decrypt(b"a" * (2 << 16))


def test_cpo_ciphertext_decrypts_with_the_named_or_current_key(
    cipher: KmsCipher, barbican: FakeBarbican, store: KeyStore, ids: MutableKeyIds
) -> None:
    secret = b"k8s:enc:kms:v2 payload written by CPO"
    legacy = cpo_encrypt(secret, barbican.payloads[KEY_A])
    assert cipher.decrypt(legacy, key_id=KEY_A) == secret  # v2: key id stored by apiserver
    assert cipher.decrypt(legacy) == secret  # v1: the current key, which CPO used
    ids.ids = KeyIds(KEY_B, (KEY_A,))
    store.refresh()
    assert cipher.decrypt(legacy, key_id=KEY_A) == secret


def test_no_key_loaded_is_unavailable(barbican: FakeBarbican) -> None:
    barbican.failures[KEY_A] = ServiceUnavailable("down", not_sent=True)
    store = KeyStore(
        reader=barbican, key_ids=MutableKeyIds(KeyIds(KEY_A)), logger=RecordingLogger()
    )
    store.refresh()
    cipher = KmsCipher(keys=store)
    with pytest.raises(KeyUnavailable):
        cipher.encrypt(b"data")
