"""KMS v1beta1 (``v1beta1.KeyManagementService``): Version, Encrypt, Decrypt.

Older kube-apiservers (and ``apiVersion: v1`` EncryptionConfigurations) still call it. v1
carries no key id and CPO never served it, so it always writes our envelope (whatever
``write-format`` says) and Decrypt reads the envelope only, with the key named inside it.
Handlers raise errors for the interceptor to map.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, cast

import grpc

from osk8s_barbican_kms.cipher import KmsCipher
from osk8s_barbican_kms.errors import InvalidRequest
from osk8s_core import __version__
from osk8s_core.grpc.server import ServiceRegistration
from osk8s_core.proto.kms.v1beta1 import api_pb2, api_pb2_grpc

SERVICE_NAME: Final = "v1beta1.KeyManagementService"
API_VERSION: Final = "v1beta1"
RUNTIME_NAME: Final = "barbican"


def _check_version(version: str) -> None:
    # kube-apiserver always sends "v1beta1"; an empty value is tolerated for hand-made clients.
    if version and version != API_VERSION:
        raise InvalidRequest(f"unsupported KMS API version {version!r}, this is {API_VERSION}")


class KmsV1Servicer(api_pb2_grpc.KeyManagementServiceServicer):
    def __init__(self, *, cipher: KmsCipher) -> None:
        self._cipher = cipher

    def Version(  # noqa: N802 - gRPC method name
        self, request: api_pb2.VersionRequest, context: grpc.ServicerContext
    ) -> api_pb2.VersionResponse:
        _check_version(request.version)
        return api_pb2.VersionResponse(
            version=API_VERSION, runtime_name=RUNTIME_NAME, runtime_version=__version__
        )

    def Encrypt(  # noqa: N802
        self, request: api_pb2.EncryptRequest, context: grpc.ServicerContext
    ) -> api_pb2.EncryptResponse:
        _check_version(request.version)
        return api_pb2.EncryptResponse(cipher=self._cipher.encrypt_v1(request.plain))

    def Decrypt(  # noqa: N802
        self, request: api_pb2.DecryptRequest, context: grpc.ServicerContext
    ) -> api_pb2.DecryptResponse:
        _check_version(request.version)
        return api_pb2.DecryptResponse(plain=self._cipher.decrypt_v1(request.cipher))


def registration(servicer: KmsV1Servicer) -> ServiceRegistration:
    # The generated helper is untyped; its shape is fixed by grpcio-tools.
    add = cast(
        Callable[[object, grpc.Server], None],
        api_pb2_grpc.add_KeyManagementServiceServicer_to_server,
    )
    return ServiceRegistration(name=SERVICE_NAME, register=lambda server: add(servicer, server))
