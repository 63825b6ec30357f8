"""Hot reload of the policy and sync ConfigMaps in ``kube-system`` through the core informer.

The informer watches kube-system ConfigMaps (5 min resync, as CPO) and this reloader applies
the two it is told about: key ``policies`` (JSON) and ``syncConfig`` (YAML). A document that
does not parse is refused with one error log and the last good one stays; a deleted ConfigMap
means no policy (deny all) / the default sync config, as CPO. When a file was given for the
same kind, it wins until the ConfigMap changes after start-up.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from osk8s_core.errors import ConfigError
from osk8s_core.k8s.informer import Handlers
from osk8s_core.k8s.store import KubeObject, meta, resource_version
from osk8s_keystone_auth.live_config import LiveConfig
from osk8s_keystone_auth.policy import parse_policies
from osk8s_keystone_auth.sync_config import SyncConfig, parse_sync_config

NAMESPACE = "kube-system"
POLICY_KEY = "policies"
SYNC_KEY = "syncConfig"


@dataclass(frozen=True)
class ConfigMapNames:
    policy: str = ""
    """``--policy-configmap-name``; empty = not watched."""
    sync: str = ""
    """``--sync-configmap-name``; empty = not watched."""
    policy_file_given: bool = False
    sync_file_given: bool = False


class ConfigMapReloader:
    def __init__(self, *, names: ConfigMapNames, live: LiveConfig, logger: Any) -> None:
        self._names = names
        self._live = live
        self._log = logger
        self._lock = threading.Lock()
        # Last resourceVersion handled per ConfigMap name ("" after a deletion).
        self._seen: dict[str, str] = {}
        self.rejected = 0
        """Documents refused because they did not parse (tests, metrics)."""

    def handlers(self) -> Handlers:
        return Handlers(
            on_add=self.apply,
            on_update=lambda _old, new: self.apply(new),
            on_delete=self.deleted,
        )

    def apply(self, obj: KubeObject, *, strict: bool = False) -> None:
        """Load the ConfigMap's document; ``strict`` raises instead of keeping the old one."""
        name = self._ours(obj)
        if not name:
            return
        version = resource_version(obj)
        with self._lock:
            # Resyncs and the informer's first list repeat versions already handled: skip them,
            # so a rejected document is logged once, not every resync.
            if self._seen.get(name) == version:
                return
            first = name not in self._seen
            self._seen[name] = version
        if first and self._file_given(name):
            self._log.info("configmap ignored until it changes: the file wins", configmap=name)
            return
        data = obj.get("data") or {}
        source = f"configmap {NAMESPACE}/{name}"
        try:
            if name == self._names.policy:
                text = str(data.get(POLICY_KEY) or "")
                policies = parse_policies(text, source=f"{source} key {POLICY_KEY}")
                self._live.set_policies(policies, source=source)
                self._log.info("authorization policy updated", source=source, count=len(policies))
            if name == self._names.sync:
                text = str(data.get(SYNC_KEY) or "")
                sync = parse_sync_config(text, source=f"{source} key {SYNC_KEY}")
                self._live.set_sync(sync)
                self._log.info("sync configuration updated", source=source)
        except ConfigError as exc:
            if strict:
                raise
            self.rejected += 1
            self._log.error("configmap rejected; keeping the last good version", error=str(exc))

    def deleted(self, obj: KubeObject) -> None:
        name = self._ours(obj)
        if name:
            with self._lock:
                self._seen[name] = ""
        if name == self._names.policy:
            self._live.set_policies((), source=f"configmap {NAMESPACE}/{name} (deleted)")
            self._log.warning("policy configmap deleted; every request is now denied")
        if name and name == self._names.sync:
            self._live.set_sync(SyncConfig())
            self._log.warning("sync configmap deleted; default sync config in force")

    def _ours(self, obj: KubeObject) -> str:
        m = meta(obj)
        name = str(m.get("name") or "")
        if m.get("namespace") != NAMESPACE or name not in (self._names.policy, self._names.sync):
            return ""
        return name

    def _file_given(self, name: str) -> bool:
        return (name == self._names.policy and self._names.policy_file_given) or (
            name == self._names.sync and self._names.sync_file_given
        )
