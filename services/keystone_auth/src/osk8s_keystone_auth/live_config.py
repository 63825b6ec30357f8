"""The policies and sync config in force, swapped whole when a new version loads.

Readers take a consistent snapshot (one attribute read; the tuple/dataclass inside is frozen),
so a review never sees half a reload. Writers are the start-up loader and the ConfigMap
reloader. It keeps no history: a bad new document is refused before it gets here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from osk8s_keystone_auth.policy import Policy
from osk8s_keystone_auth.sync_config import SyncConfig


@dataclass(frozen=True)
class Snapshot:
    policies: tuple[Policy, ...] = ()
    sync: SyncConfig | None = None
    """None when no sync config was given: no role mappings, no data sync."""
    policy_source: str = ""
    """Where the policies came from (file path or ConfigMap), for logs and /healthz."""


class LiveConfig:
    def __init__(self, initial: Snapshot | None = None) -> None:
        self._lock = threading.Lock()
        self._snapshot = initial or Snapshot()
        self.policy_reloads = 0
        self.sync_reloads = 0

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def set_policies(self, policies: tuple[Policy, ...], *, source: str) -> None:
        with self._lock:
            old = self._snapshot
            self._snapshot = Snapshot(policies=policies, sync=old.sync, policy_source=source)
            self.policy_reloads += 1

    def set_sync(self, sync: SyncConfig | None) -> None:
        with self._lock:
            old = self._snapshot
            self._snapshot = Snapshot(
                policies=old.policies, sync=sync, policy_source=old.policy_source
            )
            self.sync_reloads += 1
