"""Bad input against the real server (cheroot + the app over TLS): a 400 with a message, or a 413
for a body over the cap, and never a 500 or a traceback in the log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from osk8s_keystone_auth.app import MAX_BODY_BYTES
from osk8s_keystone_auth.reviews import MAX_DEPTH
from osk8s_testing.tls import TlsFiles

from .conftest import FakeKeystone, FakeUser
from .test_keystone_webhook import alice, options, start, token_review, url

__all__ = ["alice", "start"]  # fixtures shared with the webhook suite


@pytest.fixture
def hook(start: Any, tls_files: TlsFiles, fake_keystone: FakeKeystone) -> Any:
    return start(options(tls_files, fake_keystone))


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert "Traceback" not in caplog.text


def nested(depth: int) -> str:
    """A TokenReview whose metadata holds ``depth`` nested lists."""
    return (
        '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview",'
        '"spec":{"token":"tok-alice"},"metadata":{"labels":' + "[" * depth + "]" * depth + "}}"
    )


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 2000, 200_000])
def test_keystone_deeply_nested_json_is_400(
    hook: Any, tls_files: TlsFiles, logged: pytest.LogCaptureFixture, depth: int
) -> None:
    response = requests.post(url(hook), data=nested(depth), verify=tls_files.cert, timeout=30)
    assert response.status_code == 400
    assert response.text == f"request body is nested deeper than {MAX_DEPTH} levels\n"


def test_keystone_nesting_within_the_limit_is_answered(
    hook: Any, tls_files: TlsFiles, alice: FakeUser, logged: pytest.LogCaptureFixture
) -> None:
    # Brackets inside strings do not count; the real nesting here is MAX_DEPTH.
    body = nested(MAX_DEPTH - 3).replace('"tok-alice"', '"tok-alice"', 1)
    body = body.replace('"labels":', '"x":"[[[[[[[[{{{{{{{{","labels":', 1)
    response = requests.post(url(hook), data=body, verify=tls_files.cert, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["status"]["authenticated"] is True


def test_keystone_body_over_the_cap_is_413(
    hook: Any, tls_files: TlsFiles, logged: pytest.LogCaptureFixture
) -> None:
    review = token_review("x" * (MAX_BODY_BYTES + 1))
    response = requests.post(url(hook), json=review, verify=tls_files.cert, timeout=30)
    assert response.status_code == 413
    assert response.text == f"request body is larger than {MAX_BODY_BYTES} bytes\n"


def test_keystone_chunked_body_over_the_cap_is_413(
    hook: Any, tls_files: TlsFiles, logged: pytest.LogCaptureFixture
) -> None:
    """No Content-Length: the limit holds while the body streams in."""

    def chunks() -> Iterator[bytes]:
        yield b'{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536
        yield b'"}}'

    response = requests.post(url(hook), data=chunks(), verify=tls_files.cert, timeout=30)
    assert response.status_code == 413


def test_keystone_body_at_the_cap_is_read(
    hook: Any, tls_files: TlsFiles, logged: pytest.LogCaptureFixture
) -> None:
    review = '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{}}'
    body = review.ljust(MAX_BODY_BYTES)  # JSON allows trailing whitespace
    response = requests.post(url(hook), data=body, verify=tls_files.cert, timeout=30)
    assert response.status_code == 400
    assert response.text == "spec.token must be a non-empty string\n"


def test_keystone_chunked_review_within_the_cap_is_answered(
    hook: Any, tls_files: TlsFiles, alice: FakeUser, logged: pytest.LogCaptureFixture
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview",'
        yield b'"spec":{"token":"tok-alice"}}'

    response = requests.post(url(hook), data=chunks(), verify=tls_files.cert, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["status"]["user"]["username"] == "alice"
