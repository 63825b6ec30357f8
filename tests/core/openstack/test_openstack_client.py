"""openstack/client.py through the real openstacksdk stack against a scripted endpoint.

Only sleeping is faked (recorded, not slept); HTTP, sockets, resets and refusals are real.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog
from keystoneauth1 import session as ks_session
from openstack import exceptions as sdk_exc
from prometheus_client import CollectorRegistry
from scripted_cloud import Reply, ScriptedCloud, make_connection

from osk8s_core import errors
from osk8s_core.logging import configure_logging, get_logger
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.retry import NO_RETRY, RetryPolicy

VOLUME = {"volume": {"id": "v1", "status": "available", "size": 1, "name": "pv-1"}}
VOL_PATH = "/v3/volumes/v1"
POLICY = RetryPolicy(max_attempts=4, backoff_base=0.5, backoff_factor=2.0, jitter=0.0)


@dataclass
class FakeTime:
    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Harness:
    cloud: ScriptedCloud
    client: OpenStackClient[Any]
    registry: CollectorRegistry
    time: FakeTime
    logs: list[dict[str, Any]]

    def metric(self, name: str, request: str) -> float:
        return self.registry.get_sample_value(name, {"request": request}) or 0.0


@pytest.fixture
def h(cloud: ScriptedCloud) -> Iterator[Harness]:
    registry = CollectorRegistry()
    fake = FakeTime()
    with structlog.testing.capture_logs() as logs:
        client = OpenStackClient(
            make_connection(cloud.url),
            metrics=ApiMetrics(registry),
            retry_policy=POLICY,
            logger=structlog.get_logger(),
            sleep=fake.sleep,
            clock=fake.clock,
        )
        yield Harness(cloud, client, registry, fake, logs)


def _get_volume(h: Harness, **kw: Any) -> Any:
    return h.client.call("volume_get", h.client.connection.block_storage.get_volume, "v1", **kw)


def test_500_twice_then_200_is_retried_and_measured(h: Harness) -> None:
    h.cloud.script(
        "GET",
        VOL_PATH,
        Reply(500, {"computeFault": {"message": "db gone"}}, {"x-openstack-request-id": "req-1"}),
        Reply(500, {"computeFault": {"message": "db gone"}}, {"x-openstack-request-id": "req-2"}),
        Reply(200, VOLUME),
    )
    volume = _get_volume(h)
    assert volume.status == "available"
    assert h.cloud.calls("GET", VOL_PATH) == 3
    assert h.time.sleeps == [0.5, 1.0]
    assert h.metric("openstack_api_requests_total", "volume_get") == 3
    assert h.metric("openstack_api_request_errors_total", "volume_get") == 2
    assert h.metric("openstack_api_request_duration_seconds_count", "volume_get") == 3
    failures = [e for e in h.logs if e["event"] == "openstack call failed"]
    assert [(e["attempt"], e["status"], e["request_id"]) for e in failures] == [
        (1, 500, "req-1"),
        (2, 500, "req-2"),
    ]
    assert all(e["log_level"] == "warning" and e["request"] == "volume_get" for e in failures)


def test_persistent_500_gives_up_with_server_error(h: Harness) -> None:
    h.cloud.script("GET", VOL_PATH, Reply(503, {"message": "maintenance"}))
    with pytest.raises(errors.ServerError) as info:
        _get_volume(h)
    assert info.value.status == 503
    assert isinstance(info.value.__cause__, sdk_exc.HttpException)
    assert h.cloud.calls("GET", VOL_PATH) == POLICY.max_attempts
    assert h.metric("openstack_api_request_errors_total", "volume_get") == POLICY.max_attempts
    # One line per failed attempt; the last says no retry is coming.
    failures = [e for e in h.logs if e["event"] == "openstack call failed"]
    assert len(failures) == POLICY.max_attempts
    assert failures[-1]["retry_in"] is None


def test_429_waits_at_least_retry_after(h: Harness) -> None:
    h.cloud.script(
        "GET",
        VOL_PATH,
        Reply(429, {"message": "slow down"}, {"Retry-After": "7"}),
        Reply(200, VOLUME),
    )
    assert _get_volume(h).id == "v1"
    assert h.time.sleeps == [7.0]
    assert h.cloud.calls("GET", VOL_PATH) == 2


def test_404_is_not_found_and_not_retried(h: Harness) -> None:
    h.cloud.script(
        "GET",
        VOL_PATH,
        Reply(404, {"itemNotFound": {"message": "no"}}, {"x-openstack-request-id": "req-9"}),
    )
    with pytest.raises(errors.NotFound) as info:
        _get_volume(h)
    assert info.value.request == "volume_get"
    assert info.value.request_id == "req-9"
    assert isinstance(info.value.__cause__, sdk_exc.ResourceNotFound)
    assert h.cloud.calls("GET", VOL_PATH) == 1
    assert h.time.sleeps == []
    # An answer the caller expects (deletes, waits-until-gone): counted, but not logged.
    assert h.metric("openstack_api_request_errors_total", "volume_get") == 1
    assert [e for e in h.logs if e["event"] == "openstack call failed"] == []


def test_capo_counts_a_404_to_a_get_or_delete_as_an_answer(h: Harness) -> None:
    """CAPO's ``ObserveRequestIgnoreNotFound`` (capo.md §4): with ``not_found_is_error=False``
    a 404 on a get/delete is a request but no error; a 404 on a create stays an error. The
    default (CPO, pinned above) counts every 404."""
    registry = CollectorRegistry()
    client = OpenStackClient(
        h.client.connection,
        metrics=ApiMetrics(registry, prefix="capo_", not_found_is_error=False),
        retry_policy=POLICY,
        logger=structlog.get_logger(),
    )
    gone = Reply(404, {"itemNotFound": {"message": "no"}})
    h.cloud.script("GET", VOL_PATH, gone)
    h.cloud.script("DELETE", VOL_PATH, gone)
    h.cloud.script("POST", "/v3/volumes", gone)
    block_storage = client.connection.block_storage
    with pytest.raises(errors.NotFound):
        client.call("volume_get", block_storage.get_volume, "v1")
    with pytest.raises(errors.NotFound):
        client.call("volume_delete", block_storage.delete_volume, "v1", ignore_missing=False)
    with pytest.raises(errors.NotFound):
        client.call("volume_create", block_storage.create_volume, size=1, idempotent=False)

    def value(name: str, request: str) -> float | None:
        return registry.get_sample_value(f"capo_openstack_api_{name}", {"request": request})

    for request in ("volume_get", "volume_delete"):
        assert value("requests_total", request) == 1
        assert value("request_duration_seconds_count", request) == 1
        assert (value("request_errors_total", request) or 0.0) == 0
    assert value("request_errors_total", "volume_create") == 1


def test_connection_reset_retried_for_idempotent_calls(h: Harness) -> None:
    h.cloud.script("GET", VOL_PATH, Reply(reset=True), Reply(200, VOLUME))
    assert _get_volume(h).id == "v1"
    assert h.cloud.calls("GET", VOL_PATH) == 2
    assert h.metric("openstack_api_request_errors_total", "volume_get") == 1


def _create(h: Harness, **kw: Any) -> Any:
    return h.client.call(
        "volume_create",
        h.client.connection.block_storage.create_volume,
        size=1,
        name="pv-1",
        idempotent=False,
        **kw,
    )


def test_connection_reset_not_retried_for_non_idempotent_calls(h: Harness) -> None:
    h.cloud.script("POST", "/v3/volumes", Reply(reset=True), Reply(202, VOLUME))
    with pytest.raises(errors.ServiceUnavailable) as info:
        _create(h)
    assert info.value.not_sent is False
    assert h.cloud.calls("POST", "/v3/volumes") == 1  # the reset request may have been applied
    assert h.time.sleeps == []


def test_500_not_retried_for_non_idempotent_calls(h: Harness) -> None:
    h.cloud.script("POST", "/v3/volumes", Reply(500, {"message": "oops"}), Reply(202, VOLUME))
    with pytest.raises(errors.ServerError):
        _create(h)
    assert h.cloud.calls("POST", "/v3/volumes") == 1


def test_non_idempotent_create_succeeds_and_sends_its_body(h: Harness) -> None:
    h.cloud.script("POST", "/v3/volumes", Reply(202, VOLUME))
    assert _create(h).id == "v1"
    assert json.loads(h.cloud.bodies[-1])["volume"]["size"] == 1
    assert h.metric("openstack_api_requests_total", "volume_create") == 1
    assert h.metric("openstack_api_request_errors_total", "volume_create") == 0


def test_connection_refused_is_retried_even_for_creates(h: Harness) -> None:
    h.cloud.script("GET", VOL_PATH, Reply(200, VOLUME))
    _get_volume(h)  # endpoint discovery done while the server is up
    h.cloud.stop()  # now the port refuses connections: nothing can have been applied
    with pytest.raises(errors.ServiceUnavailable) as info:
        _create(h)
    assert info.value.not_sent is True
    assert h.metric("openstack_api_requests_total", "volume_create") == POLICY.max_attempts
    assert h.time.sleeps == [0.5, 1.0, 2.0]


def test_conflict_retried_only_with_a_policy_that_allows_it(h: Harness) -> None:
    busy = Reply(409, {"conflictingRequest": {"message": "volume is busy"}})
    h.cloud.script("GET", VOL_PATH, busy, Reply(200, VOLUME))
    with pytest.raises(errors.Conflict):
        _get_volume(h)
    h.cloud.script("GET", VOL_PATH, busy, Reply(200, VOLUME))
    patient = RetryPolicy(retry_conflict=True, backoff_base=2.0, jitter=0.0)
    assert _get_volume(h, policy=patient).id == "v1"
    assert h.time.sleeps == [2.0]


def test_no_retry_policy_override(h: Harness) -> None:
    h.cloud.script("GET", VOL_PATH, Reply(500, {}), Reply(200, VOLUME))
    with pytest.raises(errors.ServerError):
        _get_volume(h, policy=NO_RETRY)
    assert h.cloud.calls("GET", VOL_PATH) == 1


def test_programming_errors_pass_through_but_count_as_errors(h: Harness) -> None:
    def broken() -> None:
        raise TypeError("bad argument")

    with pytest.raises(TypeError):
        h.client.call("volume_get", broken)
    assert h.metric("openstack_api_request_errors_total", "volume_get") == 1
    (line,) = [e for e in h.logs if e["event"] == "openstack call failed"]
    assert line["error"] == "TypeError"
    assert "reason" not in line


def test_read_timeout_through_a_plain_keystoneauth_session() -> None:
    # A plain keystoneauth session (its raise_exc path, not the sdk proxies) against a socket
    # that accepts the connection but never answers: the request went out, no reply came.
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        port = listener.getsockname()[1]
        fake = FakeTime()
        client = OpenStackClient(
            ks_session.Session(),
            metrics=ApiMetrics(CollectorRegistry()),
            retry_policy=RetryPolicy(max_attempts=2, jitter=0.0),
            logger=structlog.get_logger(),
            sleep=fake.sleep,
            clock=fake.clock,
        )
        with pytest.raises(errors.RequestTimeout) as info:
            client.call(
                "server_get", client.connection.get, f"http://127.0.0.1:{port}/", timeout=0.2
            )
        assert info.value.not_sent is False  # it was sent; the answer never came
        assert len(fake.sleeps) == 1  # a GET is idempotent: retried once
    finally:
        listener.close()


# --- secrets through the retry path ----------------------------------------------------------

TOKEN = "gAAAAABnT0k3n" + "abcdefghij" * 8
PASSWORD = "s3cr3t-Passw0rd!"


@pytest.fixture
def log_buffer() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging(stream=stream, verbosity=10)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name in ("keystoneauth", "keystoneauth1", "urllib3", "openstack"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    structlog.reset_defaults()
    logging.captureWarnings(False)


def test_no_secret_reaches_logs_or_errors_on_auth_and_retry_paths(
    cloud: ScriptedCloud, log_buffer: io.StringIO
) -> None:
    echo = f'X-Auth-Token: {TOKEN} rejected; "password": "{PASSWORD}"'
    cloud.script(
        "GET",
        VOL_PATH,
        Reply(503, {"message": echo}),
        Reply(401, {"error": {"message": echo, "code": 401}}),
    )
    fake = FakeTime()
    client = OpenStackClient(
        make_connection(cloud.url, token=TOKEN),
        metrics=ApiMetrics(CollectorRegistry()),
        retry_policy=POLICY,
        logger=get_logger("osk8s.test"),
        sleep=fake.sleep,
        clock=fake.clock,
    )
    with pytest.raises(errors.Unauthorized) as info:
        client.call("volume_get", client.connection.block_storage.get_volume, "v1")
    assert cloud.calls("GET", VOL_PATH) == 2
    text = log_buffer.getvalue()
    assert "openstack call failed" in text
    assert "keystoneauth" in text  # wire-level debug logging was on
    for secret in (TOKEN, PASSWORD):
        assert secret not in text
        assert secret not in str(info.value)
