"""The instrumented call layer every OpenStack call goes through.

``OpenStackClient.call("volume_create", conn.block_storage.create_volume, size=1)`` times each
HTTP attempt into CPO's ``openstack_api_request_*`` metrics, maps library exceptions through
``openstack.errors``, retries per ``RetryPolicy`` (non-idempotent calls only when the server
surely did not act) and logs one line per failed attempt, without secrets. It holds no
per-resource logic; resource modules call through it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from osk8s_core import errors
from osk8s_core.crashpoints import NO_CRASH_POINTS, CrashPoints
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.errors import translate_errors
from osk8s_core.retry import DEFAULT_POLICY, Clock, Random, RetryPolicy, Sleep, call_with_retry

T = TypeVar("T")
C = TypeVar("C")


class Logger(Protocol):
    """What the client needs of a logger (a structlog BoundLogger fits)."""

    def warning(self, event: str | None = None, *args: Any, **kw: Any) -> Any: ...


def _describe(exc: BaseException) -> dict[str, Any]:
    """Loggable fields of an error: our errors' messages are already scrubbed and truncated;
    anything else (a bug, not an OpenStack failure) is logged by type only."""
    fields: dict[str, Any] = {"error": type(exc).__name__}
    if isinstance(exc, errors.Osk8sError):
        fields["reason"] = str(exc)
    if isinstance(exc, errors.OpenStackError):
        fields["status"] = exc.status
        fields["request_id"] = exc.request_id
    return fields


class _DeferredService:
    """Attribute access yields callables that look the service proxy up only when called."""

    __slots__ = ("_connection", "_name")

    def __init__(self, connection: object, name: str) -> None:
        self._connection = connection
        self._name = name

    def __getattr__(self, method: str) -> Callable[..., Any]:
        def invoke(*args: Any, **kwargs: Any) -> Any:
            proxy = getattr(self._connection, self._name)
            return getattr(proxy, method)(*args, **kwargs)

        invoke.__name__ = f"{self._name}.{method}"
        return invoke


class OpenStackClient(Generic[C]):
    """Wraps an openstacksdk ``Connection`` (or any object, in tests) for instrumented calls.

    ``connection`` is handed back to callers unchanged so they can reach the service proxies;
    the session's own retries should be off (connect_retries=0), since retries happen here.
    """

    def __init__(
        self,
        connection: C,
        *,
        metrics: ApiMetrics,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
        logger: Logger,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
        timer: Clock = time.perf_counter,
        rand: Random = random.random,
        crash_points: CrashPoints = NO_CRASH_POINTS,
    ) -> None:
        self._connection = connection
        self._metrics = metrics
        self._policy = retry_policy
        self._log = logger
        self._sleep = sleep
        self._clock = clock
        self._timer = timer
        self._rand = rand
        self._crash_points = crash_points

    @property
    def connection(self) -> C:
        return self._connection

    def service(self, name: str) -> Any:
        """A deferred handle on the connection's service proxy ``name`` (``block_storage``,
        ``network``, ``load_balancer`` ...) for use as ``fn`` in ``call``.

        Touching ``connection.block_storage`` authenticates and runs version discovery, so
        ``call("volume_get", conn.block_storage.get_volume, ...)`` would do that work before the
        call layer runs: a Keystone or discovery failure would escape unretried and unmapped.
        ``call("volume_get", client.service("block_storage").get_volume, ...)`` resolves the
        proxy inside the call instead.
        """
        return _DeferredService(self._connection, name)

    def call(
        self,
        request: str,
        fn: Callable[..., T],
        *args: Any,
        idempotent: bool = True,
        policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> T:
        """Run ``fn(*args, **kwargs)`` as the OpenStack request ``request`` (CPO label such as
        ``loadbalancer_get``). Raises only ``osk8s_core.errors`` for OpenStack failures.

        ``idempotent=False`` for creates and other calls that must not run twice; ``policy``
        overrides the client's retry policy for this call (e.g. one that retries 409). Those
        calls are crash points ``<request>.before`` and ``<request>.after`` (the cloud acted,
        the caller has not yet recorded it): see ``osk8s_core.crashpoints``.
        """
        if idempotent:
            return self._call(request, fn, args, kwargs, idempotent=True, policy=policy)
        self._crash_points.reach(f"{request}.before")
        result = self._call(request, fn, args, kwargs, idempotent=False, policy=policy)
        self._crash_points.reach(f"{request}.after")
        return result

    def _call(
        self,
        request: str,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        idempotent: bool,
        policy: RetryPolicy | None,
    ) -> T:
        attempt_number = [0]

        def attempt() -> T:
            attempt_number[0] += 1
            start = self._timer()
            failed = True
            try:
                with translate_errors(request):
                    result = fn(*args, **kwargs)
                failed = False
                return result
            except errors.NotFound:
                failed = self._metrics.not_found_failed(request)
                raise
            finally:
                self._metrics.observe(request, self._timer() - start, failed=failed)

        def before_sleep(exc: BaseException, attempt: int, delay: float) -> None:
            self._log.warning(
                "openstack call failed",
                request=request,
                attempt=attempt,
                retry_in=round(delay, 3),
                **_describe(exc),
            )

        try:
            return call_with_retry(
                attempt,
                policy=policy or self._policy,
                idempotent=idempotent,
                sleep=self._sleep,
                clock=self._clock,
                rand=self._rand,
                before_sleep=before_sleep,
            )
        except Exception as exc:
            # NotFound is an answer, not a fault: deletes, waits-until-gone and find-or-create
            # expect it, so it is left to the caller (counted as ApiMetrics.not_found_failed says).
            if isinstance(exc, errors.NotFound):
                raise
            self._log.warning(
                "openstack call failed",
                request=request,
                attempt=attempt_number[0],
                retry_in=None,
                **_describe(exc),
            )
            raise
