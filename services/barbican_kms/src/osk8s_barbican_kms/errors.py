"""The KMS plugin's own errors and the one table mapping every error to a gRPC status.

Handlers raise these (or ``osk8s_core.errors``) and never call ``context.abort``: the
``ErrorMappingInterceptor`` applies ``STATUS_TABLE``. Messages go back to kube-apiserver as
status details, so they name key ids and sizes but never key material or plaintext.
"""

from __future__ import annotations

from typing import Final

import grpc

from osk8s_core.errors import ConfigError, OpenStackError, Osk8sError
from osk8s_core.grpc.interceptors import StatusMapper, status_table


class KmsError(Osk8sError):
    """Root of the KMS plugin's own errors."""


class InvalidRequest(KmsError):
    """The request itself is unusable: empty or oversized plaintext/ciphertext."""


class InvalidCiphertext(KmsError):
    """The ciphertext is truncated, tampered with, or in no format we know."""


class KeyMismatch(KmsError):
    """The request's key_id disagrees with the key named inside the ciphertext."""


class UnknownKey(KmsError):
    """A key id that is neither ``key-id`` nor one of the ``old-key-id`` values."""


class KeyUnavailable(KmsError):
    """The key is configured but its material is not loaded (Barbican not reached yet)."""


class KeyMaterialChanged(KmsError):
    """Barbican returned other bytes for a secret whose key is cached (secrets are immutable)."""


class KeyMaterialError(ConfigError):
    """A Barbican secret's payload is not usable as an AES key (wrong size): fatal at start."""


_TABLE: Final = {
    InvalidRequest: grpc.StatusCode.INVALID_ARGUMENT,
    InvalidCiphertext: grpc.StatusCode.INVALID_ARGUMENT,
    KeyMismatch: grpc.StatusCode.INVALID_ARGUMENT,
    UnknownKey: grpc.StatusCode.FAILED_PRECONDITION,
    KeyUnavailable: grpc.StatusCode.UNAVAILABLE,
    ConfigError: grpc.StatusCode.FAILED_PRECONDITION,
    OpenStackError: grpc.StatusCode.UNAVAILABLE,
}

STATUS_MAPPER: Final[StatusMapper] = status_table(_TABLE)
"""Error -> gRPC status for both KMS API versions; anything else is INTERNAL."""
