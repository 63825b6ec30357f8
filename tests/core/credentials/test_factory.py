"""Connection caching per credential set, and rotation when the credential files change."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from osk8s_core.config import AuthOptions
from osk8s_core.credentials import (
    CaFileStore,
    ClientSettings,
    ConnectionCache,
    ConnectionFactory,
    CredentialKey,
)
from osk8s_core.errors import ConfigError, CredentialsError
from osk8s_core.secrets import SecretStr

from .certs import Pki
from .fake_keystone import FakeKeystone

SETTINGS = ClientSettings(component="barbican-kms-plugin", version="0.1.0")
Write = Callable[[str, str], Path]


def conf(url: str, password: str, extra: str = "") -> str:
    return f"[Global]\nauth-url = {url}\nuser-id = u\npassword = {password}\n{extra}"


def rewrite(path: Path, text: str) -> None:
    """Rewrite in place and make sure the mtime moves even on coarse clocks."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


def test_cache_returns_the_same_connection_per_credential_set() -> None:
    cache = ConnectionCache(settings=SETTINGS)
    one = AuthOptions(auth_url="https://k/v3", user_id="u", password=SecretStr("a"))
    same = AuthOptions(auth_url="https://k/v3", user_id="u", password=SecretStr("a"))
    other = AuthOptions(auth_url="https://k/v3", user_id="u", password=SecretStr("b"))
    assert cache.get(one) is cache.get(same)
    assert cache.get(other) is not cache.get(one)
    assert cache.builds == 2
    cache.close()


def test_cache_evicts_least_recently_used() -> None:
    cache = ConnectionCache(settings=SETTINGS, max_entries=2)
    options = [
        AuthOptions(auth_url="https://k/v3", user_id="u", password=SecretStr(str(i)))
        for i in range(3)
    ]
    first = cache.get(options[0])
    cache.get(options[1])
    cache.get(options[0])  # refresh 0, so 1 is the oldest
    cache.get(options[2])
    assert cache.get(options[0]) is first
    assert cache.builds == 3
    cache.get(options[1])
    assert cache.builds == 4


def test_credential_key_is_hashable_and_prints_no_secret() -> None:
    key = CredentialKey(
        AuthOptions(password=SecretStr("hunter2"), token=SecretStr("tkn-9")), "digest"
    )
    assert hash(key) == hash(
        CredentialKey(
            AuthOptions(password=SecretStr("hunter2"), token=SecretStr("tkn-9")), "digest"
        )
    )
    assert "hunter2" not in repr(key) and "tkn-9" not in repr(key) and "hunter2" not in str(key)


def test_factory_reuses_connection_while_files_are_unchanged(write: Write) -> None:
    path = write("cloud.conf", conf("https://k/v3", "one"))
    with ConnectionFactory([path], settings=SETTINGS) as factory:
        first = factory.get()
        assert factory.get() is first
        assert factory.reloads == 0


def test_factory_rotates_when_the_file_changes(keystone: FakeKeystone, write: Write) -> None:
    path = write("cloud.conf", conf(keystone.url, "pw-one"))
    with ConnectionFactory([path], settings=SETTINGS) as factory:
        first = factory.get()
        first.session.get_token()
        rewrite(path, conf(keystone.url, "pw-two-longer"))
        second = factory.get()
        assert second is not first
        second.session.get_token()
        sent = [
            r.body["auth"]["identity"]["password"]["user"]["password"]
            for r in keystone.auth_requests()
        ]
        assert sent == ["pw-one", "pw-two-longer"]
        assert factory.reloads == 1
        assert factory.get() is second


def test_touched_file_with_same_credentials_keeps_connection(write: Write) -> None:
    path = write("cloud.conf", conf("https://k/v3", "same"))
    cache = ConnectionCache(settings=SETTINGS)
    with ConnectionFactory([path], settings=SETTINGS, cache=cache) as factory:
        first = factory.get()
        rewrite(path, conf("https://k/v3", "same") + "; a comment\n")
        assert factory.get() is first
        assert (factory.reloads, cache.builds) == (1, 1)


def test_kubernetes_style_symlink_swap_is_seen(tmp_path: Path) -> None:
    # Secret volumes swap a ..data symlink; the file path itself never changes.
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    (tmp_path / "v1" / "cloud.conf").write_text(conf("https://k/v3", "first"))
    (tmp_path / "v2" / "cloud.conf").write_text(conf("https://k/v3", "second"))
    (tmp_path / "..data").symlink_to("v1")
    (tmp_path / "cloud.conf").symlink_to("..data/cloud.conf")
    with ConnectionFactory([tmp_path / "cloud.conf"], settings=SETTINGS) as factory:
        first = factory.get()
        (tmp_path / "..tmp").symlink_to("v2")
        os.replace(tmp_path / "..tmp", tmp_path / "..data")
        assert factory.get() is not first
        assert factory.auth is not None and factory.auth.password == SecretStr("second")


