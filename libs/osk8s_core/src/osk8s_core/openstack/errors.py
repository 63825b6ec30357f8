"""The one place that maps openstacksdk / keystoneauth / requests exceptions to osk8s errors.

Every OpenStack call goes through ``translate_errors`` (the client layer does it), so no other
module catches library exception types. Mapped errors carry the HTTP status, the request id
and a truncated, scrubbed remote message; they never carry secrets. This module must not log
or retry: it only classifies.
"""

from __future__ import annotations

import email.utils
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, cast

import requests
import urllib3.exceptions
from keystoneauth1 import exceptions as ks_exc

from osk8s_core import errors
from osk8s_core.redaction import scrub_text, truncate

if TYPE_CHECKING:
    from types import ModuleType

    from openstack import exceptions as sdk_exc

BODY_LIMIT: Final = 512
_REQUEST_ID_HEADERS: Final = (
    "x-openstack-request-id",
    "x-compute-request-id",
    "openstack-request-id",
)

# Exact classes for a status; the rest of 4xx becomes a plain OpenStackError with the status,
# and every 5xx a ServerError (503 included: the service answered, it was not unreachable).
_BY_STATUS: Final[dict[int, type[errors.OpenStackError]]] = {
    400: errors.BadRequest,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    408: errors.RequestTimeout,
    409: errors.Conflict,
    # 412 comes from a stale If-Match/revision: the same "someone changed it" as a 409.
    412: errors.Conflict,
    413: errors.OverLimit,
}

Now = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def parse_retry_after(value: str | None, *, now: Now = _utcnow) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now()).total_seconds()
    return max(0.0, seconds)


def _request_id(response: requests.Response | None, fallback: object = None) -> str | None:
    if isinstance(fallback, str) and fallback:
        return fallback
    if response is None:
        return None
    for header in _REQUEST_ID_HEADERS:
        value = response.headers.get(header)
        if value:
            return str(value)
    return None


def _clean(text: str) -> str:
    return truncate(scrub_text(" ".join(text.split())), BODY_LIMIT)


def _from_status(
    status: int,
    *,
    request: str | None,
    detail: str,
    response: requests.Response | None,
    request_id: str | None,
    now: Now,
) -> errors.OpenStackError:
    label = request or "OpenStack call"
    message = f"{label} failed: HTTP {status}"
    if request_id:
        message += f" (request id {request_id})"
    if detail:
        message += f": {_clean(detail)}"
    if status == 429:
        header = response.headers.get("Retry-After") if response is not None else None
        return errors.RateLimited(
            message,
            retry_after=parse_retry_after(header, now=now),
            status=status,
            request=request,
            request_id=request_id,
        )
    if status >= 500:
        return errors.ServerError(message, status=status, request=request, request_id=request_id)
    cls = _BY_STATUS.get(status, errors.OpenStackError)
    return cls(message, status=status, request=request, request_id=request_id)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it was raised from or during, and wrapped reasons (bounded)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 16:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        for nxt in (item.__cause__, item.__context__, getattr(item, "reason", None), *item.args):
            if isinstance(nxt, BaseException):
                todo.append(nxt)


def request_not_sent(exc: BaseException) -> bool:
    """True only when the request surely never reached the server (refused, DNS, connect
    timeout, TLS handshake); a reset or read timeout may come after the server acted."""
    for item in _causes(exc):
        if isinstance(
            item,
            requests.exceptions.ConnectTimeout
            | requests.exceptions.SSLError
            | urllib3.exceptions.NewConnectionError
            | urllib3.exceptions.ConnectTimeoutError
            | ConnectionRefusedError,
        ):
            return True
    return False


def _connection_error(
    exc: BaseException, *, request: str | None, timeout: bool
) -> errors.ServiceUnavailable:
    not_sent = request_not_sent(exc)
    label = request or "OpenStack call"
    what = "timed out" if timeout else "could not reach the service"
    message = f"{label} {what}: {_clean(str(exc) or type(exc).__name__)}"
    cls = errors.RequestTimeout if timeout else errors.ServiceUnavailable
    return cls(message, not_sent=not_sent, request=request)


def _is_timeout(exc: BaseException) -> bool:
    return any(
        isinstance(item, requests.exceptions.Timeout | ks_exc.ConnectTimeout | TimeoutError)
        for item in _causes(exc)
    )


