"""Small fakes of the narrow interfaces the KMS plugin consumes (SecretReader, logger)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from osk8s_barbican_kms.keyring import KeyIds
from osk8s_core.errors import Osk8sError

KEY_A = "11111111-1111-1111-1111-111111111111"
KEY_B = "22222222-2222-2222-2222-222222222222"
KEY_C = "33333333-3333-3333-3333-333333333333"


@dataclass
class FakeBarbican:
    """``SecretReader`` over a dict; ``failures`` makes a secret id raise instead."""

    payloads: dict[str, bytes] = field(default_factory=dict)
    failures: dict[str, Osk8sError] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)

    def add(self, key_id: str, size: int = 32) -> bytes:
        self.payloads[key_id] = os.urandom(size)
        return self.payloads[key_id]

    def read_secret_payload(self, secret_id: str) -> bytes:
        self.reads.append(secret_id)
        if secret_id in self.failures:
            raise self.failures[secret_id]
        if secret_id not in self.payloads:
            from osk8s_core.errors import NotFound

            raise NotFound(f"secret {secret_id} not found", status=404)
        return self.payloads[secret_id]


@dataclass
class RecordingLogger:
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def _record(self, level: str) -> Callable[..., None]:
        def log(event: str, **kw: Any) -> None:
            self.events.append((level, event, kw))

        return log

    def __getattr__(self, level: str) -> Callable[..., None]:
        if level in {"debug", "info", "warning", "error"}:
            return self._record(level)
        raise AttributeError(level)

    def bind(self, **kw: Any) -> RecordingLogger:
        return self

    def names(self) -> list[str]:
        return [event for _, event, _ in self.events]


@dataclass
class MutableKeyIds:
    """A ``KeyIdsSource`` the test can point at other keys (what editing cloud.conf does)."""

    ids: KeyIds
    error: Osk8sError | None = None

    def __call__(self) -> KeyIds:
        if self.error is not None:
            raise self.error
        return self.ids
