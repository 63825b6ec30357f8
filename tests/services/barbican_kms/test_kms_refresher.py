"""The background refresher: on schedule, on demand (SIGHUP), faster while no key is loaded."""

from __future__ import annotations

import threading

from osk8s_barbican_kms.keyring import KeyRing
from osk8s_barbican_kms.keys import LoadedKey
from osk8s_barbican_kms.keystore import RefreshResult
from osk8s_barbican_kms.refresher import Refresher

from .kms_fakes import KEY_A, RecordingLogger

LOADED = KeyRing.build(KEY_A, {KEY_A: LoadedKey(KEY_A, b"k" * 32)}, {})
NOT_LOADED = KeyRing.build(KEY_A, {}, {KEY_A: "down"})


class CountingStore:
    def __init__(self, rings: list[KeyRing]) -> None:
        self._rings = rings
        self.calls = 0
        self.called = threading.Semaphore(0)

    def refresh(self) -> RefreshResult:
        ring = self._rings[min(self.calls, len(self._rings) - 1)]
        self.calls += 1
        self.called.release()
        return RefreshResult(ring, {})


def test_trigger_refreshes_now_and_stop_ends_the_thread() -> None:
    store = CountingStore([LOADED])
    refresher = Refresher(store=store, interval=3600, logger=RecordingLogger())
    refresher.start(loaded=True)
    assert not store.called.acquire(timeout=0.05)  # nothing before the hour passes
    refresher.trigger()
    assert store.called.acquire(timeout=30)
    refresher.stop()
    assert store.calls == 1


def test_retries_quickly_until_the_key_loads_then_waits_the_interval() -> None:
    store = CountingStore([NOT_LOADED, NOT_LOADED, LOADED])
    refresher = Refresher(store=store, interval=3600, logger=RecordingLogger(), first_retry=0.01)
    refresher.start(loaded=False)
    for _ in range(3):
        assert store.called.acquire(timeout=30)
    assert not store.called.acquire(timeout=0.1)  # loaded: back to the long interval
    refresher.stop()
    assert store.calls == 3


def test_a_crashing_refresh_does_not_kill_the_loop() -> None:
    class Broken:
        def __init__(self) -> None:
            self.called = threading.Semaphore(0)

        def refresh(self) -> RefreshResult:
            self.called.release()
            raise RuntimeError("boom")

    store = Broken()
    log = RecordingLogger()
    refresher = Refresher(store=store, interval=3600, logger=log)
    refresher.start(loaded=True)
    refresher.trigger()
    assert store.called.acquire(timeout=30)
    refresher.trigger()
    assert store.called.acquire(timeout=30)
    refresher.stop()
    assert log.names().count("key_refresh_crashed") == 2
