"""Token cache and authenticator: TTL, token expiry, size bound, revocation, Keystone down.

The validator is a narrow fake (one method) and the clock is injected: pure logic, no sleeps.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from osk8s_core import errors
from osk8s_core.secrets import SecretStr
from osk8s_keystone_auth.authenticator import Authenticator
from osk8s_keystone_auth.identity import TokenInfo
from osk8s_keystone_auth.keystone import TokenRejected
from osk8s_keystone_auth.token_cache import TokenCache, TokenCacheSettings, token_key


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Validator:
    """Answers from a dict; ``error`` makes every call raise it."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls = 0
        self.valid: dict[str, float] = {}  # token -> lifetime left at issue
        self.error: Exception | None = None

    def validate(self, token: SecretStr) -> TokenInfo:
        self.calls += 1
        if self.error is not None:
            raise self.error
        if token.reveal() not in self.valid:
            raise errors.NotFound("token not found", status=404)
        return TokenInfo(
            user_id="u1",
            user_name="alice",
            domain_id="default",
            domain_name="Default",
            project_id="p1",
            project_name="demo",
            roles=("member",),
            groups=("devs",),
            expires_at=self.clock.now + self.valid[token.reveal()],
        )


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **kw: Any) -> None:
        self.lines.append((event, kw))


def make(
    ttl: float = 60.0, size: int = 100
) -> tuple[Authenticator, Validator, Clock, Log, TokenCache]:
    clock = Clock()
    validator = Validator(clock)
    cache = TokenCache(settings=TokenCacheSettings(ttl=ttl, max_entries=size), clock=clock)
    log = Log()
    auth = Authenticator(validator=validator, cache=cache, registry=CollectorRegistry(), logger=log)
    return auth, validator, clock, log, cache


def test_keystone_cache_hit_makes_no_keystone_call() -> None:
    auth, validator, clock, _, _ = make()
    validator.valid["t1"] = 3600
    first = auth.authenticate(SecretStr("t1"))
    assert first.info is not None and first.source == "keystone"
    for _ in range(50):
        clock.now += 1
        assert auth.authenticate(SecretStr("t1")).source == "cache"
    assert validator.calls == 1


def test_keystone_revocation_is_seen_after_ttl() -> None:
    auth, validator, clock, _, cache = make(ttl=60)
    validator.valid["t1"] = 3600
    assert auth.authenticate(SecretStr("t1")).info is not None
    del validator.valid["t1"]  # revoked in Keystone
    clock.now += 59
    assert auth.authenticate(SecretStr("t1")).info is not None  # still within the TTL
    clock.now += 2
    outcome = auth.authenticate(SecretStr("t1"))
    assert outcome.info is None and "HTTP 404" in outcome.reason
    assert len(cache) == 0
    # And Keystone going down later does not resurrect it.
    validator.error = errors.ServiceUnavailable("down")
    assert auth.authenticate(SecretStr("t1")).info is None


def test_keystone_cache_never_outlives_the_token() -> None:
    auth, validator, clock, _, _ = make(ttl=600)
    validator.valid["t1"] = 30
    assert auth.authenticate(SecretStr("t1")).info is not None
    clock.now += 31
    validator.error = errors.ServiceUnavailable("down")
    assert auth.authenticate(SecretStr("t1")).info is None
    assert validator.calls == 2


def test_keystone_down_honours_cache_only_within_ttl() -> None:
    """Fail closed as CPO: with Keystone unreachable, a cached validation counts for the TTL
    and no longer, although the token itself is valid for another hour."""
    auth, validator, clock, log, cache = make(ttl=60)
    validator.valid["t1"] = 3600
    assert auth.authenticate(SecretStr("t1")).info is not None
    validator.error = errors.ServiceUnavailable("connection refused")
    clock.now += 59  # within the TTL: answered from the cache, Keystone not asked
    within = auth.authenticate(SecretStr("t1"))
    assert within.info is not None and within.source == "cache"
    assert validator.calls == 1
    clock.now += 2  # beyond the TTL, Keystone still down: denied
    beyond = auth.authenticate(SecretStr("t1"))
    assert beyond.info is None and beyond.reason == "Keystone is unavailable"
    assert validator.calls == 2
    assert len(cache) == 0
    validator.error = errors.ServerError("boom", status=500)  # a 5xx is no better
    assert auth.authenticate(SecretStr("t1")).info is None
    unknown = auth.authenticate(SecretStr("never-seen"))
    assert unknown.info is None and unknown.reason == "Keystone is unavailable"
    assert all("t1" not in repr(kw) for _, kw in log.lines)
    validator.error = None  # Keystone back: validated and cached again
    back = auth.authenticate(SecretStr("t1"))
    assert back.info is not None and back.source == "keystone"


def test_keystone_cache_entry_expires_at_ttl_even_unused() -> None:
    _, _, clock, _, cache = make(ttl=30)
    info = Validator(clock)
    info.valid["t"] = 3600
    cache.put("k", info.validate(SecretStr("t")))
    clock.now += 29.9
    assert cache.get("k") is not None
    clock.now += 0.2
    assert cache.get("k") is None and len(cache) == 0


def test_keystone_rejected_token_is_not_cached() -> None:
    auth, validator, _, _, cache = make()
    validator.error = TokenRejected("token is not project-scoped")
    outcome = auth.authenticate(SecretStr("t1"))
    assert outcome.info is None and outcome.reason == "token is not project-scoped"
    assert len(cache) == 0


def test_keystone_cache_is_bounded_lru() -> None:
    auth, validator, _, _, cache = make(size=3)
    for i in range(5):
        validator.valid[f"t{i}"] = 3600
        auth.authenticate(SecretStr(f"t{i}"))
    assert len(cache) == 3
    calls = validator.calls
    auth.authenticate(SecretStr("t0"))  # evicted: asks again
    assert validator.calls == calls + 1
    auth.authenticate(SecretStr("t4"))  # still cached
    assert validator.calls == calls + 1


def test_keystone_ttl_zero_disables_cache() -> None:
    auth, validator, _, _, _ = make(ttl=0)
    validator.valid["t1"] = 3600
    auth.authenticate(SecretStr("t1"))
    auth.authenticate(SecretStr("t1"))
    assert validator.calls == 2


def test_keystone_cache_key_is_a_digest() -> None:
    key = token_key(SecretStr("gAAAAAsecret-token"))
    assert "secret" not in key and len(key) == 64
