"""CSI error vocabulary of the cinder driver and its one error -> gRPC status table.

Handlers raise these (or ``osk8s_core.errors``) and never call ``context.abort``; the
``ErrorMappingInterceptor`` applies ``STATUS`` once at the edge. Messages carry no secrets.
This module must not import grpc servicers or OpenStack code.
"""

from __future__ import annotations

from typing import Final

import grpc

from osk8s_core import errors
from osk8s_core.grpc.interceptors import StatusMapper, status_table


class CsiError(errors.Osk8sError):
    """A request-level failure with a fixed CSI status (subclasses name it)."""


class InvalidArgument(CsiError):
    """A required field is missing or a parameter is invalid."""


class OperationPending(CsiError):
    """Another call on the same volume/snapshot is in flight (CSI ABORTED)."""


class FailedPrecondition(CsiError):
    """The volume is in a state that forbids the call (e.g. deleting an attached volume)."""


class OutOfRange(CsiError):
    """A capacity outside what the request allows."""


class Unimplemented(CsiError):
    """A feature CPO does not offer either (inline ephemeral volumes, GetCapacity)."""


class Unavailable(CsiError):
    """A source is not ready yet (snapshot not ``available``): the caller retries later."""


class InvalidToken(CsiError):
    """A ListVolumes/ListSnapshots ``starting_token`` we cannot resume from (CSI ABORTED)."""


class ObjectNotFound(CsiError):
    """A volume, snapshot, node or path the request names does not exist."""


_TABLE: Final[dict[type[errors.Osk8sError], grpc.StatusCode]] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    OperationPending: grpc.StatusCode.ABORTED,
    InvalidToken: grpc.StatusCode.ABORTED,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    OutOfRange: grpc.StatusCode.OUT_OF_RANGE,
    Unimplemented: grpc.StatusCode.UNIMPLEMENTED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    ObjectNotFound: grpc.StatusCode.NOT_FOUND,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    # Matches CPO: HTTP 413 (quota) is RESOURCE_EXHAUSTED so the provisioner backs off.
    errors.OverLimit: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.RateLimited: grpc.StatusCode.UNAVAILABLE,
    errors.ServiceUnavailable: grpc.StatusCode.UNAVAILABLE,
    errors.Unauthorized: grpc.StatusCode.UNAUTHENTICATED,
    errors.Forbidden: grpc.StatusCode.PERMISSION_DENIED,
    errors.BadRequest: grpc.StatusCode.INVALID_ARGUMENT,
    # Sidecars treat DEADLINE_EXCEEDED as "still in progress" and call again: right for a
    # wait (attach, snapshot) that ran out of time while OpenStack keeps working.
    errors.WaitTimeout: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.ConfigError: grpc.StatusCode.FAILED_PRECONDITION,
}

STATUS: Final[StatusMapper] = status_table(_TABLE)
"""Most specific class wins; anything else is INTERNAL."""