def _from_sdk_http(
    exc: sdk_exc.HttpException, *, request: str | None, now: Now
) -> errors.OpenStackError:
    if exc.status_code is None:
        label = request or "OpenStack call"
        return errors.OpenStackError(f"{label} failed: {_clean(exc.message)}", request=request)
    return _from_status(
        exc.status_code,
        request=request,
        detail=str(exc.details or exc.message or ""),
        response=exc.response,
        request_id=_request_id(exc.response, exc.request_id),
        now=now,
    )


def _sdk_exceptions() -> ModuleType | None:
    """openstacksdk's exception module if openstacksdk is loaded. Importing it costs ~1 s of
    start-up, and no sdk exception can exist before it is loaded, so we never import it."""
    return sys.modules.get("openstack.exceptions")


def map_exception(
    exc: BaseException, *, request: str | None = None, now: Now = _utcnow
) -> errors.Osk8sError | None:
    """Our error for a library exception, or None when it is not an OpenStack failure
    (a programming error, say), which the caller then lets propagate unchanged."""
    if isinstance(exc, errors.Osk8sError):
        return exc
    label = request or "OpenStack call"
    sdk = _sdk_exceptions()
    if sdk is not None and isinstance(exc, sdk.HttpException):
        return _from_sdk_http(cast("sdk_exc.HttpException", exc), request=request, now=now)
    if isinstance(exc, ks_exc.HttpError):
        return _from_status(
            exc.http_status,
            request=request,
            detail=str(exc.details or exc.message or ""),
            response=exc.response,
            request_id=_request_id(exc.response, exc.request_id),
            now=now,
        )
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return _from_status(
            exc.response.status_code,
            request=request,
            detail=exc.response.text,
            response=exc.response,
            request_id=_request_id(exc.response),
            now=now,
        )
    if isinstance(exc, ks_exc.ConnectionError | requests.exceptions.ConnectionError):
        return _connection_error(exc, request=request, timeout=_is_timeout(exc))
    if isinstance(exc, requests.exceptions.Timeout):
        return _connection_error(exc, request=request, timeout=True)
    return _map_non_http(exc, label=label, request=request, sdk=sdk)


def _map_non_http(
    exc: BaseException, *, label: str, request: str | None, sdk: ModuleType | None
) -> errors.Osk8sError | None:
    message = f"{label} failed: {_clean(str(exc) or type(exc).__name__)}"
    if sdk is not None and isinstance(exc, sdk.SDKException):
        return _map_sdk(cast("sdk_exc.SDKException", exc), message=message, request=request)
    if isinstance(exc, ks_exc.EndpointNotFound | ks_exc.VersionNotAvailable):
        return errors.EndpointNotFound(message, request=request)
    if isinstance(exc, ks_exc.DiscoveryFailure):
        # Discovery failed before the real request was built, so it was surely not sent.
        return errors.ServiceUnavailable(message, not_sent=True, request=request)
    if isinstance(exc, ks_exc.AuthPluginException | ks_exc.MissingAuthMethods):
        return errors.CredentialsError(message)
    if isinstance(exc, ks_exc.AuthorizationFailure):
        return errors.Unauthorized(message, status=401, request=request)
    if isinstance(exc, ks_exc.ClientException):
        return errors.OpenStackError(message, request=request)
    return None


def _map_sdk(exc: sdk_exc.SDKException, *, message: str, request: str | None) -> errors.Osk8sError:
    # Imported only here: the exception exists, so openstacksdk is loaded already.
    from openstack import exceptions as sdk_exc  # noqa: PLC0415

    if isinstance(exc, sdk_exc.EndpointNotFound | sdk_exc.ServiceDiscoveryException):
        return errors.EndpointNotFound(message, request=request)
    if isinstance(exc, sdk_exc.ResourceTimeout):
        return errors.WaitTimeout(message)
    if isinstance(exc, sdk_exc.ResourceFailure):
        return errors.ResourceError(message, request=request)
    if isinstance(
        exc,
        sdk_exc.InvalidRequest | sdk_exc.ValidationException | sdk_exc.InvalidResourceQuery,
    ):
        return errors.BadRequest(message, request=request)
    return errors.OpenStackError(message, request=request)


@contextmanager
def translate_errors(request: str | None = None, *, now: Now = _utcnow) -> Iterator[None]:
    """Run a block and re-raise library exceptions as osk8s errors (``raise ... from e``)."""
    try:
        yield
    except errors.Osk8sError:
        raise
    except Exception as exc:
        mapped = map_exception(exc, request=request, now=now)
        if mapped is None:
            raise
        raise mapped from exc
