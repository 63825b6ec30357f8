"""Event recorder: core/v1 Events about our objects, de-duplicated like client-go's.

An event repeated for the same object, type, reason and message bumps ``count`` and
``lastTimestamp`` of the Event already written instead of creating another. ``event_once`` is
for a finding every reconcile makes again: written once, then again only after ``RETELL_AFTER``
(within the API server's event TTL). Recording is best effort: failures are logged and
swallowed, never raised into a reconcile. Messages must not contain secrets; they are truncated
to client-go's 1024 characters.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

import structlog
from kubernetes.client import CoreV1Event, V1EventSource, V1ObjectMeta, V1ObjectReference

from osk8s_core.errors import KubernetesError, KubernetesNotFound
from osk8s_core.k8s.apierrors import translate_api_errors
from osk8s_core.k8s.clock import Clock

EventType = Literal["Normal", "Warning"]
MAX_MESSAGE = 1024
RETELL_AFTER: Final = 30 * 60.0
"""Seconds after which ``event_once`` tells an unchanged event again. kube-apiserver drops
Events ``--event-ttl`` (default 1 h) after their last write, so a memory kept longer would
leave a problem that persists with no Event to show for it; half the default TTL keeps one
visible, at one write per half hour."""


@dataclass(frozen=True)
class ObjectRef:
    """The object an event is about (``involvedObject``)."""

    kind: str
    name: str
    namespace: str = ""
    uid: str = ""
    api_version: str = ""

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectRef:
        """Reference a JSON object as the informer caches it."""
        meta = obj.get("metadata") or {}
        return cls(
            kind=str(obj.get("kind") or ""),
            name=str(meta.get("name") or ""),
            namespace=str(meta.get("namespace") or ""),
            uid=str(meta.get("uid") or ""),
            api_version=str(obj.get("apiVersion") or ""),
        )


class EventApi(Protocol):
    """The two calls of ``kubernetes.client.CoreV1Api`` the recorder uses."""

    def create_namespaced_event(self, namespace: str, body: CoreV1Event) -> CoreV1Event: ...

    def patch_namespaced_event(
        self, name: str, namespace: str, body: dict[str, Any]
    ) -> CoreV1Event: ...


@dataclass
class _Seen:
    name: str
    namespace: str
    count: int
    written: float
    """``Clock.monotonic()`` of the last create or count bump."""


class EventRecorder:
    """Writes Events as ``component`` (e.g. "cloud-provider-openstack") from ``host``."""

    def __init__(
        self,
        api: EventApi,
        *,
        component: str,
        clock: Clock,
        host: str = "",
        cache_size: int = 4096,
        logger: Any = None,
    ) -> None:
        self._api = api
        self._component = component
        self._host = host
        self._clock = clock
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, ...], _Seen] = OrderedDict()
        self._log = logger or structlog.get_logger("osk8s.k8s.events").bind(component=component)

    def normal(self, ref: ObjectRef, reason: str, message: str) -> None:
        self.event(ref, "Normal", reason, message)

    def warning(self, ref: ObjectRef, reason: str, message: str) -> None:
        self.event(ref, "Warning", reason, message)

    def event(self, ref: ObjectRef, type_: EventType, reason: str, message: str) -> None:
        self._record(ref, type_, reason, message, quiet_for=None)

    def event_once(
        self,
        ref: ObjectRef,
        type_: EventType,
        reason: str,
        message: str,
        *,
        retell_after: float = RETELL_AFTER,
    ) -> bool:
        """Record unless this recorder wrote this very event (object, type, reason, message)
        less than ``retell_after`` seconds ago: no ``count`` bump, no API call. For what a
        reconcile finds again on every pass until the user changes the spec (an invalid entry,
        a provider that does not exist): a changed message is a new event; an unchanged one is
        told again (its count bumped, or created anew if the API server expired it) once the
        memory is older than ``retell_after``, after a restart, or once the entry has left the
        cache. Returns whether an event was written (False too when the write failed: the
        next call tries again)."""
        return self._record(ref, type_, reason, message, quiet_for=retell_after)

    def _record(
        self,
        ref: ObjectRef,
        type_: EventType,
        reason: str,
        message: str,
        *,
        quiet_for: float | None,
    ) -> bool:
        message = message[:MAX_MESSAGE]
        key = (ref.kind, ref.namespace, ref.name, ref.uid, type_, reason, message)
        try:
            with self._lock:
                # One lock around the write keeps count bumps of concurrent workers exact
                # and an event_once told by one worker only.
                seen = self._seen.get(key)
                if (
                    seen is not None
                    and quiet_for is not None
                    and self._clock.monotonic() - seen.written < quiet_for
                ):
                    return False
                if seen is not None and self._bump(seen):
                    self._seen.move_to_end(key)
                    return True
                self._seen[key] = self._create(ref, type_, reason, message)
                self._seen.move_to_end(key)
                if len(self._seen) > self._cache_size:
                    self._seen.popitem(last=False)
                return True
        except KubernetesError as exc:
            self._log.warning(
                "could not record event", reason=reason, object=ref.name, error=str(exc)
            )
            return False

    def _bump(self, seen: _Seen) -> bool:
        """Add one to an Event already written; False if it has gone (expired or deleted)."""
        now = self._clock.now()
        patch = {"count": seen.count + 1, "lastTimestamp": now.isoformat()}
        try:
            with translate_api_errors(f"patch event {seen.namespace}/{seen.name}"):
                self._api.patch_namespaced_event(seen.name, seen.namespace, patch)
        except KubernetesNotFound:
            return False
        seen.count += 1
        seen.written = self._clock.monotonic()
        return True

    def _create(self, ref: ObjectRef, type_: EventType, reason: str, message: str) -> _Seen:
        now = self._clock.now()
        # Cluster-scoped objects (Nodes) get their events in "default", as client-go does.
        namespace = ref.namespace or "default"
        name = f"{ref.name}.{int(now.timestamp() * 1e9):x}"
        body = CoreV1Event(
            metadata=V1ObjectMeta(name=name, namespace=namespace),
            involved_object=V1ObjectReference(
                kind=ref.kind,
                name=ref.name,
                namespace=ref.namespace or None,
                uid=ref.uid or None,
                api_version=ref.api_version or None,
            ),
            type=type_,
            reason=reason,
            message=message,
            count=1,
            first_timestamp=now,
            last_timestamp=now,
            source=V1EventSource(component=self._component, host=self._host or None),
            reporting_component=self._component,
            reporting_instance=self._host or self._component,
        )
        with translate_api_errors(f"create event {namespace}/{name}"):
            self._api.create_namespaced_event(namespace, body)
        return _Seen(name=name, namespace=namespace, count=1, written=self._clock.monotonic())
