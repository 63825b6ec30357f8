"""Key cache: load, refresh, keep serving from cache when Barbican is down, rotation rules."""

from __future__ import annotations

import pytest

from osk8s_barbican_kms.errors import KeyMaterialError, KeyUnavailable, UnknownKey
from osk8s_barbican_kms.formats import ENVELOPE_KEY_ID_PREFIX, WriteFormat
from osk8s_barbican_kms.keyring import KeyIds
from osk8s_barbican_kms.keys import LoadedKey
from osk8s_barbican_kms.keystore import KeyStore, RefreshResult
from osk8s_core.errors import ConfigError, Forbidden, NotFound, ServiceUnavailable

from .kms_fakes import KEY_A, KEY_B, KEY_C, FakeBarbican, MutableKeyIds, RecordingLogger


def make_store(barbican: FakeBarbican, ids: MutableKeyIds) -> tuple[KeyStore, RecordingLogger]:
    log = RecordingLogger()
    return KeyStore(reader=barbican, key_ids=ids, logger=log, clock=lambda: 1000.0), log


@pytest.mark.parametrize("size", [16, 24, 32])
def test_loads_current_and_old_keys(size: int) -> None:
    barbican = FakeBarbican()
    barbican.add(KEY_A, size)
    barbican.add(KEY_B)
    store, _ = make_store(barbican, MutableKeyIds(KeyIds(KEY_A, (KEY_B,))))
    result = store.refresh()
    assert result.ok and result.fatal_at_start() is None
    assert store.ring.current().key_id == KEY_A
    assert set(store.ring.keys) == {KEY_A, KEY_B}
    assert store.ring.current_problem() is None
    assert store.last_success == 1000.0


@pytest.mark.parametrize("size", [0, 1, 15, 17, 31, 33, 64])
def test_wrong_key_size_is_fatal_at_start(size: int) -> None:
    barbican = FakeBarbican()
    barbican.add(KEY_A, size)
    store, _ = make_store(barbican, MutableKeyIds(KeyIds(KEY_A)))
    fatal = store.refresh().fatal_at_start()
    assert isinstance(fatal, KeyMaterialError)
    assert f"holds {size} bytes" in str(fatal)
    assert "16, 24 or 32" in str(fatal)


def test_missing_secret_is_fatal_at_start_but_unreachable_is_not() -> None:
    barbican = FakeBarbican()
    store, _ = make_store(barbican, MutableKeyIds(KeyIds(KEY_A)))
    assert isinstance(store.refresh().fatal_at_start(), NotFound)

    barbican.failures[KEY_A] = ServiceUnavailable("barbican down", not_sent=True)
    result = store.refresh()
    assert result.fatal_at_start() is None
    assert "barbican down" in (store.ring.current_problem() or "")
    with pytest.raises(KeyUnavailable, match="barbican down"):
        store.ring.current()


def test_unreachable_barbican_keeps_cached_keys() -> None:
    barbican = FakeBarbican()
    barbican.add(KEY_A)
    barbican.add(KEY_B)
    store, log = make_store(barbican, MutableKeyIds(KeyIds(KEY_A, (KEY_B,))))
    store.refresh()
    before = store.ring
    for key_id in (KEY_A, KEY_B):
        barbican.failures[key_id] = ServiceUnavailable("connection refused", not_sent=True)
    result = store.refresh()
    assert not result.ok
    assert store.ring.current() is before.current()
    assert store.ring.get(KEY_B) is before.get(KEY_B)
    assert store.ring.current_problem() is None  # still fully able to encrypt
    assert "key_refresh_failed_using_cache" in log.names()
    assert store.last_success == 1000.0


