"""An immutable snapshot of the keys in use: the current key plus older keys for decryption.

The key store swaps whole snapshots, so the hot path (every Encrypt/Decrypt) reads one
attribute and never takes a lock. A snapshot holds no I/O and logs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from osk8s_barbican_kms.envelope import header_for
from osk8s_barbican_kms.errors import KeyUnavailable, UnknownKey
from osk8s_barbican_kms.formats import DEFAULT_WRITE_FORMAT, WriteFormat, kms_key_id
from osk8s_barbican_kms.keys import LoadedKey


def _empty_keys() -> Mapping[str, LoadedKey]:
    return MappingProxyType({})


def _empty_reasons() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class KeyIds:
    """Which Barbican secrets to use, from ``[KeyManager]``."""

    current: str
    """``key-id``: encrypts; its id is the KMS ``key_id``."""
    old: tuple[str, ...] = ()
    """``old-key-id`` (repeatable): still decrypt, never encrypt."""
    write_format: WriteFormat = DEFAULT_WRITE_FORMAT
    """``write-format``: what KMS v2 Encrypt writes (v1beta1 always writes the envelope)."""

    @property
    def all(self) -> tuple[str, ...]:
        return (self.current, *(k for k in self.old if k != self.current))


@dataclass(frozen=True)
class KeyRing:
    """Keys loaded at one point in time, and why the others are missing."""

    current_id: str = ""
    keys: Mapping[str, LoadedKey] = field(default_factory=_empty_keys)
    missing: Mapping[str, str] = field(default_factory=_empty_reasons)
    """Configured key id -> why its material is not loaded."""
    current_header: bytes = b""
    """Authenticated envelope header for the current key (computed once per snapshot)."""
    write_format: WriteFormat = DEFAULT_WRITE_FORMAT
    kms_key_id: str = ""
    """The KMS v2 ``key_id`` of what Encrypt writes now (Status reports the same)."""

    @classmethod
    def build(
        cls,
        current_id: str,
        keys: Mapping[str, LoadedKey],
        missing: Mapping[str, str],
        write_format: WriteFormat = DEFAULT_WRITE_FORMAT,
    ) -> KeyRing:
        header = header_for(current_id) if current_id in keys else b""
        return cls(
            current_id,
            MappingProxyType(dict(keys)),
            MappingProxyType(dict(missing)),
            header,
            write_format,
            kms_key_id(current_id, write_format) if current_id else "",
        )

    def current(self) -> LoadedKey:
        key = self.keys.get(self.current_id)
        if key is None:
            raise KeyUnavailable(self.current_problem() or "no key loaded")
        return key

    def get(self, key_id: str) -> LoadedKey:
        key = self.keys.get(key_id)
        if key is not None:
            return key
        if key_id in self.missing:
            raise KeyUnavailable(f"key {key_id} is not loaded: {self.missing[key_id]}")
        raise UnknownKey(
            f"key {key_id} is not configured ([KeyManager] key-id is {self.current_id or 'unset'}"
            "; list older keys as old-key-id to keep decrypting their data)"
        )

    def current_problem(self) -> str | None:
        """None when the current key is loaded, else why not (for Status healthz)."""
        if not self.current_id:
            return "no key configured"
        if self.current_id in self.keys:
            return None
        reason = self.missing.get(self.current_id, "not loaded yet")
        return f"key {self.current_id} is not loaded: {reason}"
