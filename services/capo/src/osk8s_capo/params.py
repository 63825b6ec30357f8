"""CAPO's ID-or-filter references (capo.md §1.9) resolved against Neutron.

An ``id`` is trusted (fetched once to fill status); a ``filter`` must match exactly one
object: none or several is a ``FilterMatchError`` whose message names the filter, for the
condition. Tag lists become Neutron's comma-separated ``tags``/``tags-any``/``not-tags``/
``not-tags-any`` query parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from osk8s_core.errors import Osk8sError

T = TypeVar("T")

_FILTER_KEYS = {
    "name": "name",
    "description": "description",
    "projectID": "project_id",
    "ipVersion": "ip_version",
    "gatewayIP": "gateway_ip",
    "cidr": "cidr",
    "ipv6AddressMode": "ipv6_address_mode",
    "ipv6RAMode": "ipv6_ra_mode",
}
_TAG_KEYS = {
    "tags": "tags",
    "tagsAny": "any_tags",
    "notTags": "not_tags",
    "notTagsAny": "not_any_tags",
}


class FilterMatchError(Osk8sError):
    """A filter matched no object or more than one (CAPO: ErrNoMatches/ErrMultipleMatches)."""


def neutron_query(filter_: Mapping[str, Any]) -> dict[str, Any]:
    """openstacksdk query parameters of a CAPO Neutron filter."""
    query: dict[str, Any] = {}
    for key, sdk_key in _FILTER_KEYS.items():
        if filter_.get(key) not in (None, ""):
            query[sdk_key] = filter_[key]
    for key, sdk_key in _TAG_KEYS.items():
        tags = filter_.get(key)
        if tags:
            query[sdk_key] = ",".join(tags)
    return query


def resolve(
    param: Mapping[str, Any],
    *,
    what: str,
    get: Callable[[str], T],
    query: Callable[..., list[T]],
    extra: Mapping[str, Any] | None = None,
) -> T:
    """The one object ``param`` (``{id}`` or ``{filter}``) names."""
    if param.get("id"):
        return get(str(param["id"]))
    filter_ = param.get("filter") or {}
    found = query(**neutron_query(filter_), **(extra or {}))
    name = filter_.get("name")
    if name:  # Neutron's name filter is exact, but be sure (some fakes match prefixes)
        found = [item for item in found if getattr(item, "name", None) == name]
    if len(found) != 1:
        detail = "no" if not found else str(len(found))
        raise FilterMatchError(
            f"{detail} {what} match filter {dict(filter_)}, expected exactly one"
        )
    return found[0]
