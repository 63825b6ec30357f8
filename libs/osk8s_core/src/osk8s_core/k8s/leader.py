"""Leader election on a Lease, with client-go's rules and defaults (15 s / 10 s / 2 s).

A candidate acquires the lease when it is absent, released, or unchanged for a whole lease
duration as measured on the candidate's own clock (never the holder's timestamps, so clock skew
between nodes does not matter); the leader renews every retry period and gives up leadership
when it cannot renew within the renew deadline. A 409 on update means another candidate won.
It runs the leader's work through callbacks and never decides what that work is.
"""

from __future__ import annotations

import math
import random
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import structlog

from osk8s_core.errors import KubernetesConflict, KubernetesError
from osk8s_core.k8s.clock import Clock
from osk8s_core.k8s.leaselock import LeaseLock, LeaseRecord, ObservedLease

JITTER_FACTOR = 1.2  # client-go's wait.JitterUntil factor for the acquire loop


def default_identity() -> str:
    """hostname + "_" + a random UUID, as Kubernetes controller managers use."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


@dataclass(frozen=True)
class LeaderElectionConfig:
    identity: str
    """This candidate's holderIdentity; unique per process (client-go: hostname + "_" + uuid)."""
    lease_duration: float = 15.0
    """Seconds a non-leader waits after the last observed change before taking over."""
    renew_deadline: float = 10.0
    """Seconds the leader keeps retrying a failed renewal before giving up leadership."""
    retry_period: float = 2.0
    """Seconds between attempts to acquire or renew."""
    release_on_cancel: bool = True
    """On shutdown, clear holderIdentity so another candidate can take over at once."""
    stop_grace: float = 5.0
    """Seconds to wait for the leader's work to finish before releasing (unfinished: no release)."""

    def __post_init__(self) -> None:
        # Same checks as client-go's NewLeaderElector.
        if not self.identity:
            raise ValueError("leader election identity must not be empty")
        if self.lease_duration <= self.renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            raise ValueError("renew_deadline must be greater than retry_period * 1.2")
        if self.retry_period <= 0 or self.lease_duration < 1:
            raise ValueError("retry_period must be > 0 and lease_duration >= 1 s")


@dataclass(frozen=True)
class LeaderCallbacks:
    on_started_leading: Callable[[threading.Event], None]
    """Runs in its own thread once leading; the event is set when leadership ends."""
    on_stopped_leading: Callable[[], None]
    """Called after leading ended (lost or shut down); typical use: exit the process."""
    on_new_leader: Callable[[str], None] | None = None
    """Called when the observed holder changes (including to this candidate)."""


