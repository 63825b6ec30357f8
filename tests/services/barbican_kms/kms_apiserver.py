"""Just enough of kube-apiserver's KMS v2 envelope storage to test a fleet of KMS plugins.

Follows k8s.io/apiserver ``storage/value/encrypt/envelope/kmsv2`` as documented: each
kube-apiserver keeps one DEK, wrapped once by its plugin's Encrypt, and calls Encrypt again
only when the ``key_id`` in Status differs from the one its DEK was wrapped under. Every
stored object carries the wrapped DEK and that ``key_id``; a read whose wrapped DEK is not
in the local cache calls the plugin's Decrypt with both. An object whose ``key_id`` is not
the current one is "stale" (what a storage migration rewrites). Objects are sealed with
AES-GCM under the DEK, the object's name as associated data. No shortcuts through our code:
peers are reached over their real gRPC socket, or are the CPO reference below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from osk8s_core.proto.kms.v2 import api_pb2 as v2

from .kms_process import PluginProcess
from .test_kms_legacy import cpo_decrypt, cpo_encrypt


class KmsPeer(Protocol):
    """A KMS v2 plugin as kube-apiserver sees it."""

    def status_key_id(self) -> str: ...
    def encrypt(self, plaintext: bytes) -> tuple[bytes, str]: ...
    def decrypt(self, ciphertext: bytes, key_id: str) -> bytes: ...


class GrpcPeer:
    """A running ``barbican-kms-plugin`` binary, over its unix socket."""

    def __init__(self, plugin: PluginProcess) -> None:
        self.plugin = plugin

    def status_key_id(self) -> str:
        return self.plugin.status().key_id

    def encrypt(self, plaintext: bytes) -> tuple[bytes, str]:
        reply = self.plugin.v2.Encrypt(v2.EncryptRequest(plaintext=plaintext), timeout=10)
        return reply.ciphertext, reply.key_id

    def decrypt(self, ciphertext: bytes, key_id: str) -> bytes:
        request = v2.DecryptRequest(ciphertext=ciphertext, key_id=key_id)
        plaintext: bytes = self.plugin.v2.Decrypt(request, timeout=10).plaintext
        return plaintext


class CpoPeer:
    """CPO's barbican-kms-plugin as described (pkg/kms/server): Status and Encrypt report the
    configured key-id; Encrypt/Decrypt use AES-CBC with the payload; Decrypt ignores key_id.
    Built on the reference ``cpo_encrypt``/``cpo_decrypt``, not on our code."""

    def __init__(self, key_id: str, payload: bytes) -> None:
        self._key_id = key_id
        self._payload = payload

    def status_key_id(self) -> str:
        return self._key_id

    def encrypt(self, plaintext: bytes) -> tuple[bytes, str]:
        return cpo_encrypt(plaintext, self._payload), self._key_id

    def decrypt(self, ciphertext: bytes, key_id: str) -> bytes:
        return cpo_decrypt(ciphertext, self._payload)


@dataclass(frozen=True)
class Stored:
    """One object as etcd holds it (the EncryptedObject of KMS v2)."""

    name: str
    wrapped_dek: bytes
    key_id: str
    nonce: bytes
    sealed: bytes


class ApiServer:
    def __init__(self, peer: KmsPeer) -> None:
        self.peer = peer
        self._dek = b""
        self._wrapped = b""
        self.key_id = ""
        self.encrypt_calls = 0
        self._cache: dict[tuple[bytes, str], bytes] = {}

    def sync_status(self) -> None:
        """kube-apiserver's periodic Status check: a new key_id means a new wrapped DEK."""
        status_key_id = self.peer.status_key_id()
        if self._dek and status_key_id == self.key_id:
            return
        dek = os.urandom(32)
        wrapped, key_id = self.peer.encrypt(dek)
        self.encrypt_calls += 1
        assert key_id == status_key_id, "Encrypt's key_id must be the one Status reports"
        self._dek, self._wrapped, self.key_id = dek, wrapped, key_id
        self._cache[(wrapped, key_id)] = dek

    def write(self, name: str, data: bytes) -> Stored:
        self.sync_status()
        nonce = os.urandom(12)
        sealed = AESGCM(self._dek).encrypt(nonce, data, name.encode())
        return Stored(name, self._wrapped, self.key_id, nonce, sealed)

    def read(self, obj: Stored) -> bytes:
        dek = self._cache.get((obj.wrapped_dek, obj.key_id))
        if dek is None:
            dek = self.peer.decrypt(obj.wrapped_dek, obj.key_id)
            self._cache[(obj.wrapped_dek, obj.key_id)] = dek
        return AESGCM(dek).decrypt(obj.nonce, obj.sealed, obj.name.encode())

    def can_read(self, obj: Stored, expected: bytes) -> bool:
        """False when the plugin refuses, or returns a DEK that does not open the object."""
        try:
            return self.read(obj) == expected
        except Exception:  # an RPC error, CPO's "error", or AES-GCM rejecting a wrong DEK
            return False

    def is_stale(self, obj: Stored) -> bool:
        return obj.key_id != self.key_id

    def migrate(self, store: dict[str, Stored], data: dict[str, bytes]) -> None:
        """``kubectl get secrets -A -o json | kubectl replace -f -``: read, rewrite everything."""
        for name in list(store):
            assert self.read(store[name]) == data[name]
            store[name] = self.write(name, data[name])
