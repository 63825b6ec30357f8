"""The osk8s error vocabulary.

Every layer raises these, never a library's own exception types, so each protocol edge
(gRPC status, HTTP status, Kubernetes event) maps one tree in one place. OpenStack HTTP errors
are translated into this tree only in ``osk8s_core.openstack.errors`` (one place); Kubernetes
API errors only in ``osk8s_core.k8s``. Messages never contain secret values.
"""

from __future__ import annotations


class Osk8sError(Exception):
    """Root of every error osk8s raises on purpose."""


class ConfigError(Osk8sError):
    """Invalid configuration, naming where it was found and what was expected."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        section: str | None = None,
        key: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.file = file
        self.section = section
        self.key = key
        self.expected = expected
        where = ", ".join(
            part
            for part in (
                f"file {file}" if file else "",
                f"section [{section}]" if section else "",
                f"key {key!r}" if key else "",
            )
            if part
        )
        text = f"{where}: {message}" if where else message
        if expected:
            text = f"{text} (expected {expected})"
        super().__init__(text)


class CredentialsError(Osk8sError):
    """Credentials are incomplete or inconsistent (detected before calling Keystone)."""


class OpenStackError(Osk8sError):
    """An OpenStack API call failed. ``status`` is the HTTP status when there was one."""

    status: int | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.request = request
        self.request_id = request_id


class BadRequest(OpenStackError):
    status = 400


class Unauthorized(OpenStackError):
    status = 401


class Forbidden(OpenStackError):
    status = 403


class NotFound(OpenStackError):
    status = 404


class Conflict(OpenStackError):
    status = 409


class OverLimit(OpenStackError):
    """413: quota exceeded (maps to RESOURCE_EXHAUSTED at the CSI edge)."""

    status = 413


class RateLimited(OpenStackError):
    """429; ``retry_after`` is the server's Retry-After in seconds, when it sent one."""

    status = 429

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(OpenStackError):
    """5xx from an OpenStack service."""


class ServiceUnavailable(OpenStackError):
    """Could not reach the service at all: connection refused/reset, DNS, TLS, timeout.

    ``not_sent`` is True only when the request surely never reached the server (connection
    refused, DNS failure, connect timeout), so even a non-idempotent call may be repeated.
    """

    def __init__(
        self,
        message: str,
        *,
        not_sent: bool = False,
        status: int | None = None,
        request: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status, request=request, request_id=request_id)
        self.not_sent = not_sent


class RequestTimeout(ServiceUnavailable):
    """The call did not complete within its timeout."""


class EndpointNotFound(OpenStackError):
    """The catalog has no endpoint for the service/region/interface asked for."""


class ResourceError(OpenStackError):
    """A resource went into an ERROR state while we waited for it."""


class AlreadyExists(Conflict):
    """An idempotent create found a resource of that name whose attributes differ from the
    request (CSI ALREADY_EXISTS); raised by us, not by an HTTP answer."""


class AmbiguousMatch(OpenStackError):
    """A lookup by name/tag that must match at most one resource matched several."""


class WaitTimeout(Osk8sError):
    """A ``wait_for_status`` loop ran out of time; carries the last observed status."""

    def __init__(self, message: str, *, last_status: str | None = None) -> None:
        super().__init__(message)
        self.last_status = last_status


class KubernetesError(Osk8sError):
    """A Kubernetes API call failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class KubernetesConflict(KubernetesError):
    """409 from the API server: a stale resourceVersion or an object that already exists."""


class KubernetesNotFound(KubernetesError):
    """404 from the API server."""


class KubernetesGone(KubernetesError):
    """410: a watch's resourceVersion is too old; the caller must re-list."""


class MetadataError(Osk8sError):
    """Instance metadata could not be read from any configured source (config drive, service)."""
