"""Decide a SubjectAccessReview against the policy list, with CPO's v1 and v2 semantics.

A request is allowed when ANY policy allows it; no policy, or a user without Keystone extras,
means deny (CPO #1288). Within a policy, v2 ``users`` gates the whole entry, and v2
``resource_permissions``/``nonresource_permissions`` take precedence over v1 ``resource``/
``nonresource``. Pure functions over frozen data: no I/O, no logging, no locks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from osk8s_keystone_auth.identity import PROJECT_ID, PROJECT_NAME, ROLES
from osk8s_keystone_auth.permissions import nonresource_permitted, resource_permitted
from osk8s_keystone_auth.policy import Match, NonResourceSpec, Policy, ResourceSpec


@dataclass(frozen=True)
class Attributes:
    """The request a SubjectAccessReview asks about (Kubernetes authorizer attributes)."""

    user: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    resource_request: bool = True
    verb: str = ""
    namespace: str = ""
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""

    def extra_values(self, key: str) -> tuple[str, ...]:
        return self.extra.get(key, ())


def authorize(policies: tuple[Policy, ...], attrs: Attributes) -> bool:
    """True when any policy allows ``attrs``."""
    if not policies or not attrs.extra:
        return False
    roles = set(attrs.extra_values(ROLES))
    projects = set(attrs.extra_values(PROJECT_NAME)) | set(attrs.extra_values(PROJECT_ID))
    return any(_allows(policy, attrs, roles=roles, projects=projects) for policy in policies)


def _allows(policy: Policy, attrs: Attributes, *, roles: set[str], projects: set[str]) -> bool:
    if policy.users is not None:
        # v2 gate (matches CPO): every listed role held, and at least one listed project;
        # a gate listing no project therefore admits nobody.
        wanted_roles = set(policy.users.get("roles", ()))
        wanted_projects = set(policy.users.get("projects", ()))
        if not wanted_roles <= roles or not wanted_projects & projects:
            return False
    if attrs.resource_request:
        if policy.resource_permissions is not None:
            return resource_permitted(policy.resource_permissions, attrs)
        if policy.resource is not None:
            return _resource_matches(policy.resource, policy.match, attrs)
        return False
    if policy.nonresource_permissions is not None:
        return nonresource_permitted(policy.nonresource_permissions, attrs)
    if policy.nonresource is not None:
        return _nonresource_matches(policy.nonresource, policy.match, attrs)
    return False


def _resource_matches(spec: ResourceSpec, match: tuple[Match, ...], attrs: Attributes) -> bool:
    if spec.api_group is None or spec.namespace is None:
        return False  # CPO crashes on such an entry (nil dereference); it allows nothing here
    if spec.api_group not in ("*", attrs.api_group):
        return False
    if spec.namespace not in ("*", attrs.namespace):
        return False
    if attrs.subresource:
        wanted = {"*", f"{attrs.resource}/*", f"{attrs.resource}/{attrs.subresource}"}
    else:
        wanted = {"*", attrs.resource}
    if not wanted & set(spec.resources):
        return False
    if not {"*", attrs.verb} & set(spec.verbs):
        return False
    return _match_all(match, attrs)


def _nonresource_matches(
    spec: NonResourceSpec, match: tuple[Match, ...], attrs: Attributes
) -> bool:
    if "" in spec.verbs or not spec.path:
        return False  # matches CPO: such a policy is skipped
    if not {"*", attrs.verb} & set(spec.verbs):
        return False
    path = spec.path
    prefix_ok = path.endswith("*") and attrs.path.startswith(path.rstrip("*"))
    if path not in ("*", attrs.path) and not prefix_ok:
        return False
    return _match_all(match, attrs)


def _match_all(match: tuple[Match, ...], attrs: Attributes) -> bool:
    """Every match entry must hold (AND); an empty list holds (matches CPO)."""
    for entry in match:
        if entry.type not in ("user", "group", "project", "role"):
            return False  # unknown type: deny, as CPO does
        values = set(entry.values)
        if "*" in values:
            continue
        if entry.type == "group":
            found = bool(values & set(attrs.groups))
        elif entry.type == "user":
            found = attrs.user in values or attrs.uid in values
        elif entry.type == "project":
            found = bool(
                values
                & (set(attrs.extra_values(PROJECT_ID)) | set(attrs.extra_values(PROJECT_NAME)))
            )
        else:
            found = bool(values & set(attrs.extra_values(ROLES)))
        if not found:
            return False
    return True
