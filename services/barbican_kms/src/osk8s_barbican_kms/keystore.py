"""Key material from Barbican, cached in memory and refreshed; the plugin's only key source.

``refresh()`` re-reads which keys are configured, fetches each from Barbican and swaps in a
new ``KeyRing``. A key once loaded stays in use until the configuration stops naming it: when
Barbican cannot be reached, and also when it answers 403/404 or returns other bytes for the
same id, the cached copy keeps serving and the refusal is reported (``RefreshResult.rejected``:
log, metric, ``/readyz``). Dropping a key on such an answer would make every Secret written
under it unreadable, cluster-wide, on a revoked role or a deleted secret that an operator can
still restore. A new ``key-id`` that cannot be loaded leaves the previous current key
encrypting. Key material is never logged or written anywhere; log lines name key ids only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from osk8s_barbican_kms.errors import KeyMaterialChanged, KeyMaterialError
from osk8s_barbican_kms.keyring import KeyIds, KeyRing
from osk8s_barbican_kms.keys import LoadedKey
from osk8s_core.errors import (
    ConfigError,
    CredentialsError,
    EndpointNotFound,
    Forbidden,
    NotFound,
    Osk8sError,
    Unauthorized,
)


class SecretReader(Protocol):
    """Reads a Barbican secret's raw payload (the only Barbican call the plugin makes)."""

    def read_secret_payload(self, secret_id: str) -> bytes: ...


class Logger(Protocol):
    def info(self, event: str, **kw: Any) -> Any: ...
    def warning(self, event: str, **kw: Any) -> Any: ...
    def error(self, event: str, **kw: Any) -> Any: ...


KeyIdsSource = Callable[[], KeyIds]
"""Returns the configured key ids (re-reading cloud.conf); raises ConfigError when invalid."""

# Failures that retrying will not fix: fatal at start-up; later a cached key keeps serving.
PERMANENT: tuple[type[Osk8sError], ...] = (
    KeyMaterialError,
    NotFound,
    Forbidden,
    Unauthorized,
    EndpointNotFound,
    CredentialsError,
    ConfigError,
)


@dataclass(frozen=True)
class RefreshResult:
    """What one refresh produced."""

    ring: KeyRing
    failures: Mapping[str, Osk8sError]
    """Key id (or ``"config"``) -> the error met this time, cached copy or not."""
    rejected: frozenset[str] = frozenset()
    """Key ids Barbican refused (403/404, other bytes) whose cached copy keeps serving."""

    @property
    def ok(self) -> bool:
        return not self.failures

    def fatal_at_start(self) -> Osk8sError | None:
        """The error that makes serving pointless: the current key failed for good."""
        if "config" in self.failures:
            return self.failures["config"]
        error = self.failures.get(self.ring.current_id)
        return error if isinstance(error, PERMANENT) and error is not None else None


# Definite refusals by Barbican; with a cached copy they are reported, never obeyed.
_REFUSALS: tuple[type[Osk8sError], ...] = (
    NotFound,
    Forbidden,
    KeyMaterialChanged,
    KeyMaterialError,
)