class LeaderElector:
    """One candidate. ``run`` blocks until ``stop`` is set or leadership is lost."""

    def __init__(
        self,
        lock: LeaseLock,
        *,
        config: LeaderElectionConfig,
        callbacks: LeaderCallbacks,
        clock: Clock,
        rng: random.Random | None = None,
        logger: Any = None,
    ) -> None:
        self._lock = lock
        self._config = config
        self._callbacks = callbacks
        self._clock = clock
        self._rng = rng or random.Random()
        self._log = logger or structlog.get_logger("osk8s.k8s.leader").bind(
            lock=lock.describe(), identity=config.identity
        )
        self._observed: ObservedLease | None = None
        self._observed_at = 0.0  # monotonic time the observed record last changed
        self._renewed_at = 0.0  # monotonic time of our last successful write as holder

    def is_leader(self) -> bool:
        return self.leader() == self._config.identity

    def healthy(self, tolerance: float = 20.0) -> bool:
        """False when we lead but have not renewed for lease_duration + ``tolerance`` seconds.

        For /healthz, as client-go's ``HealthzAdaptor``: a leader stuck without renewing
        should be restarted, since others may already have taken over.
        """
        if not self.is_leader():
            return True
        stale = self._clock.monotonic() - self._renewed_at
        return stale <= self._config.lease_duration + tolerance

    def leader(self) -> str:
        """The holder last observed ("" when unknown or released)."""
        return self._observed.record.holder_identity if self._observed else ""

    def run(self, stop: threading.Event) -> None:
        if not self._acquire(stop):
            return
        self._log.info("started leading")
        ended = threading.Event()
        crashed = threading.Event()
        work = threading.Thread(target=self._lead, args=(ended, crashed), name="leader-work")
        work.daemon = True
        work.start()
        try:
            self._renew_until_lost(stop, crashed)
        finally:
            ended.set()
            work.join(self._config.stop_grace)
            # Releasing while the work still runs would let two leaders act at once.
            if self._config.release_on_cancel and not work.is_alive():
                self.release()
            self._observed = None
            self._log.info("stopped leading")
            self._callbacks.on_stopped_leading()

    def _lead(self, ended: threading.Event, crashed: threading.Event) -> None:
        try:
            self._callbacks.on_started_leading(ended)
        except Exception:
            # Renewing a lease that guards no running work would block every other candidate.
            self._log.exception("leader work failed; giving up leadership")
            crashed.set()

    def try_acquire_or_renew(self) -> bool:
        """One attempt (client-go's tryAcquireOrRenew); True when we hold the lease after it."""
        now = self._clock.now()
        desired = LeaseRecord(
            holder_identity=self._config.identity,
            lease_duration_seconds=math.ceil(self._config.lease_duration),
            acquire_time=now,
            renew_time=now,
            lease_transitions=0,
        )
        try:
            current = self._lock.get()
            if current is None:
                self._observe(self._lock.create(desired))
                self._renewed_at = self._clock.monotonic()
                return True
            self._observe(current)
            held = current.record
            if held.holder_identity == self._config.identity:
                desired = replace(
                    desired,
                    acquire_time=held.acquire_time,
                    lease_transitions=held.lease_transitions,
                )
            elif held.holder_identity and not self._observed_expired():
                return False
            else:
                desired = replace(desired, lease_transitions=held.lease_transitions + 1)
            self._observe(self._lock.update(desired, current.resource_version))
            self._renewed_at = self._clock.monotonic()
            return True
        except KubernetesConflict:
            self._log.info("lease changed under us; another candidate won this round")
            return False
        except KubernetesError as exc:
            self._log.warning("lease acquire/renew failed", error=str(exc))
            return False

    def release(self) -> bool:
        """Give the lease up now (holder cleared, duration 1 s, as client-go's release)."""
        observed = self._observed
        if observed is None or observed.record.holder_identity != self._config.identity:
            return False
        now = self._clock.now()
        record = LeaseRecord(
            holder_identity="",
            lease_duration_seconds=1,
            acquire_time=now,
            renew_time=now,
            lease_transitions=observed.record.lease_transitions,
        )
        try:
            self._observe(self._lock.update(record, observed.resource_version))
        except KubernetesError as exc:
            self._log.warning("lease release failed", error=str(exc))
            return False
        self._log.info("released lease")
        return True

    def _acquire(self, stop: threading.Event) -> bool:
        while not stop.is_set():
            if self.try_acquire_or_renew():
                return True
            period = self._config.retry_period
            if self._clock.wait(stop, period + self._rng.random() * JITTER_FACTOR * period):
                break
        return False

    def _renew_until_lost(self, stop: threading.Event, crashed: threading.Event) -> None:
        retry = self._config.retry_period
        while not self._clock.wait(stop, retry) and not crashed.is_set():
            deadline = self._clock.monotonic() + self._config.renew_deadline
            while not self.try_acquire_or_renew():
                remaining = deadline - self._clock.monotonic()
                if remaining <= 0:
                    self._log.error("could not renew lease before the deadline; leadership lost")
                    return
                if self._clock.wait(stop, min(retry, remaining)):
                    return

    def _observe(self, lease: ObservedLease) -> None:
        previous = self._observed
        if previous is None or previous.record != lease.record:
            self._observed_at = self._clock.monotonic()
            holder = lease.record.holder_identity
            if (previous is None or previous.record.holder_identity != holder) and holder:
                self._log.info("new leader observed", leader=holder)
                if self._callbacks.on_new_leader is not None:
                    self._callbacks.on_new_leader(holder)
        self._observed = lease

    def _observed_expired(self) -> bool:
        assert self._observed is not None
        duration = self._observed.record.lease_duration_seconds
        return self._observed_at + duration <= self._clock.monotonic()
