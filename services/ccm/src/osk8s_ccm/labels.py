"""Kubernetes label values from OpenStack names: validity and CPO's zone sanitising."""

from __future__ import annotations

import re
from typing import Final

MAX_LABEL_VALUE: Final = 63
_VALID: Final = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_OUTSIDE: Final = re.compile(r"[^-A-Za-z0-9_.]+")
_EDGES: Final = "-_."

ZONE_LABEL: Final = "topology.kubernetes.io/zone"
REGION_LABEL: Final = "topology.kubernetes.io/region"
INSTANCE_TYPE_LABEL: Final = "node.kubernetes.io/instance-type"
# Still written by upstream's cloud node controller next to the GA labels.
LEGACY_ZONE_LABEL: Final = "failure-domain.beta.kubernetes.io/zone"
LEGACY_REGION_LABEL: Final = "failure-domain.beta.kubernetes.io/region"
LEGACY_INSTANCE_TYPE_LABEL: Final = "beta.kubernetes.io/instance-type"


def is_label_value(text: str) -> bool:
    """Whether ``text`` is a valid label value (empty included), as kube-apiserver checks."""
    return len(text) <= MAX_LABEL_VALUE and _VALID.match(text) is not None


def sanitize_label_value(text: str) -> str:
    """CPO's zone sanitising: runs of characters a label may not hold become ``-``, ``-_.``
    are trimmed at both ends, and the result is cut to 63 characters."""
    cleaned = _OUTSIDE.sub("-", text).strip(_EDGES)[:MAX_LABEL_VALUE]
    # The cut can leave a separator at the end, which no label value may have.
    return cleaned.rstrip(_EDGES)