def test_clouds_yaml_change_rotates(write: Write) -> None:
    clouds = write(
        "clouds.yaml",
        "clouds:\n  c:\n    auth: {auth_url: 'https://k/v3', user_id: u, password: p1}\n",
    )
    path = write("cloud.conf", f"[Global]\nuse-clouds = true\nclouds-file = {clouds}\ncloud = c\n")
    factory = ConnectionFactory(
        [path], settings=SETTINGS, loader=lambda paths: _load(paths, search_dirs=[])
    )
    first = factory.get()
    rewrite(
        clouds, "clouds:\n  c:\n    auth: {auth_url: 'https://k/v3', user_id: u, password: p22}\n"
    )
    assert factory.get() is not first
    assert factory.auth is not None and factory.auth.password == SecretStr("p22")
    factory.close()


def test_ca_file_content_change_rotates(write: Write, pki: Pki) -> None:
    ca = write("ca.pem", pki.ca_pem)
    path = write("cloud.conf", conf("https://k/v3", "p", f"ca-file = {ca}\n"))
    with ConnectionFactory([path], settings=SETTINGS) as factory:
        first = factory.get()
        rewrite(ca, pki.ca_pem + "\n")
        assert factory.get() is not first


def test_failed_reload_keeps_last_good_connection(write: Write) -> None:
    path = write("cloud.conf", conf("https://k/v3", "good"))
    with ConnectionFactory([path], settings=SETTINGS) as factory:
        first = factory.get()
        rewrite(path, "[Global]\nauth-url = https://k/v3\ntls-insecure = perhaps\n")
        with capture_logs() as logs:
            assert factory.get() is first
            assert factory.get() is first  # not retried (nor logged) until the file changes
        assert [e["event"] for e in logs] == ["credentials_reload_failed"]
        rewrite(path, conf("https://k/v3", "fixed"))
        assert factory.get() is not first
        assert factory.auth is not None and factory.auth.password == SecretStr("fixed")


def test_incomplete_credentials_on_reload_keep_last_good(write: Write) -> None:
    path = write("cloud.conf", conf("https://k/v3", "good"))
    with ConnectionFactory([path], settings=SETTINGS) as factory:
        first = factory.get()
        rewrite(path, "[Global]\nauth-url = https://k/v3\nusername = nobody-domain\n")
        with capture_logs() as logs:
            assert factory.get() is first
            assert factory.get() is first
        assert len(logs) == 1 and "no credentials" in logs[0]["error"]


def test_first_load_errors_are_raised(tmp_path: Path, write: Write) -> None:
    with pytest.raises(ConfigError, match="not found"):
        ConnectionFactory([tmp_path / "absent.conf"], settings=SETTINGS).get()
    incomplete = write("cloud.conf", "[Global]\nauth-url = https://k/v3\nusername = bob\n")
    with pytest.raises(CredentialsError, match="no credentials"):
        ConnectionFactory([incomplete], settings=SETTINGS).get()


def test_named_section_is_used(write: Write) -> None:
    path = write(
        "cloud.conf",
        conf("https://k/v3", "plain") + '[Global "csi"]\nauth-url = https://k/v3\ntoken = t\n',
    )
    with ConnectionFactory([path], settings=SETTINGS, section="csi") as factory:
        factory.get()
        assert factory.auth is not None and factory.auth.token == SecretStr("t")
    with pytest.raises(ConfigError, match="section missing"):
        ConnectionFactory([path], settings=SETTINGS, section="nope").get()


def test_close_removes_inline_ca_files(pki: Pki) -> None:
    store = CaFileStore()
    cache = ConnectionCache(settings=SETTINGS, ca_store=store)
    cache.get(AuthOptions(auth_url="https://k/v3", token=SecretStr("t"), ca_data=pki.ca_pem))
    directory = store.directory
    assert directory is not None and directory.exists()
    cache.close()
    assert not directory.exists()


def _load(paths: Any, **kw: Any) -> Any:
    from osk8s_core.config import load_cloud_config

    return load_cloud_config(paths, environ={}, **kw)


def test_concurrent_get_builds_once(write: Write) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = write("cloud.conf", conf("https://k/v3", "p"))
    cache = ConnectionCache(settings=SETTINGS)
    with ConnectionFactory([path], settings=SETTINGS, cache=cache) as factory:
        with ThreadPoolExecutor(max_workers=8) as pool:
            connections = list(pool.map(lambda _: factory.get(), range(32)))
        assert all(c is connections[0] for c in connections)
        assert cache.builds == 1
