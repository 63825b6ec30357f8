"""Name, tag and metadata filters for lookups, turned into API queries and exact checks.

Server-side filters are not exact everywhere (Nova's ``name`` is a regular expression,
Cinder's can be a substring with ``name~``), so every lookup by name is re-checked here.
Tag specs follow CPO's ``floating-subnet-tags`` syntax. Pure functions: no API calls.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from osk8s_core import errors

T = TypeVar("T")


def nova_name_regex(name: str) -> str:
    """A Nova ``name`` query matching exactly ``name`` (Nova treats it as a regex)."""
    return f"^{re.escape(name)}$"


def named(items: Iterable[T], name: str) -> list[T]:
    """The items whose ``name`` attribute equals ``name`` exactly."""
    return [item for item in items if getattr(item, "name", None) == name]


def has_metadata(resource: object, wanted: Mapping[str, str]) -> bool:
    """Whether the resource's ``metadata`` dict holds every key/value of ``wanted``."""
    metadata = getattr(resource, "metadata", None) or {}
    return all(metadata.get(key) == value for key, value in wanted.items())


@dataclass(frozen=True)
class TagFilter:
    """A Neutron tag filter: ``tags`` (all of), ``tags-any``, ``not-tags``, ``not-tags-any``."""

    tags: tuple[str, ...]
    match_all: bool = False
    negate: bool = False

    @property
    def query_key(self) -> str:
        key = "tags" if self.match_all else "tags-any"
        return f"not-{key}" if self.negate else key

    def query(self) -> dict[str, str]:
        """Query parameters for a Neutron list call; empty when there are no tags."""
        if not self.tags:
            return {}
        return {self.query_key: ",".join(self.tags)}

    def matches(self, resource_tags: Iterable[str]) -> bool:
        """The same filter applied locally (for APIs without server-side tag filters)."""
        have = set(resource_tags)
        if not self.tags:
            return True
        hit = set(self.tags) <= have if self.match_all else bool(have & set(self.tags))
        return not hit if self.negate else hit


def parse_tag_spec(spec: str) -> TagFilter:
    """Parse CPO's tag spec: ``a,b`` any of; ``&a,b`` all of; ``!`` negates (``!a``, ``!&a,b``;
    ``&!`` is accepted too). Blank items are dropped; a spec of only markers is an error."""
    text = spec.strip()
    match_all = negate = False
    while text[:1] in ("&", "!"):
        if text[0] == "&":
            match_all = True
        else:
            negate = True
        text = text[1:].lstrip()
    tags = tuple(tag.strip() for tag in text.split(",") if tag.strip())
    if not tags and (match_all or negate):
        raise errors.ConfigError(f"tag filter {spec!r} has no tags", expected="e.g. '&a,b'")
    return TagFilter(tags=tags, match_all=match_all, negate=negate)
