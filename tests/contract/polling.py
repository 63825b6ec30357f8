"""Polling for the contract tests: read until a condition holds or a deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(fetch: Callable[[], T], done: Callable[[T], bool], *, wait: float) -> T:
    """The first value ``done`` accepts, or the last one read when ``wait`` seconds pass
    (the caller's assertion then fails with it)."""
    deadline = time.monotonic() + wait
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.5)