@pytest.mark.parametrize("error", [NotFound("gone", status=404), Forbidden("no", status=403)])
def test_refusal_on_refresh_keeps_serving_the_cached_key(error: Exception) -> None:
    barbican = FakeBarbican()
    barbican.add(KEY_A)
    barbican.add(KEY_B)
    store, log = make_store(barbican, MutableKeyIds(KeyIds(KEY_A, (KEY_B,))))
    store.refresh()
    before = store.ring
    for key_id in (KEY_A, KEY_B):
        barbican.failures[key_id] = error  # type: ignore[assignment]
    result = store.refresh()
    # Both keys keep serving: a 403/404 is reported, never obeyed.
    assert store.ring.current() is before.current()
    assert store.ring.get(KEY_B) is before.get(KEY_B)
    assert store.ring.current_problem() is None
    assert result.rejected == {KEY_A, KEY_B} and not result.ok
    assert result.failures[KEY_A] is error
    assert log.names().count("key_rejected_by_barbican_serving_cache") == 2
    # Barbican answers again: the report clears.
    barbican.failures.clear()
    result = store.refresh()
    assert result.ok and not result.rejected


def test_other_bytes_under_the_same_id_keep_the_cached_key() -> None:
    barbican = FakeBarbican()
    original = barbican.add(KEY_A)
    store, log = make_store(barbican, MutableKeyIds(KeyIds(KEY_A)))
    store.refresh()
    barbican.add(KEY_A)  # same id, new material
    result = store.refresh()
    assert store.ring.current().same_material(LoadedKey(KEY_A, original))
    assert result.rejected == {KEY_A}
    assert "key_material_changed_serving_cache" in log.names()
    barbican.payloads[KEY_A] = b"short"  # not even an AES key any more
    assert store.refresh().rejected == {KEY_A}
    assert store.ring.current().same_material(LoadedKey(KEY_A, original))


def test_only_a_key_id_change_in_config_replaces_a_refused_key() -> None:
    barbican = FakeBarbican()
    barbican.add(KEY_A)
    barbican.add(KEY_B)
    ids = MutableKeyIds(KeyIds(KEY_A))
    store, _ = make_store(barbican, ids)
    store.refresh()
    barbican.failures[KEY_A] = NotFound("gone", status=404)
    store.refresh()
    assert store.ring.current_id == KEY_A
    ids.ids = KeyIds(KEY_B)  # the operator points key-id elsewhere and drops KEY_A
    result = store.refresh()
    assert store.ring.current_id == KEY_B and not result.rejected
    with pytest.raises(UnknownKey):
        store.ring.get(KEY_A)


def test_refused_key_that_was_never_loaded_is_missing() -> None:
    barbican = FakeBarbican()
    barbican.add(KEY_A)
    store, _ = make_store(barbican, MutableKeyIds(KeyIds(KEY_A, (KEY_B,))))
    result = store.refresh()  # KEY_B does not exist: nothing cached to keep
    assert not result.rejected and isinstance(result.failures[KEY_B], NotFound)
    with pytest.raises(KeyUnavailable):
        store.ring.get(KEY_B)


def test_rotation_to_new_key_with_old_kept() -> None:
    barbican = FakeBarbican()
    barbican.add(KEY_A)
    barbican.add(KEY_B)
    ids = MutableKeyIds(KeyIds(KEY_A))
    store, log = make_store(barbican, ids)
    store.refresh()
    ids.ids = KeyIds(KEY_B, (KEY_A,))
    store.refresh()
    assert store.ring.current_id == KEY_B
    assert store.ring.get(KEY_A).key_id == KEY_A
    assert "key_rotated" in log.names()
    assert "previous_key_not_kept" not in log.names()


def test_rotation_that_forgets_the_old_key_warns_and_drops_it() -> None:
    barbican = FakeBarbican()
    barbican.add(KEY_A)
    barbican.add(KEY_B)
    ids = MutableKeyIds(KeyIds(KEY_A))
    store, log = make_store(barbican, ids)
    store.refresh()
    ids.ids = KeyIds(KEY_B)
    store.refresh()
    assert "previous_key_not_kept" in log.names()
    with pytest.raises(UnknownKey, match="old-key-id"):
        store.ring.get(KEY_A)


