"""Decorators that make CSI handlers read like the spec: required fields, then the lock.

``@rpc(required=("volume_id", "node_id"), lock="volume_id")`` rejects a request whose required
fields are empty (INVALID_ARGUMENT, before anything else) and then holds the per-id in-flight
lock of the servicer (ABORTED for a concurrent call on the same id), with that id bound into
the call's log context. Nothing else happens here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from google.protobuf.message import Message
from structlog.contextvars import bound_contextvars

from osk8s_cinder_csi.locks import InFlight
from osk8s_cinder_csi.status import InvalidArgument


class HasLocks(Protocol):
    @property
    def in_flight(self) -> InFlight: ...


S = TypeVar("S", bound=HasLocks)
Handler = Callable[[S, Any, Any], Any]


def missing_fields(request: Message, required: Sequence[str]) -> list[str]:
    """Names of ``required`` fields that are unset or empty (messages: not present)."""
    missing = []
    for name in required:
        value = getattr(request, name)
        if isinstance(value, Message):
            if not request.HasField(name):
                missing.append(name)
        elif not value:  # "" or an empty repeated field / map
            missing.append(name)
    return missing


def rpc(
    *, required: Sequence[str] = (), lock: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def wrapper(self: HasLocks, request: Message, context: Any) -> Any:
            missing = missing_fields(request, required)
            if missing:
                raise InvalidArgument(
                    f"{handler.__name__}: missing required field(s): {', '.join(missing)}"
                )
            if lock is None:
                return handler(self, request, context)
            key = str(getattr(request, lock))
            # The id goes into every log line of this call (unit of work), then the lock.
            with bound_contextvars(**{lock: key}), self.in_flight.hold(key):
                return handler(self, request, context)

        return wrapper

    return decorate