class KeyStore:
    """Holds the current ``KeyRing``; ``ring`` is lock-free, refreshes are serialised."""

    def __init__(
        self,
        *,
        reader: SecretReader,
        key_ids: KeyIdsSource,
        logger: Logger,
        clock: Callable[[], float] = time.time,
        observer: Callable[[RefreshResult], None] | None = None,
    ) -> None:
        """``observer`` sees every refresh result (metrics)."""
        self._reader = reader
        self._observer = observer
        self._key_ids = key_ids
        self._log = logger
        self._clock = clock
        self._lock = threading.Lock()
        self._ring = KeyRing()
        self.last_success: float | None = None
        """Wall-clock time of the last refresh where every key loaded."""
        self.last_result: RefreshResult | None = None

    @property
    def ring(self) -> KeyRing:
        return self._ring

    def refresh(self) -> RefreshResult:
        with self._lock:
            result = self._refresh(self._ring)
            self._ring = result.ring
            self.last_result = result
            if result.ok:
                self.last_success = self._clock()
        if self._observer is not None:
            self._observer(result)
        return result

    def _refresh(self, previous: KeyRing) -> RefreshResult:
        failures: dict[str, Osk8sError] = {}
        try:
            ids = self._key_ids()
        except ConfigError as exc:
            if not previous.current_id:
                return RefreshResult(previous, {"config": exc})
            self._log.error("key_config_reload_failed", error=str(exc))
            failures["config"] = exc
            ids = KeyIds(
                previous.current_id,
                tuple(k for k in previous.keys if k != previous.current_id),
                previous.write_format,
            )
        keys: dict[str, LoadedKey] = {}
        missing: dict[str, str] = {}
        rejected: set[str] = set()
        for key_id in ids.all:
            loaded, error = self._load(key_id, previous)
            if error is not None:
                failures[key_id] = error
                if loaded is not None and isinstance(error, _REFUSALS):
                    rejected.add(key_id)
            if loaded is not None:
                keys[key_id] = loaded
            elif error is not None:
                missing[key_id] = str(error)
        current = self._choose_current(ids, previous, keys, missing)
        ring = KeyRing.build(current, keys, missing, ids.write_format)
        self._log_changes(previous, ring, ids)
        return RefreshResult(ring, failures, frozenset(rejected))

    def _load(self, key_id: str, previous: KeyRing) -> tuple[LoadedKey | None, Osk8sError | None]:
        cached = previous.keys.get(key_id)
        try:
            fresh = LoadedKey(key_id, self._reader.read_secret_payload(key_id))
        except _REFUSALS as exc:
            if cached is not None:
                # Barbican refused the secret (gone, or access revoked), but dropping it
                # would lose every Secret written under it; only a config change does that.
                self._log.error(
                    "key_rejected_by_barbican_serving_cache",
                    key_id=key_id,
                    error=str(exc),
                    hint="restore the secret or its ACL, or change [KeyManager] key-id",
                )
            return cached, exc
        except Osk8sError as exc:
            if cached is not None:
                self._log.warning("key_refresh_failed_using_cache", key_id=key_id, error=str(exc))
            return cached, exc
        if cached is not None and not cached.same_material(fresh):
            # Barbican secrets are immutable: other bytes under the same id mean another
            # secret (or another Barbican). Keep the key the data was written with.
            error = KeyMaterialChanged(
                f"Barbican secret {key_id} now holds different key material; "
                "the cached key keeps serving"
            )
            self._log.error("key_material_changed_serving_cache", key_id=key_id)
            return cached, error
        return fresh, None

    def _choose_current(
        self,
        ids: KeyIds,
        previous: KeyRing,
        keys: dict[str, LoadedKey],
        missing: Mapping[str, str],
    ) -> str:
        if ids.current in keys or not previous.current_id or previous.current_id == ids.current:
            return ids.current
        prior = previous.keys.get(previous.current_id)
        if prior is None:
            return ids.current
        # Rotation to a key we cannot load: keep writing with the old one rather than fail.
        keys.setdefault(prior.key_id, prior)
        self._log.error(
            "new_key_not_loaded_keeping_previous",
            key_id=ids.current,
            previous_key_id=prior.key_id,
            error=missing.get(ids.current, ""),
        )
        return prior.key_id

    def _log_changes(self, previous: KeyRing, ring: KeyRing, ids: KeyIds) -> None:
        if previous.current_id and ring.current_id != previous.current_id:
            self._log.info(
                "key_rotated", key_id=ring.current_id, previous_key_id=previous.current_id
            )
            if previous.current_id not in ids.all:
                self._log.warning(
                    "previous_key_not_kept",
                    key_id=previous.current_id,
                    hint="data written under it cannot be decrypted; add it as old-key-id",
                )
        if set(ring.keys) != set(previous.keys):
            self._log.info("keys_loaded", key_ids=sorted(ring.keys), current=ring.current_id)
