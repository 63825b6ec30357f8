"""KMS v2 (``v2.KeyManagementService``): Status, Encrypt, Decrypt, as kube-apiserver calls them.

Status reports ``healthz`` "ok" whenever the current key is loaded, also while Barbican is
unreachable and a cached key is in use: kube-apiserver stops writing Secrets once Status has
not been "ok" for a few minutes, which is exactly what the cache exists to avoid. Handlers
raise errors for the interceptor to map; no annotations are returned (none are needed).
Status ``key_id`` is the ring's ``kms_key_id``, the same Encrypt returns (see ``formats``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, cast

import grpc

from osk8s_barbican_kms.cipher import KeyRingSource, KmsCipher
from osk8s_core.grpc.server import ServiceRegistration
from osk8s_core.proto.kms.v2 import api_pb2, api_pb2_grpc

SERVICE_NAME: Final = "v2.KeyManagementService"
API_VERSION: Final = "v2"
HEALTHY: Final = "ok"


class KmsV2Servicer(api_pb2_grpc.KeyManagementServiceServicer):
    def __init__(self, *, cipher: KmsCipher, keys: KeyRingSource) -> None:
        self._cipher = cipher
        self._keys = keys

    def Status(  # noqa: N802 - gRPC method name
        self, request: api_pb2.StatusRequest, context: grpc.ServicerContext
    ) -> api_pb2.StatusResponse:
        ring = self._keys.ring
        problem = ring.current_problem()
        return api_pb2.StatusResponse(
            version=API_VERSION, healthz=problem or HEALTHY, key_id=ring.kms_key_id
        )

    def Encrypt(  # noqa: N802
        self, request: api_pb2.EncryptRequest, context: grpc.ServicerContext
    ) -> api_pb2.EncryptResponse:
        sealed = self._cipher.encrypt(request.plaintext)
        return api_pb2.EncryptResponse(ciphertext=sealed.ciphertext, key_id=sealed.key_id)

    def Decrypt(  # noqa: N802
        self, request: api_pb2.DecryptRequest, context: grpc.ServicerContext
    ) -> api_pb2.DecryptResponse:
        plaintext = self._cipher.decrypt(request.ciphertext, key_id=request.key_id)
        return api_pb2.DecryptResponse(plaintext=plaintext)


def registration(servicer: KmsV2Servicer) -> ServiceRegistration:
    # The generated helper is untyped; its shape is fixed by grpcio-tools.
    add = cast(
        Callable[[object, grpc.Server], None],
        api_pb2_grpc.add_KeyManagementServiceServicer_to_server,
    )
    return ServiceRegistration(name=SERVICE_NAME, register=lambda server: add(servicer, server))
