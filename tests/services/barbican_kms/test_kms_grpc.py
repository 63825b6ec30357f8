"""Both KMS APIs over a real unix socket, wired exactly as the plugin wires them.

A real gRPC client talks to ``app.build_grpc_server`` (interceptors and the error table
included); only Barbican is faked, behind the ``SecretReader`` protocol.
"""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from prometheus_client import CollectorRegistry

from osk8s_barbican_kms.app import build_grpc_server
from osk8s_barbican_kms.cipher import MAX_REPLY, max_plaintext
from osk8s_barbican_kms.formats import ENVELOPE_KEY_ID_PREFIX, WriteFormat
from osk8s_barbican_kms.keyring import KeyIds
from osk8s_barbican_kms.keystore import KeyStore
from osk8s_barbican_kms.options import KmsOptions
from osk8s_core.errors import ServiceUnavailable
from osk8s_core.grpc.server import GrpcServer
from osk8s_core.proto.kms.v1beta1 import api_pb2 as v1
from osk8s_core.proto.kms.v1beta1 import api_pb2_grpc as v1_grpc
from osk8s_core.proto.kms.v2 import api_pb2 as v2
from osk8s_core.proto.kms.v2 import api_pb2_grpc as v2_grpc

from .kms_fakes import KEY_A, KEY_B, KEY_C, FakeBarbican, MutableKeyIds, RecordingLogger
from .kms_process import rpc_code, rpc_details
from .test_kms_legacy import cpo_decrypt, cpo_encrypt


class Plugin:
    def __init__(
        self,
        tmp: Path,
        *,
        barbican_down: bool = False,
        verbosity: int = 2,
        fmt: WriteFormat = WriteFormat.AES_CBC,
    ) -> None:
        self.socket = str(tmp / "kms.sock")
        self.barbican = FakeBarbican()
        self.barbican.add(KEY_A)
        self.barbican.add(KEY_B)
        if barbican_down:
            self.barbican.failures[KEY_A] = ServiceUnavailable("barbican unreachable")
        self.ids = MutableKeyIds(KeyIds(KEY_A, write_format=fmt))
        self.log = RecordingLogger()
        self.store = KeyStore(reader=self.barbican, key_ids=self.ids, logger=self.log)
        self.store.refresh()
        options = KmsOptions(
            socket_path=self.socket, cloud_config="unused", max_workers=4, verbosity=verbosity
        )
        self.server: GrpcServer = build_grpc_server(
            options, store=self.store, registry=CollectorRegistry(), log=self.log
        )
        self.server.start()
        self.channel = grpc.insecure_channel(f"unix://{self.socket}")
        self.v2 = v2_grpc.KeyManagementServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self.v1 = v1_grpc.KeyManagementServiceStub(self.channel)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        self.channel.close()
        self.server.stop(grace=0)


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[Plugin]:
    p = Plugin(tmp_path)
    try:
        yield p
    finally:
        p.close()


def test_socket_is_private(plugin: Plugin) -> None:
    mode = os.stat(plugin.socket).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600


def test_v2_status_encrypt_decrypt(plugin: Plugin) -> None:
    status = plugin.v2.Status(v2.StatusRequest(), timeout=30)
    assert (status.version, status.healthz, status.key_id) == ("v2", "ok", KEY_A)
    enc = plugin.v2.Encrypt(v2.EncryptRequest(plaintext=b"dek-seed" * 4, uid="u1"), timeout=30)
    assert enc.key_id == KEY_A and enc.ciphertext != b"dek-seed" * 4
    assert dict(enc.annotations) == {}
    # Default write format: CPO's, readable by CPO's plugin.
    assert cpo_decrypt(enc.ciphertext, plugin.barbican.payloads[KEY_A]) == b"dek-seed" * 4
    dec = plugin.v2.Decrypt(
        v2.DecryptRequest(ciphertext=enc.ciphertext, key_id=enc.key_id, uid="u2"), timeout=5
    )
    assert dec.plaintext == b"dek-seed" * 4


def test_v1_version_encrypt_decrypt(plugin: Plugin) -> None:
    version = plugin.v1.Version(v1.VersionRequest(version="v1beta1"), timeout=30)
    assert (version.version, version.runtime_name) == ("v1beta1", "barbican")
    enc = plugin.v1.Encrypt(v1.EncryptRequest(version="v1beta1", plain=b"secret"), timeout=30)
    dec = plugin.v1.Decrypt(v1.DecryptRequest(version="v1beta1", cipher=enc.cipher), timeout=30)
    assert dec.plain == b"secret"


def test_v1_and_v2_read_each_others_data(plugin: Plugin) -> None:
    enc1 = plugin.v1.Encrypt(v1.EncryptRequest(version="v1beta1", plain=b"one"), timeout=30)
    dec2 = plugin.v2.Decrypt(v2.DecryptRequest(ciphertext=enc1.cipher, key_id=KEY_A), timeout=30)
    assert dec2.plaintext == b"one"


