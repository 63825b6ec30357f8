"""Turn a protobuf message into a log-safe dict: secret-bearing fields replaced, size capped.

CSI requests carry credentials in ``secrets`` maps and KMS calls carry key material in
``plaintext``; fields with these names are replaced by ``***`` at any depth (like CSI's
protosanitizer, but by name so it works for KMS too). It never logs anything itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

REDACTED = "***"
DEFAULT_SECRET_FIELDS = frozenset({"secrets", "plaintext", "plain"})
"""Field names stripped by default: CSI ``secrets`` maps, KMS v2 ``plaintext`` and KMS v1beta1
``plain`` (the DEK / the Secret's bytes)."""


def redact_message(
    message: object,
    *,
    secret_fields: Iterable[str] = DEFAULT_SECRET_FIELDS,
    max_chars: int = 4096,
) -> object:
    """A JSON-able, secret-free view of ``message`` for logs (non-messages give their type)."""
    if not isinstance(message, Message):
        return f"<{type(message).__name__}>"
    data = json_format.MessageToDict(message, preserving_proto_field_name=True)
    cleaned = _strip(data, frozenset(secret_fields))
    text = repr(cleaned)
    # Cap what one log line can carry (a ListVolumes response can be huge).
    if len(text) > max_chars:
        return text[:max_chars] + f"...<{len(text) - max_chars} more chars>"
    return cleaned


def _strip(value: Any, names: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {
            key: (REDACTED if key in names else _strip(item, names)) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_strip(item, names) for item in value]
    return value
