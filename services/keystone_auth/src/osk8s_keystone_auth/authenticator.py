"""Authenticate a bearer token: token cache first, then Keystone; never allow by default.

A cache entry younger than the TTL answers at once. Otherwise Keystone is asked: a refusal
(401/404, unscoped token) denies; Keystone being unreachable or failing (5xx) denies too, as CPO
does (fail closed): a validation older than the TTL is never trusted again, even though the
token itself may be valid for hours. Role mappings are applied by the caller (they change at
run time; the cache keeps Keystone's answer only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter

from osk8s_core import errors
from osk8s_core.secrets import SecretStr
from osk8s_keystone_auth.identity import TokenInfo
from osk8s_keystone_auth.keystone import TokenRejected
from osk8s_keystone_auth.token_cache import TokenCache, token_key


class TokenValidator(Protocol):
    def validate(self, token: SecretStr) -> TokenInfo: ...


@dataclass(frozen=True)
class Outcome:
    """``info`` when authenticated; else ``reason`` (safe to log and to return)."""

    info: TokenInfo | None
    reason: str = ""
    source: str = "keystone"
    """``cache`` (validated less than the TTL ago) or ``keystone``."""


# Keystone answered and said no: these never fall back to the cache.
_REFUSED = (errors.Unauthorized, errors.NotFound, errors.Forbidden, errors.BadRequest)


class Authenticator:
    def __init__(
        self,
        *,
        validator: TokenValidator,
        cache: TokenCache,
        registry: CollectorRegistry,
        logger: Any,
    ) -> None:
        self._validator = validator
        self._cache = cache
        self._log = logger
        self._lookups = Counter(
            "keystone_auth_token_cache_lookups_total",
            "Token reviews by how they were answered (hit, miss)",
            ["result"],
            registry=registry,
        )

    def authenticate(self, token: SecretStr) -> Outcome:
        key = token_key(token)
        entry = self._cache.get(key)
        if entry is not None:
            self._lookups.labels("hit").inc()
            return Outcome(entry.info, source="cache")
        self._lookups.labels("miss").inc()
        try:
            info = self._validator.validate(token)
        except TokenRejected as exc:
            self._cache.drop(key)
            return Outcome(None, reason=str(exc))
        except _REFUSED as exc:
            self._cache.drop(key)
            return Outcome(None, reason=f"Keystone refused the token (HTTP {exc.status})")
        except errors.Osk8sError as exc:
            # Keystone unreachable or failing: deny (fail closed), whatever the cache once held.
            self._log.warning("keystone unavailable; token denied", error=str(exc))
            return Outcome(None, reason="Keystone is unavailable")
        self._cache.put(key, info)
        return Outcome(info)
