"""Kubernetes API errors as the server returns them: an HTTP code plus a ``Status`` body.

Every failure inside the fake server is raised as :class:`ApiError` and turned into a response
in one place (the HTTP handler). Reasons, codes and messages follow the real kube-apiserver so
clients that branch on ``reason`` behave the same. This module must not know about HTTP I/O.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A failed API call: ``code`` is the HTTP status, ``reason`` the Status reason."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        """The ``Status`` object the real API returns for this failure."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    return details


def _qualified(plural: str, group: str) -> str:
    # matches kube-apiserver: 'leases.coordination.k8s.io "x"', but 'configmaps "x"' for core
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{_qualified(plural, group)} "{name}" not found',
        details=_details(name, group, plural),
    )


def already_exists(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_qualified(plural, group)} "{name}" already exists',
        details=_details(name, group, plural),
    )


def conflict(plural: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(plural, group)} "{name}": {why}',
        details=_details(name, group, plural),
    )


STALE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def invalid(kind: str, group: str, name: str, field: str, why: str) -> ApiError:
    details = _details(name, group, kind)
    details["causes"] = [{"reason": "FieldValueInvalid", "message": why, "field": field}]
    return ApiError(
        422,
        "Invalid",
        f'{kind}{"." + group if group else ""} "{name}" is invalid: {field}: {why}',
        details=details,
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def forbidden(plural: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(
        403,
        "Forbidden",
        f'{_qualified(plural, group)} "{name}" is forbidden: {why}',
        details=_details(name, group, plural),
    )


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def method_not_allowed(method: str) -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method ({method}) on the requested resource",
    )


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json-patch+json, application/merge-patch+json, got {content_type}",
    )


def path_not_found(path: str) -> ApiError:
    return ApiError(404, "NotFound", f"the server could not find the requested resource ({path})")


def unprocessable(message: str) -> ApiError:
    return ApiError(422, "Invalid", message)


def too_large_resource_version(requested: int, current: int) -> ApiError:
    return ApiError(
        504,
        "Timeout",
        f"Too large resource version: {requested}, current: {current}",
        details={
            "causes": [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ],
            "retryAfterSeconds": 1,
        },
    )


def precondition_failed(rt: Any, name: str, what: str, wanted: Any, actual: Any) -> ApiError:
    """409 for a failed uid/resourceVersion precondition (``rt`` is a ResourceType)."""
    return conflict(
        rt.plural,
        rt.group,
        name,
        f"Precondition failed: {what} in precondition: {wanted}, {what} in object meta: {actual}",
    )


def namespace_mismatch() -> ApiError:
    return bad_request(
        "the namespace of the provided object does not match the namespace sent on the request"
    )


def namespace_terminating(plural: str, group: str, name: str, namespace: str) -> ApiError:
    return forbidden(
        plural,
        group,
        name,
        f"unable to create new content in namespace {namespace} because it is being terminated",
    )
