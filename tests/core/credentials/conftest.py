"""Fixtures for credential tests: no OS_* env, a throw-away PKI, a fake Keystone."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .certs import Pki, make_pki
from .fake_keystone import FakeKeystone


@pytest.fixture(autouse=True)
def _no_os_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OS_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def keystone() -> Iterator[FakeKeystone]:
    with FakeKeystone() as server:
        yield server


@pytest.fixture
def tls_keystone(pki: Pki) -> Iterator[FakeKeystone]:
    with FakeKeystone(tls=pki.server_context()) as server:
        yield server


@pytest.fixture
def write(tmp_path: Path):  # type: ignore[no-untyped-def]
    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return _write
