"""Encrypt/Decrypt logic for both API versions, without gRPC: formats, keys, limits."""

from __future__ import annotations

import os

import pytest

from osk8s_barbican_kms.cipher import KmsCipher, max_plaintext, reply_size
from osk8s_barbican_kms.errors import (
    InvalidCiphertext,
    InvalidRequest,
    KeyMismatch,
    KeyUnavailable,
    UnknownKey,
)
from osk8s_barbican_kms.formats import ENVELOPE_KEY_ID_PREFIX, WriteFormat
from osk8s_barbican_kms.keyring import KeyIds
from osk8s_barbican_kms.keystore import KeyStore
from osk8s_core.errors import ServiceUnavailable
from osk8s_core.proto.kms.v1beta1 import api_pb2 as v1
from osk8s_core.proto.kms.v2 import api_pb2 as v2

from .kms_fakes import KEY_A, KEY_B, KEY_C, FakeBarbican, MutableKeyIds, RecordingLogger
from .test_kms_legacy import cpo_decrypt, cpo_encrypt, cpo_reads

CBC, ENV = WriteFormat.AES_CBC, WriteFormat.ENVELOPE
ENV_A = ENVELOPE_KEY_ID_PREFIX + KEY_A


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
    return KmsCipher(keys=store, max_reply=1 << 16)


def use_format(store: KeyStore, ids: MutableKeyIds, fmt: WriteFormat) -> None:
    ids.ids = KeyIds(ids.ids.current, ids.ids.old, fmt)
    store.refresh()


def test_default_writes_cpo_format_with_cpo_key_id(
    cipher: KmsCipher, barbican: FakeBarbican, store: KeyStore
) -> None:
    sealed = cipher.encrypt(b"dek-seed" * 4)
    assert sealed.key_id == KEY_A  # exactly the configured key-id, as CPO returns it
    assert store.ring.kms_key_id == KEY_A  # ... and as Status reports it
    # An independent implementation of CPO's Decrypt (cryptography primitives) reads it.
    assert cpo_decrypt(sealed.ciphertext, barbican.payloads[KEY_A]) == b"dek-seed" * 4
    assert len(sealed.ciphertext) == 16 + 48  # IV + 32 bytes padded to 48
    assert cipher.decrypt(sealed.ciphertext, key_id=KEY_A) == b"dek-seed" * 4


@pytest.mark.parametrize("length", [1, 15, 16, 17, 32, 1000])
def test_cpo_format_round_trips_every_padding_length(
    cipher: KmsCipher, barbican: FakeBarbican, length: int
) -> None:
    data = os.urandom(length)
    sealed = cipher.encrypt(data)
    assert cpo_decrypt(sealed.ciphertext, barbican.payloads[KEY_A]) == data
    assert cipher.decrypt(sealed.ciphertext, key_id=sealed.key_id) == data


def test_envelope_format_reports_its_own_key_id(
    cipher: KmsCipher, store: KeyStore, ids: MutableKeyIds, barbican: FakeBarbican
) -> None:
    use_format(store, ids, ENV)
    sealed = cipher.encrypt(b"hello")
    assert sealed.key_id == ENV_A == store.ring.kms_key_id
    assert sealed.ciphertext.startswith(b"OSK8S\x00")
    assert cipher.decrypt(sealed.ciphertext, key_id=ENV_A) == b"hello"
    assert cipher.decrypt(sealed.ciphertext, key_id=KEY_A) == b"hello"  # plain id: older data
    assert not cpo_reads(sealed.ciphertext, barbican.payloads[KEY_A], b"hello")  # CPO cannot


def test_each_format_reads_the_other(
    cipher: KmsCipher, store: KeyStore, ids: MutableKeyIds
) -> None:
    cbc = cipher.encrypt(b"written as CBC")
    use_format(store, ids, ENV)
    env = cipher.encrypt(b"written as envelope")
    assert cipher.decrypt(cbc.ciphertext, key_id=cbc.key_id) == b"written as CBC"
    use_format(store, ids, CBC)
    assert cipher.decrypt(env.ciphertext, key_id=env.key_id) == b"written as envelope"


def test_envelope_key_id_on_cbc_data_is_refused(cipher: KmsCipher) -> None:
    cbc = cipher.encrypt(b"data")
    with pytest.raises(InvalidCiphertext, match="names an osk8s envelope"):
        cipher.decrypt(cbc.ciphertext, key_id=ENV_A)


