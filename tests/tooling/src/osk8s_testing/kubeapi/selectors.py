"""Label and field selectors, parsed from query strings and matched against objects.

Grammar as in the Kubernetes docs: labels take ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``,
``k notin (a,b)``, ``k`` and ``!k``; fields take ``=``, ``==``, ``!=`` on the labels a type
supports (``metadata.name``, ``metadata.namespace`` plus per-type ones). Unsupported field
labels are a 400, as on the real server. Pure functions: no store access here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from osk8s_testing.kubeapi.errors import bad_request

_SET_RE = re.compile(r"^\s*(!?)([^\s!=,()]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([^\s!=]+)\s*(==|=|!=)\s*([^\s]*)\s*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str
    """One of '=', '!=', 'in', 'notin', 'exists', '!'."""
    values: tuple[str, ...] = ()

    def matches(self, get: Callable[[str], str | None]) -> bool:
        value = get(self.key)
        if self.op == "=":
            return value == self.values[0]
        if self.op == "!=":
            return value != self.values[0]
        if self.op == "in":
            return value is not None and value in self.values
        if self.op == "notin":
            return value is None or value not in self.values
        if self.op == "exists":
            return value is not None
        return value is None  # '!'


def _split_terms(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [t for t in terms if t.strip()]


def _valid_key(key: str) -> bool:
    """A qualified name: optional DNS-subdomain prefix and '/', then a 63-char name."""
    prefix, _, name = key.rpartition("/")
    if "/" in key and not (prefix and len(prefix) <= 253 and _DNS_SUBDOMAIN.match(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(_LABEL_NAME.match(name))


def _valid_value(value: str) -> bool:
    return value == "" or (len(value) <= 63 and bool(_LABEL_NAME.match(value)))


def _checked(req: Requirement) -> Requirement:
    """apimachinery's labels.NewRequirement validation: a bad key or value is a 400."""
    if not _valid_key(req.key):
        raise bad_request(
            f"unable to parse requirement: <nil>: Invalid value: {req.key!r}: name part must "
            "consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
            "an alphanumeric character"
        )
    for value in req.values:
        if not _valid_value(value):
            raise bad_request(
                f"unable to parse requirement: values[0][{req.key}]: Invalid value: {value!r}: "
                "a valid label must be an empty string or consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an alphanumeric character"
            )
    if req.op in ("in", "notin") and not req.values:
        raise bad_request(
            f"unable to parse requirement: values: Invalid value: []: for 'in', 'notin' "
            f"operators, values set can't be empty ({req.key})"
        )
    return req


def parse_label_selector(text: str | None) -> tuple[Requirement, ...]:
    """Parse and validate (400 BadRequest on anything kube-apiserver would not parse)."""
    return tuple(_checked(r) for r in _parse_label_selector(text))


def _parse_label_selector(text: str | None) -> tuple[Requirement, ...]:
    if not text:
        return ()
    out = []
    for term in _split_terms(text):
        eq = _EQ_RE.match(term)
        if eq:
            op = "!=" if eq.group(2) == "!=" else "="
            out.append(Requirement(eq.group(1), op, (eq.group(3),)))
            continue
        match = _SET_RE.match(term)
        if not match:
            raise bad_request(f"unable to parse requirement: invalid label selector: {term!r}")
        negated, key, op, values = match.groups()
        if op:
            if negated:
                raise bad_request(f"unable to parse requirement: {term!r}")
            out.append(
                Requirement(key, op, tuple(v.strip() for v in values.split(",") if v.strip()))
            )
        else:
            out.append(Requirement(key, "!" if negated else "exists"))
    return tuple(out)


def parse_field_selector(text: str | None, supported: tuple[str, ...]) -> tuple[Requirement, ...]:
    if not text:
        return ()
    out = []
    allowed = {"metadata.name", "metadata.namespace", *supported}
    for term in _split_terms(text):
        eq = _EQ_RE.match(term)
        if not eq:
            raise bad_request(f"invalid selector: {term!r}; can't understand")
        key = eq.group(1)
        if key not in allowed:
            raise bad_request(f"field label not supported: {key}")
        out.append(Requirement(key, "!=" if eq.group(2) == "!=" else "=", (eq.group(3),)))
    return tuple(out)


def field_value(obj: Mapping[str, Any], path: str) -> str | None:
    """The selector string for a dotted path: bools as 'true'/'false', missing as ''."""
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping):
            node = None
            break
        node = node.get(part)
    if isinstance(node, bool):
        return "true" if node else "false"
    if node is None:
        # kube-apiserver compares missing fields as the empty string (e.g. spec.nodeName=)
        return ""
    if isinstance(node, Mapping):
        # 'source' on events selects source.component
        return str(node.get("component", ""))
    return str(node)


@dataclass(frozen=True)
class Selector:
    labels: tuple[Requirement, ...] = ()
    fields: tuple[Requirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if not all(r.matches(labels.get) for r in self.labels):
            return False
        return all(r.matches(lambda p: field_value(obj, p)) for r in self.fields)

    @property
    def empty(self) -> bool:
        return not self.labels and not self.fields
