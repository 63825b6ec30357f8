"""Fixtures for the OpenStack client-layer tests: a scripted endpoint on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from scripted_cloud import ScriptedCloud


@pytest.fixture
def cloud() -> Iterator[ScriptedCloud]:
    server = ScriptedCloud()
    server.start()
    try:
        yield server
    finally:
        server.stop()
