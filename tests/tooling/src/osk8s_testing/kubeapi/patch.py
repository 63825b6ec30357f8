"""The three patch formats the API accepts, dispatched on the request Content-Type.

JSON Patch (RFC 6902, via the ``jsonpatch`` library), JSON Merge Patch (RFC 7386) and
strategic merge patch (built-in types only: custom resources answer 415 as upstream).
Pure functions over dicts; the store decides what to do with the result.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from osk8s_testing.kubeapi import strategic
from osk8s_testing.kubeapi.errors import ApiError, bad_request, unsupported_media_type

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def apply_patch(
    content_type: str, original: dict[str, Any], patch: Any, *, kind: str, strategic_allowed: bool
) -> dict[str, Any]:
    media = content_type.split(";", maxsplit=1)[0].strip().lower()
    if media == JSON_PATCH:
        if not isinstance(patch, list):
            raise bad_request("json patch must be a JSON array of operations")
        try:
            result = jsonpatch.apply_patch(original, patch)
        except jsonpatch.JsonPatchTestFailed as exc:
            raise ApiError(
                422,
                "Invalid",
                f"the server rejected our request due to an error in our request: {exc}",
            ) from exc
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            raise ApiError(
                422,
                "Invalid",
                f"the server rejected our request due to an error in our request: {exc}",
            ) from exc
    elif media == MERGE_PATCH:
        result = merge_patch(original, patch)
    elif media == STRATEGIC_MERGE_PATCH and strategic_allowed:
        result = strategic.apply(original, patch, kind)
    else:
        raise unsupported_media_type(media)
    if not isinstance(result, dict):
        raise bad_request("patch result is not a JSON object")
    return result
