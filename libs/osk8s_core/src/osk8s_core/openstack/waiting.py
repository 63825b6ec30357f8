"""Status waits of the resource modules, all through the one ``retry.wait_for_status``.

``Waiter`` carries the wait policy and the injectable sleep/clock, so a resource module asks
"until available" or "until gone" without owning a polling loop. It adds nothing to
``wait_for_status`` except turning NotFound into the status ``DELETED`` for delete waits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Final, TypeVar

from osk8s_core import errors
from osk8s_core.retry import Clock, Sleep, WaitPolicy, wait_for_status

T = TypeVar("T")
DELETED: Final = "DELETED"


def _status(resource: object) -> str:
    return str(getattr(resource, "status", ""))


@dataclass(frozen=True)
class Waiter:
    """How resource modules wait; tests pass a fake ``sleep`` and ``clock``."""

    policy: WaitPolicy = field(default_factory=WaitPolicy)
    """Timeout and poll intervals."""
    sleep: Sleep = time.sleep
    clock: Clock = time.monotonic

    def until(
        self,
        fetch: Callable[[], T],
        *,
        target: str | Collection[str],
        describe: str,
        failure: Collection[str] = ("ERROR",),
        status_of: Callable[[T], str] = _status,
    ) -> T:
        """Poll ``fetch`` until its status is in ``target`` (case-insensitive)."""
        return wait_for_status(
            fetch,
            target=target,
            failure=failure,
            policy=self.policy,
            describe=describe,
            status_of=status_of,
            sleep=self.sleep,
            clock=self.clock,
        )

    def until_gone(
        self,
        fetch: Callable[[], object],
        *,
        describe: str,
        failure: Collection[str] = ("ERROR", "ERROR_DELETING", "ERROR_DELETING_SNAPSHOT"),
        status_of: Callable[[object], str] = _status,
    ) -> None:
        """Poll ``fetch`` until it raises NotFound; a ``failure`` status ends the wait early."""

        def fetch_or_deleted() -> object:
            try:
                return fetch()
            except errors.NotFound:
                return DELETED

        def status(result: object) -> str:
            return DELETED if isinstance(result, str) else status_of(result)

        wait_for_status(
            fetch_or_deleted,
            target=DELETED,
            failure=failure,
            policy=self.policy,
            describe=describe,
            status_of=status,
            sleep=self.sleep,
            clock=self.clock,
        )
