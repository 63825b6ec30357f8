"""No secret value reaches a log line, an exception message or a repr.

Known secrets go through config loading (good and bad files), failed and successful Keystone
authentication against a fake Keystone on 127.0.0.1, and the ConnectionFactory (build,
rotation, failed reload). All output is captured at debug level, with keystoneauth's and
openstacksdk's own debug logging on, through the project's ``configure_logging``.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import structlog
from credentials.fake_keystone import ISSUED_TOKEN, FakeKeystone

from osk8s_core.config import CloudConfig, load_cloud_config
from osk8s_core.credentials import (
    CaFileStore,
    ClientSettings,
    ConnectionFactory,
    CredentialKey,
    build_connection,
)
from osk8s_core.errors import ConfigError, CredentialsError
from osk8s_core.logging import LIBRARY_LOGGERS, configure_logging, get_logger

PASSWORD = "Pw-7f3a9c1e-never-log"
TRUSTEE_PASSWORD = "Tp-52be0d44-never-log"
APP_SECRET = "Ac-0c9d8e7f-never-log"
TOKEN = "Tk-1a2b3c4d-never-log"
SECRETS = (PASSWORD, TRUSTEE_PASSWORD, APP_SECRET, TOKEN, ISSUED_TOKEN)
SETTINGS = ClientSettings(component="osk8s-test", version="0")


class _Raw(logging.Handler):
    """Keeps the unformatted text of every stdlib record, before any redaction."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[io.StringIO, _Raw]]:
    for name in list(os.environ):
        if name.startswith("OS_"):
            monkeypatch.delenv(name)
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    saved_levels = {name: logging.getLogger(name).level for name in LIBRARY_LOGGERS}
    stream = io.StringIO()
    raw = _Raw()
    configure_logging(fmt="json", verbosity=10, stream=stream)
    root.addHandler(raw)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield stream, raw
    finally:
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
        logging.captureWarnings(False)
        structlog.reset_defaults()


