"""The two ciphertext formats Encrypt can write, and the KMS ``key_id`` each one reports.

``aes-cbc`` is CPO's format (``legacy.py``): every CPO plugin reads it, so it is the default and
a fleet that mixes CPO and osk8s plugins, or rolls back to CPO, keeps reading every Secret.
``envelope`` is ours (``envelope.py``): authenticated, but unreadable by CPO; it is opt-in.

The KMS v2 ``key_id`` says which key *and format* wrapped a DEK. In ``aes-cbc`` it is the
configured ``key-id`` exactly as CPO reports it, so a mixed fleet agrees on it. In ``envelope``
it is ``ENVELOPE_KEY_ID_PREFIX + key-id``: switching the format changes ``key_id``, which is
what makes kube-apiserver wrap a new DEK at once (it re-calls Encrypt only when the ``key_id``
in Status changes) and marks data wrapped the old way as stale for a storage migration.
"""

from __future__ import annotations

import enum
from typing import Final


class WriteFormat(enum.StrEnum):
    AES_CBC = "aes-cbc"
    """CPO's AES-CBC (random IV prepended, PKCS#7, Barbican payload as the key)."""
    ENVELOPE = "envelope"
    """osk8s envelope v1: AES-256-GCM under a key derived from the payload, key id inside."""


DEFAULT_WRITE_FORMAT: Final = WriteFormat.AES_CBC
ENVELOPE_KEY_ID_PREFIX: Final = "osk8s-envelope-v1:"


def kms_key_id(key_id: str, fmt: WriteFormat) -> str:
    """The KMS ``key_id`` reported for data written under ``key_id`` in ``fmt``."""
    return ENVELOPE_KEY_ID_PREFIX + key_id if fmt is WriteFormat.ENVELOPE else key_id


def split_kms_key_id(value: str) -> tuple[str, WriteFormat | None]:
    """A request's ``key_id`` -> (configured key id, the format it names, or None if unsaid).

    A plain id may name data in either format (CPO's, or our envelope written before the
    format was part of the id), so it says nothing about the format.
    """
    if value.startswith(ENVELOPE_KEY_ID_PREFIX):
        return value[len(ENVELOPE_KEY_ID_PREFIX) :], WriteFormat.ENVELOPE
    return value, None
