"""Fixtures for the gRPC plumbing tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from grpc_helpers import RecordingLogger


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    # sun_path is limited to 108 bytes; pytest's tmp_path can be longer than that.
    path = Path(tempfile.mkdtemp(prefix="osk8s-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def logger() -> RecordingLogger:
    return RecordingLogger()