def test_rotation_to_an_unloadable_key_keeps_encrypting_with_the_previous() -> None:
    barbican = FakeBarbican()
    barbican.add(KEY_A)
    ids = MutableKeyIds(KeyIds(KEY_A))
    store, log = make_store(barbican, ids)
    store.refresh()
    ids.ids = KeyIds(KEY_C, (KEY_A,))  # KEY_C does not exist in Barbican
    result = store.refresh()
    assert store.ring.current_id == KEY_A
    assert isinstance(result.failures[KEY_C], NotFound)
    assert "new_key_not_loaded_keeping_previous" in log.names()
    barbican.add(KEY_C)
    store.refresh()
    assert store.ring.current_id == KEY_C


def test_broken_config_on_refresh_keeps_previous_keys() -> None:
    barbican = FakeBarbican()
    barbican.add(KEY_A)
    barbican.add(KEY_B)
    ids = MutableKeyIds(KeyIds(KEY_A, (KEY_B,)))
    store, log = make_store(barbican, ids)
    store.refresh()
    ids.error = ConfigError("bad line")
    result = store.refresh()
    assert "config" in result.failures
    assert store.ring.current_id == KEY_A and set(store.ring.keys) == {KEY_A, KEY_B}
    assert "key_config_reload_failed" in log.names()


def test_write_format_follows_the_config_and_survives_a_broken_reload() -> None:
    barbican = FakeBarbican()
    barbican.add(KEY_A)
    ids = MutableKeyIds(KeyIds(KEY_A, write_format=WriteFormat.ENVELOPE))
    store, _ = make_store(barbican, ids)
    store.refresh()
    assert store.ring.write_format is WriteFormat.ENVELOPE
    assert store.ring.kms_key_id == ENVELOPE_KEY_ID_PREFIX + KEY_A
    ids.error = ConfigError("write-format = gcm")
    store.refresh()
    assert store.ring.write_format is WriteFormat.ENVELOPE  # the last good setting stays
    ids.error = None
    ids.ids = KeyIds(KEY_A)  # write-format removed: back to the default
    store.refresh()
    assert (store.ring.write_format, store.ring.kms_key_id) == (WriteFormat.AES_CBC, KEY_A)


def test_broken_config_at_start_is_fatal() -> None:
    store, _ = make_store(FakeBarbican(), MutableKeyIds(KeyIds(KEY_A), ConfigError("no key")))
    assert isinstance(store.refresh().fatal_at_start(), ConfigError)


def test_unknown_key_message_names_the_configuration() -> None:
    barbican = FakeBarbican()
    barbican.add(KEY_A)
    store, _ = make_store(barbican, MutableKeyIds(KeyIds(KEY_A)))
    store.refresh()
    with pytest.raises(UnknownKey, match=f"key {KEY_C} is not configured"):
        store.ring.get(KEY_C)


def test_key_material_never_appears_in_repr_or_logs() -> None:
    barbican = FakeBarbican()
    payload = barbican.add(KEY_A)
    store, log = make_store(barbican, MutableKeyIds(KeyIds(KEY_A)))
    store.refresh()
    key = store.ring.current()
    assert payload.hex() not in repr(key) and repr(payload) not in repr(key)
    assert repr(key) == f"LoadedKey(key_id={KEY_A!r}, bits=256)"
    dumped = repr(log.events) + repr(store.ring)
    assert payload.hex() not in dumped and repr(payload)[2:-1] not in dumped


def test_observer_sees_each_refresh() -> None:
    barbican = FakeBarbican()
    barbican.add(KEY_A)
    seen: list[RefreshResult] = []
    store = KeyStore(
        reader=barbican,
        key_ids=MutableKeyIds(KeyIds(KEY_A)),
        logger=RecordingLogger(),
        observer=seen.append,
    )
    store.refresh()
    store.refresh()
    assert len(seen) == 2 and all(r.ok for r in seen)


def test_same_material_compares_payloads() -> None:
    a = LoadedKey(KEY_A, b"k" * 32)
    assert a.same_material(LoadedKey(KEY_B, b"k" * 32))
    assert not a.same_material(LoadedKey(KEY_A, b"j" * 32))
