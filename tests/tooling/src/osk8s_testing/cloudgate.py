"""One decision for "the OpenStack test cloud is not there": skip locally, fail in CI.

Contract tests skip when the test cloud is not set up or not answering, so a developer can run
the unit suites alone. `make test` (and so CI) brings the cloud up first and sets
OSK8S_REQUIRE_TESTCLOUD=1: then a missing or dead cloud is a failure, never a silent skip.
Skips for optional services (Nova, Manila, cinder-backup) are not this gate's business.
"""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest

REQUIRE_ENV = "OSK8S_REQUIRE_TESTCLOUD"


def cloud_unavailable(reason: str) -> NoReturn:
    """Skip the test with ``reason``, or fail it when the test cloud is required."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"the test cloud is required ({REQUIRE_ENV}=1) but {reason}")
    pytest.skip(reason)


def answers(port: int, *, timeout: float = 2.0) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False
