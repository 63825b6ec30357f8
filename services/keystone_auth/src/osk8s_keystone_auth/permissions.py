"""Policy v2 permission keys: ``"<ns>/<res>": [verbs]`` and ``"/path": [verbs]``.

A namespace or resource definition is ``*``, a name, ``!name`` (anything but), ``['a','b']``
(one of) or ``!['a','b']`` (none of); names and verbs compare lower-cased, as CPO does. A
cluster-scoped request (no namespace) is matched only by ``*`` (CPO #1308 fixed the earlier
"empty matches anything"). Pure functions, used by ``authorizer`` only.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from osk8s_keystone_auth.authorizer import Attributes

Permissions = tuple[tuple[str, tuple[str, ...]], ...]


def _verbs(values: tuple[str, ...], verb: str, *, lower: bool) -> bool:
    allowed = {v.lower() for v in values} if lower else set(values)
    return "*" in allowed or verb in allowed


def _name_list(text: str) -> list[str] | None:
    """``['a', 'b']`` (single or double quotes) as a list, or None when malformed."""
    try:
        items = json.loads(text.replace("'", '"'))
    except ValueError:
        return None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        return None
    return [i.strip().lower() for i in items]


def definition_allows(definition: str, value: str) -> bool:
    """Whether a namespace/resource definition admits ``value`` ("" = cluster-scoped)."""
    if definition == "*":
        return True
    if not value:
        return False
    negated = definition.startswith("!")
    body = definition[1:] if negated else definition
    if body.startswith("[") and body.endswith("]"):
        names = _name_list(body)
        if names is None:
            return False  # malformed definition: skipped, as CPO does
        listed = "*" in names or value in names
    else:
        listed = body in ("*", value)
    return listed != negated


def resource_permitted(permissions: Permissions, attrs: Attributes) -> bool:
    namespace = attrs.namespace.lower()
    resource = attrs.resource.lower()
    verb = attrs.verb.lower()
    for key, verbs in permissions:
        parts = key.split("/")
        if len(parts) != 2:
            continue  # matches CPO: a key that is not "<ns>/<res>" is ignored
        ns_def, res_def = (p.strip().lower() for p in parts)
        if (
            definition_allows(ns_def, namespace)
            and definition_allows(res_def, resource)
            and _verbs(verbs, verb, lower=True)
        ):
            return True
    return False


def nonresource_permitted(permissions: Permissions, attrs: Attributes) -> bool:
    return any(
        path == attrs.path and _verbs(verbs, attrs.verb, lower=False) for path, verbs in permissions
    )
