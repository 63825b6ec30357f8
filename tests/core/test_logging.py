"""logging.py / redaction.py: rendering, context, stdlib routing, and no secret ever printed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from keystoneauth1 import session as ks_session
from prometheus_client import CollectorRegistry

from osk8s_core.health import HealthServer
from osk8s_core.logging import (
    bind_component,
    configure_logging,
    get_logger,
    level_for_verbosity,
    unit_of_work,
)
from osk8s_core.redaction import is_secret_key, redact, scrub_text
from osk8s_core.secrets import SecretStr

PASSWORD = "hunter2-Pa55word"
APP_SECRET = "appcred-s3cr3t-value"
FERNET = "gAAAAABn" + "Q1w2E3r4T5y6U7i8O9p0" * 5
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyMTIzIn0.c2lnbmF0dXJlLXBhcnQtaGVyZQ"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow" + "A" * 60 + "\n-----END RSA PRIVATE KEY-----"
SECRETS = (PASSWORD, APP_SECRET, FERNET, JWT, "MIIEowAAAA")


@pytest.fixture
def buf() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name in ("keystoneauth", "keystoneauth1", "urllib3", "openstack"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    logging.captureWarnings(False)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def _assert_no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"secret leaked: {secret[:8]}..."


def test_json_lines_carry_level_time_logger_and_fields(buf: io.StringIO) -> None:
    configure_logging(fmt="json", verbosity=2, stream=buf)
    get_logger("osk8s.test").info("volume created", volume_id="v1", size=10)
    (line,) = _lines(buf)
    assert line["event"] == "volume created"
    assert line["level"] == "info"
    assert line["logger"] == "osk8s.test"
    assert line["volume_id"] == "v1"
    assert line["size"] == 10
    assert line["timestamp"].endswith("Z")


def test_verbosity_maps_like_klog(buf: io.StringIO) -> None:
    assert level_for_verbosity(0) == logging.INFO
    assert level_for_verbosity(2) == logging.INFO
    assert level_for_verbosity(4) == logging.DEBUG
    configure_logging(verbosity=2, stream=buf)
    log = get_logger()
    log.debug("hidden")
    log.info("shown")
    configure_logging(verbosity=4, stream=buf)
    log.debug("now shown")
    assert [line["event"] for line in _lines(buf)] == ["shown", "now shown"]


def test_configuring_twice_does_not_duplicate_lines(buf: io.StringIO) -> None:
    configure_logging(stream=buf)
    configure_logging(stream=buf)
    get_logger().warning("once")
    assert len(_lines(buf)) == 1


def test_context_bound_per_unit_of_work(buf: io.StringIO) -> None:
    configure_logging(stream=buf)
    bind_component("cinder-csi")
    log = get_logger()
    with unit_of_work(rpc="CreateVolume", volume_id="v1") as rid:
        log.info("inside")
        with unit_of_work(request_id="req-inner", volume_id="v2"):
            log.info("nested")
        log.info("back")
    log.info("outside")
    inside, nested, back, outside = _lines(buf)
    assert inside["component"] == "cinder-csi"
    assert inside["request_id"] == rid and rid.startswith("req-")
    assert (inside["rpc"], inside["volume_id"]) == ("CreateVolume", "v1")
    assert (nested["request_id"], nested["volume_id"]) == ("req-inner", "v2")
    assert (back["request_id"], back["volume_id"]) == (rid, "v1")
    assert "volume_id" not in outside and "request_id" not in outside
    assert outside["component"] == "cinder-csi"


def test_secret_fields_and_values_are_redacted(buf: io.StringIO) -> None:
    configure_logging(stream=buf, verbosity=4)
    get_logger().info(
        f"auth with X-Auth-Token: {FERNET} and Authorization: Bearer {JWT}",
        password=PASSWORD,
        application_credential_secret=APP_SECRET,
        headers={"X-Auth-Token": FERNET, "Accept": "application/json"},
        config={"auth": {"username": "demo", "password": SecretStr(PASSWORD)}},
        nested=[("x", SecretStr(APP_SECRET))],
        body=f'{{"auth": {{"passwordCredentials": {{"password": "{PASSWORD}"}}}}}}',
        query=f"name=x&token={FERNET}",
        pem=PEM,
        key="kube-system/my-service",  # a work-queue key is not a secret
        application_credential_id="ac-id-1",
    )
    text = buf.getvalue()
    _assert_no_secrets(text)
    (line,) = _lines(buf)
    assert line["password"] == "***"
    assert line["headers"] == {"X-Auth-Token": "***", "Accept": "application/json"}
    assert line["config"]["auth"] == {"username": "demo", "password": "***"}
    assert line["nested"] == [["x", "***"]]
    assert line["key"] == "kube-system/my-service"
    assert line["application_credential_id"] == "ac-id-1"
    assert "X-Auth-Token: ***" in line["event"]


def test_exception_tracebacks_are_scrubbed(buf: io.StringIO) -> None:
    configure_logging(stream=buf)
    try:
        raise RuntimeError(f"keystone said no to password={PASSWORD} X-Subject-Token: {FERNET}")
    except RuntimeError:
        get_logger().exception("auth failed")
    text = buf.getvalue()
    _assert_no_secrets(text)
    assert "RuntimeError" in _lines(buf)[0]["exception"]


def test_stdlib_library_logs_go_through_the_same_pipeline(buf: io.StringIO) -> None:
    configure_logging(stream=buf, verbosity=6)
    bind_component("ccm")
    ks_log = logging.getLogger("keystoneauth.session")
    ks_log.debug(
        "REQ: curl -g -i -X POST http://127.0.0.1/v3/auth/tokens -H 'X-Auth-Token: %s' -d '%s'",
        FERNET,
        f'{{"auth": {{"identity": {{"password": {{"user": {{"password": "{PASSWORD}"}}}}}}}}}}',
    )
    (line,) = _lines(buf)
    _assert_no_secrets(buf.getvalue())
    assert line["logger"] == "keystoneauth.session"
    assert line["level"] == "debug"
    assert line["component"] == "ccm"
    assert "curl" in line["event"]


def test_library_debug_suppressed_below_v6(buf: io.StringIO) -> None:
    configure_logging(stream=buf, verbosity=4)
    logging.getLogger("urllib3.connectionpool").debug("Starting new HTTP connection")
    logging.getLogger("keystoneauth.session").warning("something odd")
    get_logger().debug("ours at v4")
    assert [line["event"] for line in _lines(buf)] == ["something odd", "ours at v4"]


def test_real_keystoneauth_request_logging_leaks_no_token(buf: io.StringIO) -> None:
    configure_logging(stream=buf, verbosity=10)
    with HealthServer(registry=CollectorRegistry(), poll_interval=0.02) as server:
        host, port = server.address
        sess = ks_session.Session()
        resp = sess.get(
            f"http://{host}:{port}/healthz",
            headers={"X-Auth-Token": FERNET, "X-Service-Token": JWT},
            timeout=5,
        )
    assert resp.status_code == 200
    text = buf.getvalue()
    assert "keystoneauth" in text  # the library did log the request
    _assert_no_secrets(text)


def test_console_format_is_redacted_too(buf: io.StringIO) -> None:
    configure_logging(fmt="console", stream=buf)
    get_logger().info("login", password=PASSWORD, user="demo")
    text = buf.getvalue()
    assert "login" in text and "user=demo" in text
    _assert_no_secrets(text)


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("password", True),
        ("os_password", True),
        ("application_credential_secret", True),
        ("X-Auth-Token", True),
        ("x_subject_token", True),
        ("Authorization", True),
        ("private_key", True),
        ("key_material", True),
        ("trustee_password", True),
        ("key", False),
        ("username", False),
        ("application_credential_id", False),
        ("token_expires_at", False),
        ("ca_file", False),
    ],
)
def test_secret_key_names(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_scrub_text_patterns() -> None:
    assert scrub_text(f"X-Auth-Token: {FERNET}") == "X-Auth-Token: ***"
    assert scrub_text(f"{{'X-Auth-Token': '{FERNET}'}}") == "{'X-Auth-Token': '***'}"
    assert scrub_text(f"Authorization: Bearer {JWT}") == "Authorization: ***"
    assert scrub_text(f'"password": "{PASSWORD}"') == '"password": "***"'
    assert scrub_text(f'{{"m": "{{\\"password\\": \\"{PASSWORD}\\"}}"}}') == (
        '{"m": "{\\"password\\": \\"***\\"}"}'
    )
    assert scrub_text(f"user=demo&password={PASSWORD}") == "user=demo&password=***"
    assert scrub_text(f"token {FERNET} expired") == "token *** expired"
    assert scrub_text(PEM) == "***"
    assert scrub_text("nothing secret here: volume v1 is available") == (
        "nothing secret here: volume v1 is available"
    )


def test_redact_walks_containers_without_mutating_them() -> None:
    original = {"a": [{"password": PASSWORD}], "b": (SecretStr(APP_SECRET),), "c": None}
    assert redact(original) == {"a": [{"password": "***"}], "b": ("***",), "c": None}
    assert original["a"] == [{"password": PASSWORD}]
