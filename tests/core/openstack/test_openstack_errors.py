"""openstack/errors.py: every library exception family lands on the right osk8s error.

Exceptions are produced by the libraries' own code from real ``requests.Response`` objects
(the wire), not hand-built, so a library change in how it raises shows up here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from openstack import exceptions as sdk_exc

from osk8s_core import errors
from osk8s_core.openstack.errors import (
    BODY_LIMIT,
    map_exception,
    parse_retry_after,
    request_not_sent,
    translate_errors,
)


def _response(
    status: int, body: object = None, headers: dict[str, str] | None = None
) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp.reason = "reason"
    resp.headers.update({"Content-Type": "application/json", **(headers or {})})
    resp._content = json.dumps(
        body if body is not None else {"error": {"message": "boom"}}
    ).encode()
    resp.url = "http://127.0.0.1:1/v3/volumes"
    return resp


def _sdk_error(resp: requests.Response) -> sdk_exc.SDKException:
    with pytest.raises(sdk_exc.SDKException) as info:
        sdk_exc.raise_from_response(resp)
    return info.value


def _ks_error(resp: requests.Response) -> ks_exc.HttpError:
    return ks_exc.from_response(resp, "GET", resp.url)


NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, errors.BadRequest),
        (401, errors.Unauthorized),
        (403, errors.Forbidden),
        (404, errors.NotFound),
        (409, errors.Conflict),
        (412, errors.Conflict),
        (413, errors.OverLimit),
        (429, errors.RateLimited),
        (500, errors.ServerError),
        (502, errors.ServerError),
        (503, errors.ServerError),
        (418, errors.OpenStackError),
    ],
)
@pytest.mark.parametrize("family", ["sdk", "keystoneauth", "requests"])
def test_status_maps_to_error_class(status: int, expected: type, family: str) -> None:
    resp = _response(status, headers={"x-openstack-request-id": "req-abc"})
    if family == "sdk":
        exc: BaseException = _sdk_error(resp)
    elif family == "keystoneauth":
        exc = _ks_error(resp)
    else:
        exc = requests.exceptions.HTTPError(response=resp)
    mapped = map_exception(exc, request="volume_create")
    assert type(mapped) is expected
    assert isinstance(mapped, errors.OpenStackError)
    assert mapped.status == status
    assert mapped.request == "volume_create"
    assert mapped.request_id == "req-abc"
    assert "req-abc" in str(mapped)
    assert "volume_create" in str(mapped)


def test_sdk_resource_not_found_and_conflict_subclasses() -> None:
    assert isinstance(_sdk_error(_response(404)), sdk_exc.ResourceNotFound)
    assert isinstance(map_exception(_sdk_error(_response(404))), errors.NotFound)
    assert isinstance(_sdk_error(_response(409)), sdk_exc.ConflictException)
    assert isinstance(map_exception(_sdk_error(_response(409))), errors.Conflict)


def test_request_id_from_compute_header() -> None:
    mapped = map_exception(_sdk_error(_response(500, headers={"x-compute-request-id": "req-n"})))
    assert isinstance(mapped, errors.OpenStackError)
    assert mapped.request_id == "req-n"


@pytest.mark.parametrize("family", ["sdk", "keystoneauth"])
def test_retry_after_seconds_and_http_date(family: str) -> None:
    make = _sdk_error if family == "sdk" else _ks_error
    by_seconds = map_exception(make(_response(429, headers={"Retry-After": "7"})), now=lambda: NOW)
    assert isinstance(by_seconds, errors.RateLimited)
    assert by_seconds.retry_after == 7.0
    date = "Thu, 01 Jan 2026 12:00:30 GMT"
    by_date = map_exception(make(_response(429, headers={"Retry-After": date})), now=lambda: NOW)
    assert isinstance(by_date, errors.RateLimited)
    assert by_date.retry_after == 30.0
    missing = map_exception(make(_response(429)), now=lambda: NOW)
    assert isinstance(missing, errors.RateLimited)
    assert missing.retry_after is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("Thu, 01 Jan 2026 11:59:00 GMT", 0.0),  # already past: do not wait
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=lambda: NOW) == expected


def test_remote_body_is_truncated_and_scrubbed() -> None:
    token = "gAAAAABk" + "x" * 120
    long_message = f"X-Auth-Token: {token} password=hunter2 " + "y" * 5000
    mapped = map_exception(_sdk_error(_response(400, {"badRequest": {"message": long_message}})))
    text = str(mapped)
    assert token not in text
    assert "hunter2" not in text
    assert "***" in text
    assert len(text) < BODY_LIMIT + 200
    assert "more chars" in text


def test_unreachable_port_is_service_unavailable_not_sent() -> None:
    sess = ks_session.Session()
    with pytest.raises(errors.ServiceUnavailable) as info, translate_errors("server_get"):
        sess.get("http://127.0.0.1:9/", timeout=2)
    assert info.value.not_sent is True
    assert not isinstance(info.value, errors.RequestTimeout)
    assert isinstance(info.value.__cause__, ks_exc.ConnectFailure)


def test_connect_timeout_is_request_timeout_not_sent() -> None:
    # keystoneauth raises ConnectTimeout from inside the ``except requests.Timeout``: the
    # requests exception is the context the mapper inspects.
    try:
        try:
            raise requests.exceptions.ConnectTimeout("connect timed out")
        except requests.exceptions.Timeout:
            raise ks_exc.ConnectTimeout("Request to x timed out") from None
    except ks_exc.ConnectTimeout as exc:
        # ``from None`` suppresses display, but __context__ is kept, like keystoneauth's raise.
        mapped = map_exception(exc)
    assert isinstance(mapped, errors.RequestTimeout)
    assert mapped.not_sent is True


def test_read_timeout_may_have_been_sent() -> None:
    mapped = map_exception(requests.exceptions.ReadTimeout("read timed out"))
    assert isinstance(mapped, errors.RequestTimeout)
    assert mapped.not_sent is False


def test_reset_connection_may_have_been_sent() -> None:
    reset = requests.exceptions.ConnectionError(
        ConnectionResetError(104, "Connection reset by peer")
    )
    assert request_not_sent(reset) is False
    mapped = map_exception(reset)
    assert type(mapped) is errors.ServiceUnavailable
    assert mapped.not_sent is False


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ks_exc.EndpointNotFound(), errors.EndpointNotFound),
        (ks_exc.EmptyCatalog("empty"), errors.EndpointNotFound),
        (sdk_exc.EndpointNotFound("no endpoint"), errors.EndpointNotFound),
        (ks_exc.VersionNotAvailable("v9"), errors.EndpointNotFound),
        (ks_exc.DiscoveryFailure("no version document"), errors.ServiceUnavailable),
        (ks_exc.MissingRequiredOptions([]), errors.CredentialsError),
        (ks_exc.AuthorizationFailure("denied"), errors.Unauthorized),
        (sdk_exc.ResourceTimeout("slow"), errors.WaitTimeout),
        (sdk_exc.ResourceFailure("went to ERROR"), errors.ResourceError),
        (sdk_exc.InvalidRequest("bad"), errors.BadRequest),
        (sdk_exc.SDKException("other"), errors.OpenStackError),
    ],
)
def test_non_http_library_errors(exc: BaseException, expected: type) -> None:
    assert type(map_exception(exc, request="x")) is expected


def test_discovery_failure_was_not_sent() -> None:
    mapped = map_exception(ks_exc.DiscoveryFailure("down"))
    assert isinstance(mapped, errors.ServiceUnavailable)
    assert mapped.not_sent is True


def test_unrelated_exceptions_pass_through_unchanged() -> None:
    assert map_exception(KeyError("k")) is None
    with pytest.raises(KeyError), translate_errors("volume_get"):
        raise KeyError("k")


def test_our_errors_pass_through_as_is() -> None:
    original = errors.NotFound("gone")
    with pytest.raises(errors.NotFound) as info, translate_errors():
        raise original
    assert info.value is original


def test_translate_errors_chains_the_library_exception() -> None:
    lib = _sdk_error(_response(404))
    with pytest.raises(errors.NotFound) as info, translate_errors("volume_get"):
        raise lib
    assert info.value.__cause__ is lib


def test_importing_the_call_layer_does_not_load_openstacksdk() -> None:
    # openstacksdk costs about a second of start-up; services that only use keystoneauth
    # (the Keystone webhook) must not pay for it through the error mapper.
    import subprocess
    import sys

    code = (
        "import sys, osk8s_core.openstack.client, osk8s_core.logging, osk8s_core.health; "
        "print('openstack' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"
