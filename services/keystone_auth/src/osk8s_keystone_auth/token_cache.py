"""Bounded in-memory cache of validated tokens (CPO has none: every review hit Keystone).

Entries are keyed by the SHA-256 of the token (the token itself is never stored). An entry
lives ``ttl`` seconds after its validation, and never past the token's own expiry; beyond
``max_entries`` the least recently used is dropped. Only a live entry is ever returned, so a
token is honoured without Keystone for at most ``ttl`` seconds, whether Keystone is up
(revocation is seen at the first review after ``ttl``) or unreachable (fail closed, as CPO:
nothing is served from a cache older than ``ttl``). Thread-safe; the clock is injected.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TLRUCache

from osk8s_core.secrets import SecretStr
from osk8s_keystone_auth.identity import TokenInfo

Clock = Callable[[], float]


@dataclass(frozen=True)
class CacheEntry:
    info: TokenInfo
    validated_at: float


@dataclass(frozen=True)
class TokenCacheSettings:
    ttl: float = 60.0
    """``--token-cache-ttl``: seconds a validation is trusted without asking Keystone; 0 = off."""
    max_entries: int = 10000
    """``--token-cache-size``: entries kept at most (least recently used dropped)."""


def token_key(token: SecretStr) -> str:
    return hashlib.sha256(token.reveal().encode()).hexdigest()


class TokenCache:
    def __init__(self, *, settings: TokenCacheSettings, clock: Clock = time.time) -> None:
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        ttl = settings.ttl
        self._entries: TLRUCache[str, CacheEntry] = TLRUCache(
            maxsize=max(1, settings.max_entries),
            ttu=lambda _key, entry, _now: min(entry.info.expires_at, entry.validated_at + ttl),
            timer=clock,
        )

    @property
    def enabled(self) -> bool:
        return self._settings.ttl > 0 and self._settings.max_entries > 0

    def __len__(self) -> int:
        with self._lock:
            self._entries.expire()
            return len(self._entries)

    def get(self, key: str) -> CacheEntry | None:
        """The entry if it was validated less than ``ttl`` ago and the token has not expired."""
        if not self.enabled:
            return None
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, info: TokenInfo) -> None:
        now = self._clock()
        if not self.enabled or info.expires_at <= now:
            return
        with self._lock:
            self._entries[key] = CacheEntry(info=info, validated_at=now)

    def drop(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
