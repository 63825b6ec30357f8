"""The Ingress annotations CPO reads, parsed into one frozen value per Ingress.

Defaults and spellings as CPO: internal unless ``internal: "false"``; ``floatingip`` picks
an existing FIP; ``keep-floatingip`` keeps it on delete; ``whitelist-source-range`` becomes
the listener's allowed CIDRs (default ``0.0.0.0/0``); the four timeouts are milliseconds,
and an unparsable timeout is ignored (CPO logs and leaves Octavia's default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from osk8s_octavia_ingress.desired import IngressError

PREFIX: Final = "octavia.ingress.kubernetes.io/"
CLASS_ANNOTATION: Final = "kubernetes.io/ingress.class"
INTERNAL: Final = PREFIX + "internal"
FLOATING_IP: Final = PREFIX + "floatingip"
KEEP_FLOATING_IP: Final = PREFIX + "keep-floatingip"
SOURCE_RANGES: Final = PREFIX + "whitelist-source-range"
TIMEOUTS: Final = {
    "timeout_client_data": PREFIX + "timeout-client-data",
    "timeout_member_data": PREFIX + "timeout-member-data",
    "timeout_member_connect": PREFIX + "timeout-member-connect",
    "timeout_tcp_inspect": PREFIX + "timeout-tcp-inspect",
}
_TRUE: Final = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE: Final = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def go_bool(text: str, *, key: str) -> bool:
    """Go's ``strconv.ParseBool``."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise IngressError(f"unknown annotation {key}: invalid syntax {text!r}")


@dataclass(frozen=True)
class IngressSettings:
    internal: bool = True
    floating_ip: str = ""
    keep_floating_ip: bool = False
    allowed_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    timeouts: tuple[tuple[str, int], ...] = ()
    """(listener attribute, milliseconds) for the timeouts that are set."""


def parse(ingress: Mapping[str, Any]) -> IngressSettings:
    annotations: Mapping[str, str] = (ingress.get("metadata") or {}).get("annotations") or {}
    internal = go_bool(annotations.get(INTERNAL, "true"), key=INTERNAL)
    keep_text = annotations.get(KEEP_FLOATING_IP, "false")
    keep = keep_text in _TRUE  # CPO treats anything but a true value as false here
    ranges = annotations.get(SOURCE_RANGES, "0.0.0.0/0")
    cidrs = tuple(part.strip() for part in ranges.split(",") if part.strip())
    timeouts = []
    for attribute, key in TIMEOUTS.items():
        text = annotations.get(key)
        if text is None:
            continue
        try:
            timeouts.append((attribute, int(text)))
        except ValueError:
            continue
    return IngressSettings(
        internal=internal,
        floating_ip=annotations.get(FLOATING_IP, "").strip(),
        keep_floating_ip=keep,
        allowed_cidrs=cidrs or ("0.0.0.0/0",),
        timeouts=tuple(timeouts),
    )