def test_v1beta1_always_envelope_and_never_cbc(
    cipher: KmsCipher, barbican: FakeBarbican, store: KeyStore, ids: MutableKeyIds
) -> None:
    sealed = cipher.encrypt_v1(b"v1 data")  # write format is aes-cbc, v1 still writes ours
    assert sealed.startswith(b"OSK8S\x00")
    assert cipher.decrypt_v1(sealed) == b"v1 data"
    legacy = cpo_encrypt(b"looks like CPO", barbican.payloads[KEY_A])
    with pytest.raises(InvalidCiphertext, match="v1beta1"):
        cipher.decrypt_v1(legacy)
    v2_cbc = cipher.encrypt(b"v2 data").ciphertext
    with pytest.raises(InvalidCiphertext, match="v1beta1"):
        cipher.decrypt_v1(v2_cbc)


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


def test_request_key_id_must_match_the_envelope(
    cipher: KmsCipher, store: KeyStore, ids: MutableKeyIds
) -> None:
    use_format(store, ids, ENV)
    sealed = cipher.encrypt(b"data")
    with pytest.raises(KeyMismatch, match=KEY_C):
        cipher.decrypt(sealed.ciphertext, key_id=KEY_C)
    with pytest.raises(KeyMismatch, match=KEY_C):
        cipher.decrypt(sealed.ciphertext, key_id=ENVELOPE_KEY_ID_PREFIX + KEY_C)


def test_tampered_and_truncated_envelope(
    cipher: KmsCipher, store: KeyStore, ids: MutableKeyIds
) -> None:
    use_format(store, ids, ENV)
    sealed = cipher.encrypt(b"x" * 64).ciphertext
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 0x80])
    with pytest.raises(InvalidCiphertext):
        cipher.decrypt(tampered, key_id=ENV_A)
    with pytest.raises(InvalidCiphertext):
        cipher.decrypt(sealed[:30], key_id=ENV_A)


def test_random_bytes_are_rejected(cipher: KmsCipher) -> None:
    with pytest.raises(InvalidCiphertext):
        cipher.decrypt(os.urandom(37), key_id=KEY_A)


def test_empty_requests(cipher: KmsCipher) -> None:
    with pytest.raises(InvalidRequest, match="plaintext is empty"):
        cipher.encrypt(b"")
    with pytest.raises(InvalidRequest, match="plaintext is empty"):
        cipher.encrypt_v1(b"")
    with pytest.raises(InvalidRequest, match="ciphertext is empty"):
        cipher.decrypt(b"")
    with pytest.raises(InvalidRequest, match="larger than any answer"):
        cipher.decrypt(b"a" * ((1 << 16) + 1), key_id=KEY_A)


def _reply_bytes(fmt: WriteFormat, api: str, cipher: KmsCipher, plaintext: bytes) -> int:
    if api == "v1":
        return v1.EncryptResponse(cipher=cipher.encrypt_v1(plaintext)).ByteSize()
    sealed = cipher.encrypt(plaintext)
    return v2.EncryptResponse(ciphertext=sealed.ciphertext, key_id=sealed.key_id).ByteSize()


@pytest.mark.parametrize(
    ("fmt", "api"), [(CBC, "v2"), (ENV, "v2"), (ENV, "v1")], ids=["cbc-v2", "env-v2", "env-v1"]
)
def test_plaintext_limit_is_exact_at_the_boundary(
    cipher: KmsCipher, store: KeyStore, ids: MutableKeyIds, fmt: WriteFormat, api: str
) -> None:
    use_format(store, ids, fmt)
    reply_key_id = "" if api == "v1" else store.ring.kms_key_id
    limit = max_plaintext(fmt, KEY_A, reply_key_id, 1 << 16)
    assert reply_size(fmt, KEY_A, reply_key_id, limit) <= 1 << 16
    assert reply_size(fmt, KEY_A, reply_key_id, limit + 1) > 1 << 16
    for size in (limit - 1, limit):
        # The computed size is the real serialized size of the answer.
        real = _reply_bytes(fmt, api, cipher, b"p" * size)
        assert real == reply_size(fmt, KEY_A, reply_key_id, size) and real <= 1 << 16
    encrypt = cipher.encrypt_v1 if api == "v1" else cipher.encrypt
    with pytest.raises(InvalidRequest, match=f"at most {limit} bytes"):
        encrypt(b"p" * (limit + 1))


def test_cpo_ciphertext_decrypts_with_the_named_or_current_key(
    cipher: KmsCipher, barbican: FakeBarbican, store: KeyStore, ids: MutableKeyIds
) -> None:
    secret = b"k8s:enc:kms:v2 payload written by CPO"
    legacy = cpo_encrypt(secret, barbican.payloads[KEY_A])
    assert cipher.decrypt(legacy, key_id=KEY_A) == secret  # v2: key id stored by apiserver
    assert cipher.decrypt(legacy) == secret  # no key id: the current key, as CPO
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
    with pytest.raises(KeyUnavailable):
        cipher.encrypt_v1(b"data")
