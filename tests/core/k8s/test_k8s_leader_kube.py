"""Leader election against the in-memory API server through the real kubernetes client."""

from __future__ import annotations

import threading
import time

import pytest
from kubernetes.client import CoordinationV1Api

from osk8s_core.errors import KubernetesConflict
from osk8s_core.k8s.clock import SystemClock
from osk8s_core.k8s.leader import LeaderCallbacks, LeaderElectionConfig, LeaderElector
from osk8s_core.k8s.leaselock import KubeLeaseLock, LeaseRecord


@pytest.fixture
def leases(kube_api):
    client = kube_api.api_client()
    yield CoordinationV1Api(client)
    client.close()


def lock_for(api, name="osk8s-test"):
    return KubeLeaseLock(api, namespace="default", name=name)


def candidate(lock, clock, identity, log=None, **cfg):
    log = [] if log is None else log
    return LeaderElector(
        lock,
        config=LeaderElectionConfig(identity=identity, **cfg),
        callbacks=LeaderCallbacks(
            on_started_leading=lambda ended: log.append(f"{identity} started"),
            on_stopped_leading=lambda: log.append(f"{identity} stopped"),
        ),
        clock=clock,
    )


def test_one_wins_and_the_other_takes_over_after_expiry(leases, clock):
    a = candidate(lock_for(leases), clock, "a")
    b = candidate(lock_for(leases), clock, "b")
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew(), "the lease is held and valid"
    lease = leases.read_namespaced_lease("osk8s-test", "default")
    assert lease.spec.holder_identity == "a"
    assert lease.spec.lease_duration_seconds == 15
    assert lease.spec.lease_transitions == 0
    clock.advance(14)
    assert not b.try_acquire_or_renew()
    clock.advance(1)  # a has not renewed for a whole lease duration
    assert b.try_acquire_or_renew()
    lease = leases.read_namespaced_lease("osk8s-test", "default")
    assert lease.spec.holder_identity == "b"
    assert lease.spec.lease_transitions == 1
    assert not a.try_acquire_or_renew()
    assert a.leader() == "b"


def test_stale_update_gets_409(leases, clock):
    lock = lock_for(leases)
    first = lock.create(LeaseRecord("a", 15, clock.now(), clock.now(), 0))
    clock.advance(2)  # a real change: a no-op update would keep the resourceVersion
    lock.update(LeaseRecord("a", 15, clock.now(), clock.now(), 0), first.resource_version)
    with pytest.raises(KubernetesConflict) as info:
        lock.update(LeaseRecord("b", 15, clock.now(), clock.now(), 1), first.resource_version)
    assert info.value.status == 409
    assert lock.get().record.holder_identity == "a"
    with pytest.raises(KubernetesConflict):
        lock.create(LeaseRecord("b", 15, clock.now(), clock.now(), 0))


def test_candidate_losing_the_update_race_does_not_lead(leases, clock):
    a = candidate(lock_for(leases), clock, "a")
    assert a.try_acquire_or_renew()

    class RacingLock(KubeLeaseLock):
        def update(self, record, resource_version):
            assert a.try_acquire_or_renew()  # the holder renews between our get and update
            return super().update(record, resource_version)

    b = candidate(RacingLock(leases, namespace="default", name="osk8s-test"), clock, "b")
    b.try_acquire_or_renew()
    clock.advance(16)
    assert not b.try_acquire_or_renew(), "409 on the stale update: someone else won"
    assert leases.read_namespaced_lease("osk8s-test", "default").spec.holder_identity == "a"


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def start(elector):
    stop = threading.Event()
    thread = threading.Thread(target=elector.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


# Short, but with room for a loaded 2-core CI machine: the leader must renew within
# renew_deadline, or it stops leading and the test sees a takeover it did not cause.
FAST = {"lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.1}


def test_takeover_when_the_leader_stops_renewing(leases):
    log: list[str] = []
    clock = SystemClock()
    a = candidate(lock_for(leases, "expiry"), clock, "a", log, release_on_cancel=False, **FAST)
    b = candidate(lock_for(leases, "expiry"), clock, "b", log, **FAST)
    stop_a, thread_a = start(a)
    assert wait_for(a.is_leader)
    stop_b, thread_b = start(b)
    time.sleep(0.3)
    assert not b.is_leader(), "b must not lead while a renews"
    stop_a.set()  # a dies without releasing
    thread_a.join(30)
    last_renewal = leases.read_namespaced_lease("expiry", "default").spec.renew_time
    assert wait_for(b.is_leader, timeout=30)
    spec = leases.read_namespaced_lease("expiry", "default").spec
    stop_b.set()
    thread_b.join(30)
    assert spec.holder_identity == "b"
    waited = (spec.acquire_time - last_renewal).total_seconds()
    assert waited >= FAST["lease_duration"], "b waits a lease duration after a's last renewal"
    assert log.count("a started") == 1 and log.count("b started") == 1
    assert spec.lease_transitions == 1


def test_release_on_shutdown_lets_the_other_acquire_immediately(leases):
    clock = SystemClock()
    slow = {"lease_duration": 60.0, "renew_deadline": 5.0, "retry_period": 0.1}
    a = candidate(lock_for(leases, "release"), clock, "a", **slow)
    b = candidate(lock_for(leases, "release"), clock, "b", **slow)
    stop_a, thread_a = start(a)
    assert wait_for(a.is_leader)
    stop_b, thread_b = start(b)
    assert wait_for(lambda: b.leader() == "a")
    stop_a.set()
    thread_a.join(30)
    t0 = time.monotonic()
    assert wait_for(b.is_leader, timeout=30)
    waited = time.monotonic() - t0
    stop_b.set()
    thread_b.join(30)
    # A retry period (0.1 s) after the release, not the lease duration; the bound leaves room
    # for a loaded machine and is still far below the 60 s b would otherwise wait.
    assert waited < 20.0, "no need to wait the 60 s lease duration after a release"
    spec = leases.read_namespaced_lease("release", "default").spec
    assert spec.holder_identity in ("", None), "b released too when it shut down"
    assert spec.lease_transitions == 1
