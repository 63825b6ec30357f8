"""Wire format of TokenReview and SubjectAccessReview, ``v1`` and ``v1beta1`` alike.

``decode_body`` turns the request bytes into JSON, refusing invalid text and nesting deeper than
``MAX_DEPTH`` (json would hit the recursion limit: a 500 and a traceback); ``parse_review``
checks the document and returns a typed request. Both raise ``ReviewError`` (HTTP 400 with a
message saying what is wrong). Responses answer in the apiVersion asked (CPO
accepted only v1beta1, #2562). A TokenReview response never echoes the token back. No I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from osk8s_core.errors import Osk8sError
from osk8s_core.secrets import SecretStr
from osk8s_keystone_auth.authorizer import Attributes
from osk8s_keystone_auth.identity import UserInfo

AUTHN_VERSIONS: Final = ("authentication.k8s.io/v1", "authentication.k8s.io/v1beta1")
AUTHZ_VERSIONS: Final = ("authorization.k8s.io/v1", "authorization.k8s.io/v1beta1")
MAX_DEPTH: Final = 64
"""Nesting levels a review may have (real ones have fewer than 10)."""
TOKEN_REVIEW: Final = "TokenReview"
ACCESS_REVIEW: Final = "SubjectAccessReview"


class ReviewError(Osk8sError):
    """The review request is malformed (answered with HTTP 400)."""


@dataclass(frozen=True)
class TokenReviewRequest:
    api_version: str
    token: SecretStr
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class AccessReviewRequest:
    api_version: str
    attributes: Attributes
    metadata: Mapping[str, Any]


def decode_body(data: bytes) -> object:
    """The JSON document of a request body; ``ReviewError`` if it is not one we accept."""
    if _depth_exceeds(data, MAX_DEPTH):
        raise ReviewError(f"request body is nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ReviewError(f"request body must be a JSON object (invalid JSON: {exc})") from None


def _depth_exceeds(data: bytes, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than ``limit`` (checked before parsing)."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False  # every real review: too few brackets to nest that deep
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # closing quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


def parse_review(body: object) -> TokenReviewRequest | AccessReviewRequest:
    if not isinstance(body, dict):
        raise ReviewError("request body must be a JSON object")
    api_version = body.get("apiVersion")
    kind = body.get("kind")
    raw_metadata = body.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    spec = body.get("spec")
    if not isinstance(spec, dict):
        raise ReviewError("spec must be an object")
    if kind == TOKEN_REVIEW and api_version in AUTHN_VERSIONS:
        token = spec.get("token")
        if not isinstance(token, str) or not token:
            raise ReviewError("spec.token must be a non-empty string")
        return TokenReviewRequest(str(api_version), SecretStr(token), metadata)
    if kind == ACCESS_REVIEW and api_version in AUTHZ_VERSIONS:
        return AccessReviewRequest(str(api_version), _attributes(spec), metadata)
    raise ReviewError(
        f"unknown kind/apiVersion {kind!r} {api_version!r}: expected TokenReview "
        f"({', '.join(AUTHN_VERSIONS)}) or SubjectAccessReview ({', '.join(AUTHZ_VERSIONS)})"
    )


def _string(spec: Mapping[str, Any], key: str, where: str) -> str:
    value = spec.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ReviewError(f"{where}.{key} must be a string")
    return value


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ReviewError(f"{where} must be a list of strings")
    return tuple(value)


def _attributes(spec: Mapping[str, Any]) -> Attributes:
    resource = spec.get("resourceAttributes")
    nonresource = spec.get("nonResourceAttributes")
    if (resource is None) == (nonresource is None):
        raise ReviewError(
            "exactly one of spec.resourceAttributes or spec.nonResourceAttributes must be set"
        )
    # v1 names the field "groups", v1beta1 "group".
    groups = spec.get("groups", spec.get("group"))
    extra_raw = spec.get("extra") or {}
    if not isinstance(extra_raw, dict):
        raise ReviewError("spec.extra must be an object of string lists")
    extra = {str(k): _strings(v, f"spec.extra[{k!r}]") for k, v in extra_raw.items()}
    common: dict[str, Any] = {
        "user": _string(spec, "user", "spec"),
        "uid": _string(spec, "uid", "spec"),
        "groups": _strings(groups, "spec.groups"),
        "extra": extra,
    }
    if resource is not None:
        if not isinstance(resource, dict):
            raise ReviewError("spec.resourceAttributes must be an object")
        where = "spec.resourceAttributes"
        return Attributes(
            **common,
            resource_request=True,
            verb=_string(resource, "verb", where),
            namespace=_string(resource, "namespace", where),
            api_group=_string(resource, "group", where),
            resource=_string(resource, "resource", where),
            subresource=_string(resource, "subresource", where),
            name=_string(resource, "name", where),
        )
    if not isinstance(nonresource, dict):
        raise ReviewError("spec.nonResourceAttributes must be an object")
    where = "spec.nonResourceAttributes"
    return Attributes(
        **common,
        resource_request=False,
        verb=_string(nonresource, "verb", where),
        path=_string(nonresource, "path", where),
    )


def token_review_response(
    request: TokenReviewRequest, user: UserInfo | None, *, error: str = ""
) -> dict[str, Any]:
    status: dict[str, Any] = {"authenticated": user is not None}
    if user is not None:
        status["user"] = user.to_json()
    elif error:
        status["error"] = error
    return {
        "apiVersion": request.api_version,
        "kind": TOKEN_REVIEW,
        "metadata": dict(request.metadata),
        "status": status,
    }


def access_review_response(
    request: AccessReviewRequest, *, allowed: bool, reason: str = ""
) -> dict[str, Any]:
    status: dict[str, Any] = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    # Matches CPO: the request echoed minus its spec.
    return {
        "apiVersion": request.api_version,
        "kind": ACCESS_REVIEW,
        "metadata": dict(request.metadata),
        "status": status,
    }