def test_rotation_changes_key_id_and_old_data_still_decrypts(plugin: Plugin) -> None:
    old = plugin.v2.Encrypt(v2.EncryptRequest(plaintext=b"old"), timeout=30)
    plugin.ids.ids = KeyIds(KEY_B, (KEY_A,))
    plugin.store.refresh()
    assert plugin.v2.Status(v2.StatusRequest(), timeout=30).key_id == KEY_B
    new = plugin.v2.Encrypt(v2.EncryptRequest(plaintext=b"new"), timeout=30)
    assert new.key_id == KEY_B
    for enc, text in ((old, b"old"), (new, b"new")):
        req = v2.DecryptRequest(ciphertext=enc.ciphertext, key_id=enc.key_id)
        assert plugin.v2.Decrypt(req, timeout=30).plaintext == text


def test_cpo_data_decrypts_over_grpc(plugin: Plugin) -> None:
    legacy = cpo_encrypt(b"written by CPO", plugin.barbican.payloads[KEY_A])
    req = v2.DecryptRequest(ciphertext=legacy, key_id=KEY_A)
    assert plugin.v2.Decrypt(req, timeout=30).plaintext == b"written by CPO"


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda c: c[:-1] + bytes([c[-1] ^ 1]), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda c: c[:25], grpc.StatusCode.INVALID_ARGUMENT),
        (lambda c: b"", grpc.StatusCode.INVALID_ARGUMENT),
        (lambda c: os.urandom(48), grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_bad_ciphertext_is_a_clear_error(plugin: Plugin, mutate: object, code: object) -> None:
    enc = plugin.v2.Encrypt(v2.EncryptRequest(plaintext=b"data"), timeout=30)
    bad = mutate(enc.ciphertext)  # type: ignore[operator]
    with pytest.raises(grpc.RpcError) as info:
        plugin.v2.Decrypt(v2.DecryptRequest(ciphertext=bad, key_id=KEY_A), timeout=30)
    assert rpc_code(info.value) == code
    assert rpc_details(info.value)


def test_envelope_format_over_grpc(tmp_path: Path) -> None:
    plugin = Plugin(tmp_path, fmt=WriteFormat.ENVELOPE)
    try:
        status = plugin.v2.Status(v2.StatusRequest(), timeout=30)
        assert status.key_id == ENVELOPE_KEY_ID_PREFIX + KEY_A
        enc = plugin.v2.Encrypt(v2.EncryptRequest(plaintext=b"data"), timeout=30)
        assert enc.key_id == status.key_id and enc.ciphertext.startswith(b"OSK8S")
        req = v2.DecryptRequest(ciphertext=enc.ciphertext, key_id=enc.key_id)
        assert plugin.v2.Decrypt(req, timeout=30).plaintext == b"data"
        with pytest.raises(grpc.RpcError) as info:
            req = v2.DecryptRequest(ciphertext=enc.ciphertext, key_id=KEY_B)
            plugin.v2.Decrypt(req, timeout=30)
        assert rpc_code(info.value) == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        plugin.close()


def test_v1beta1_never_reads_cbc(plugin: Plugin) -> None:
    v2_cbc = plugin.v2.Encrypt(v2.EncryptRequest(plaintext=b"x"), timeout=30).ciphertext
    for blob in (v2_cbc, cpo_encrypt(b"x", plugin.barbican.payloads[KEY_A])):
        with pytest.raises(grpc.RpcError) as info:
            plugin.v1.Decrypt(v1.DecryptRequest(version="v1beta1", cipher=blob), timeout=30)
        assert rpc_code(info.value) == grpc.StatusCode.INVALID_ARGUMENT
        assert "v1beta1" in rpc_details(info.value)


@pytest.mark.parametrize(
    "method", ["/v2.KeyManagementService/Encrypt", "/v1beta1.KeyManagementService/Decrypt"]
)
def test_bytes_that_are_no_request_are_invalid_argument(plugin: Plugin, method: str) -> None:
    raw: grpc.UnaryUnaryMultiCallable[bytes, bytes] = plugin.channel.unary_unary(
        method, request_serializer=None, response_deserializer=None
    )
    with pytest.raises(grpc.RpcError) as info:
        raw(b"\x0a\xff\xff\xff\x0f", timeout=30)  # a length field far beyond the data
    assert rpc_code(info.value) == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid protobuf message" in rpc_details(info.value)


def test_wrong_and_unknown_key_ids(plugin: Plugin) -> None:
    enc = plugin.v2.Encrypt(v2.EncryptRequest(plaintext=b"data"), timeout=30)
    with pytest.raises(grpc.RpcError) as info:
        req = v2.DecryptRequest(ciphertext=enc.ciphertext, key_id=ENVELOPE_KEY_ID_PREFIX + KEY_A)
        plugin.v2.Decrypt(req, timeout=30)
    assert rpc_code(info.value) == grpc.StatusCode.INVALID_ARGUMENT
    legacy = cpo_encrypt(b"x", os.urandom(32))
    with pytest.raises(grpc.RpcError) as info:
        plugin.v2.Decrypt(v2.DecryptRequest(ciphertext=legacy, key_id=KEY_C), timeout=30)
    assert rpc_code(info.value) == grpc.StatusCode.FAILED_PRECONDITION
    assert "not configured" in rpc_details(info.value)


def test_empty_plaintext_and_bad_version(plugin: Plugin) -> None:
    with pytest.raises(grpc.RpcError) as info:
        plugin.v2.Encrypt(v2.EncryptRequest(plaintext=b""), timeout=30)
    assert rpc_code(info.value) == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as info:
        plugin.v1.Encrypt(v1.EncryptRequest(version="v9", plain=b"x"), timeout=30)
    assert rpc_code(info.value) == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("fmt", list(WriteFormat))
def test_plaintext_limit_at_the_4mib_boundary(tmp_path: Path, fmt: WriteFormat) -> None:
    # The test's channel has grpc's default 4 MiB receive limit, as kube-apiserver's client.
    plugin = Plugin(tmp_path, fmt=fmt)
    try:
        key_id = plugin.v2.Status(v2.StatusRequest(), timeout=30).key_id
        limit = max_plaintext(fmt, KEY_A, key_id, MAX_REPLY)
        assert MAX_REPLY - limit < 200  # the overhead is framing and IV/nonce/tag only
        for size in (limit - 1, limit):
            enc = plugin.v2.Encrypt(v2.EncryptRequest(plaintext=b"a" * size), timeout=20)
            assert enc.ByteSize() <= MAX_REPLY and enc.key_id == key_id
        with pytest.raises(grpc.RpcError) as info:
            plugin.v2.Encrypt(v2.EncryptRequest(plaintext=b"a" * (limit + 1)), timeout=20)
        assert rpc_code(info.value) == grpc.StatusCode.INVALID_ARGUMENT
        assert f"at most {limit} bytes" in rpc_details(info.value)
        v1_limit = max_plaintext(WriteFormat.ENVELOPE, KEY_A, "", MAX_REPLY)
        enc1 = plugin.v1.Encrypt(v1.EncryptRequest(plain=b"a" * v1_limit), timeout=20)
        assert enc1.ByteSize() <= MAX_REPLY
        with pytest.raises(grpc.RpcError) as info:
            plugin.v1.Encrypt(v1.EncryptRequest(plain=b"a" * (v1_limit + 1)), timeout=20)
        assert rpc_code(info.value) == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        plugin.close()


def test_key_not_loaded_status_and_unavailable(tmp_path: Path) -> None:
    p = Plugin(tmp_path)
    try:
        p.barbican.failures[KEY_B] = ServiceUnavailable("barbican unreachable", not_sent=True)
        p.ids.ids = KeyIds(KEY_B)
        p.store.refresh()  # KEY_A is no longer configured, KEY_B cannot load: keeps KEY_A
        assert p.v2.Status(v2.StatusRequest(), timeout=30).key_id == KEY_A
    finally:
        p.close()
    fresh = Plugin(tmp_path, barbican_down=True)  # as at start-up: nothing cached yet
    try:
        status = fresh.v2.Status(v2.StatusRequest(), timeout=30)
        assert status.healthz != "ok" and "barbican unreachable" in status.healthz
        assert status.key_id == KEY_A
        with pytest.raises(grpc.RpcError) as info:
            fresh.v2.Encrypt(v2.EncryptRequest(plaintext=b"x"), timeout=30)
        assert rpc_code(info.value) == grpc.StatusCode.UNAVAILABLE
    finally:
        fresh.close()


def test_plaintext_is_never_logged_even_with_payload_logging(tmp_path: Path) -> None:
    plugin = Plugin(tmp_path, verbosity=5)  # -v5 logs requests and responses
    try:
        _exercise_and_check_logs(plugin)
    finally:
        plugin.close()


def _exercise_and_check_logs(plugin: Plugin) -> None:
    marker = b"VERY-SECRET-PLAINTEXT-MARKER"
    enc = plugin.v2.Encrypt(v2.EncryptRequest(plaintext=marker), timeout=30)
    plugin.v2.Decrypt(v2.DecryptRequest(ciphertext=enc.ciphertext, key_id=KEY_A), timeout=30)
    with pytest.raises(grpc.RpcError):
        plugin.v2.Encrypt(v2.EncryptRequest(plaintext=b""), timeout=30)
    plugin.v1.Encrypt(v1.EncryptRequest(version="v1beta1", plain=marker), timeout=30)
    logged = repr(plugin.log.events)
    assert "'request'" in logged and "'response'" in logged  # payloads were logged...
    assert marker.decode() not in logged  # ...without the plaintext
    assert base64.b64encode(marker).decode() not in logged