def assert_clean(text: str, what: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{what} leaks a secret"


@dataclass
class Run:
    """Collects every exception and repr produced while secrets flow through the code."""

    tmp: Path
    keystone: FakeKeystone
    log: Any
    errors: list[BaseException] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def expect_error(self, exc_type: type[BaseException], func: Callable[[], object]) -> None:
        with pytest.raises(exc_type) as info:
            func()
        self.errors.append(info.value)
        self.log.error("operation_failed", error=info.value, exc_info=info.value)

    def good_config(self) -> Path:
        url = self.keystone.url
        path = self.tmp / "cloud.conf"
        path.write_text(
            f"[Global]\nauth-url = {url}\nuser-id = u\npassword = {PASSWORD}\n"
            f"passwd = {PASSWORD}\nsecret-password = {PASSWORD}\n"  # unknown keys: warned
            f'[Global "trust"]\nauth-url = {url}\ntrust-id = t\n'
            f"trustee-id = x\ntrustee-password = {TRUSTEE_PASSWORD}\n"
            f'[Global "app"]\nauth-url = {url}\napplication-credential-id = a\n'
            f"application-credential-secret = {APP_SECRET}\n"
            f'[Global "token"]\nauth-url = {url}\ntoken = {TOKEN}\n'
        )
        return path

    def load(self, path: Path) -> CloudConfig:
        return load_cloud_config([path], environ={}, search_dirs=[]).config

    def bad_configs(self) -> None:
        """Invalid values, syntax errors and bad YAML on lines that hold secrets."""
        for name, text in {
            "bad1.conf": f"[Global]\ntls-insecure = {PASSWORD}\n",
            "bad2.conf": f"[Global]\nos-endpoint-type = {TOKEN}\n",
            "bad3.conf": f'[Global]\npassword = "{PASSWORD}\n',
            "bad4.conf": f"[Global]\npass word = {PASSWORD}\n",
            "bad5.conf": f"[LoadBalancer]\nmonitor-delay = {APP_SECRET}\n",
        }.items():
            path = self.tmp / name
            path.write_text(text)
            self.expect_error(ConfigError, lambda p=path: self.load(p))  # type: ignore[misc]
        clouds = self.tmp / "clouds.yaml"
        clouds.write_text(f"clouds:\n  c:\n    auth: {{password: {PASSWORD}\n")
        bad_clouds = self.tmp / "bad-clouds.conf"
        bad_clouds.write_text(f"[Global]\nuse-clouds = true\ncloud = c\nclouds-file = {clouds}\n")
        self.expect_error(ConfigError, lambda: self.load(bad_clouds))
        incomplete = self.tmp / "incomplete.conf"
        incomplete.write_text(f"[Global]\nusername = bob\npassword = {PASSWORD}\n")
        factory = ConnectionFactory([incomplete], settings=SETTINGS)
        self.expect_error(CredentialsError, factory.get)

    def authenticate(self, config: CloudConfig) -> None:
        """Every method succeeds, makes a token-bearing request, then fails with a 401."""
        store = CaFileStore()
        for auth in config.auth.values():
            self.log.debug("loaded_auth", auth=auth, as_text=f"{auth}")
            conn = build_connection(auth, settings=SETTINGS, ca_store=store)
            conn.session.get_token()
            conn.session.get(f"{self.keystone.url}/compute/x", authenticated=True)
            self.texts += [repr(conn.session.auth), repr(conn.session)]
        self.keystone.status = 401
        for auth in config.auth.values():
            conn = build_connection(auth, settings=SETTINGS, ca_store=store)
            self.expect_error(Exception, conn.session.get_token)
        self.keystone.status = 201
        store.close()

    def rotate(self, path: Path) -> None:
        """The factory: build, rotate the password, fail a reload, keep serving."""
        factory = ConnectionFactory([path], settings=SETTINGS)
        factory.get().session.get_token()
        before = path.stat().st_mtime_ns
        path.write_text(path.read_text().replace(PASSWORD, f"{PASSWORD}-rotated"))
        os.utime(path, ns=(before + 10**6, before + 10**6))
        factory.get().session.get_token()
        path.write_text(f"[Global]\nauth-url = {self.keystone.url}\ntls-insecure = {PASSWORD}\n")
        os.utime(path, ns=(before + 2 * 10**6, before + 2 * 10**6))
        factory.get()
        assert factory.auth is not None
        self.texts += [repr(factory.auth), repr(CredentialKey(factory.auth, "d"))]
        factory.close()


def test_no_secret_anywhere(tmp_path: Path, captured: tuple[io.StringIO, _Raw]) -> None:
    stream, raw = captured
    with FakeKeystone() as keystone:
        run = Run(tmp_path, keystone, get_logger("osk8s.test"))
        good = run.good_config()
        result = load_cloud_config([good], environ={}, search_dirs=[])
        run.texts += [repr(result), str(result.config), repr(result.warnings)]
        run.bad_configs()
        run.authenticate(result.config)
        run.rotate(good)

    output = stream.getvalue()
    assert "credentials_reload_failed" in output  # the capture did see our events
    assert "config_warning" in output
    assert "X-Auth-Token" in output and "REQ: curl" in output  # library debug logging was on
    assert len(run.errors) == 11
    assert_clean(output, "formatted log output")
    for error in run.errors:
        assert_clean(str(error), f"message of {type(error).__name__}")
        assert_clean(repr(error), f"repr of {type(error).__name__}")
    for index, text in enumerate(run.texts):
        assert_clean(text, f"repr #{index}")
    # Our own loggers must not depend on the redaction processor: their raw records are clean.
    ours = [r for r in raw.records if r.name.startswith("osk8s")]
    assert ours
    for record in ours:
        assert_clean(record.getMessage() + repr(getattr(record, "msg", "")), f"raw {record.name}")
