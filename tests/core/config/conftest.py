"""Every config test runs with no OS_* variables (as openstacksdk's own tests do)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_os_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OS_"):
            monkeypatch.delenv(name)
