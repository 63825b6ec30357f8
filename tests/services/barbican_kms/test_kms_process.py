"""The real binary end to end, with Keystone and Barbican faked at the HTTP wire.

Fast enough for every CI run (the same scenarios against real Barbican are in
``test_kms_contract.py``): start-up, zero Barbican calls per request, SIGHUP rotation,
Barbican unreachable or answering 403/404 behind the fault proxy (the cached key keeps
serving), start-up errors, graceful stop.
"""

from __future__ import annotations

import os
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from osk8s_core.proto.kms.v1beta1 import api_pb2 as v1
from osk8s_core.proto.kms.v2 import api_pb2 as v2
from osk8s_testing.faultproxy import FaultProxy, Reset, error

from .kms_fake_cloud import FakeCloud, running_fake_cloud
from .kms_fakes import KEY_A, KEY_B
from .kms_process import PluginProcess, free_port, rpc_code
from .test_kms_legacy import cpo_encrypt


@pytest.fixture
def cloud() -> Iterator[FakeCloud]:
    with running_fake_cloud() as fake:
        fake.payloads[KEY_A] = os.urandom(32)
        fake.payloads[KEY_B] = os.urandom(24)
        yield fake


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def wait_until(predicate: object, timeout: float = 20) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_serves_v1_and_v2_with_one_barbican_call(cloud: FakeCloud, tmp_path: Path) -> None:
    conf = tmp_path / "cloud.conf"
    conf.write_text(cloud.cloud_conf(KEY_A))
    with PluginProcess(conf=conf, workdir=tmp_path) as plugin:
        assert cloud.payload_requests == 1
        enc = plugin.v2.Encrypt(v2.EncryptRequest(plaintext=b"p" * 1024), timeout=30)
        for _ in range(50):
            req = v2.DecryptRequest(ciphertext=enc.ciphertext, key_id=KEY_A)
            assert plugin.v2.Decrypt(req, timeout=30).plaintext == b"p" * 1024
        old = plugin.v1.Encrypt(v1.EncryptRequest(version="v1beta1", plain=b"v1"), timeout=30)
        cpo = cpo_encrypt(b"from CPO", cloud.payloads[KEY_A])
        assert plugin.v2.Decrypt(v2.DecryptRequest(ciphertext=cpo, key_id=KEY_A)).plaintext == (
            b"from CPO"
        )
        assert cloud.payload_requests == 1  # no Barbican call per request
        code, metrics = http_get(plugin.http_port, "/metrics")
        assert code == 200
        assert 'openstack_api_requests_total{request="secret_payload_get"} 1.0' in metrics
        assert "grpc_server_handled_total" in metrics

        # Rotation without restart: edit cloud.conf, SIGHUP.
        conf.write_text(cloud.cloud_conf(KEY_B, KEY_A))
        plugin.hup()
        wait_until(lambda: plugin.status().key_id == KEY_B)
        dec = plugin.v1.Decrypt(v1.DecryptRequest(version="v1beta1", cipher=old.cipher))
        assert dec.plain == b"v1"
        assert plugin.v2.Encrypt(v2.EncryptRequest(plaintext=b"n"), timeout=30).key_id == KEY_B
    assert plugin.stop() == 0
    assert not plugin.socket.exists()


def test_barbican_unreachable_keeps_serving_from_cache(cloud: FakeCloud, tmp_path: Path) -> None:
    with FaultProxy(cloud.url) as proxy:
        cloud.catalog_base = proxy.url  # Barbican reached through the proxy
        conf = tmp_path / "cloud.conf"
        conf.write_text(cloud.cloud_conf(KEY_A))
        with PluginProcess(conf=conf, workdir=tmp_path) as plugin:
            enc = plugin.v2.Encrypt(v2.EncryptRequest(plaintext=b"keep"), timeout=30)
            proxy.inject(Reset())
            plugin.hup()
            wait_until(lambda: 'result="failed"' in http_get(plugin.http_port, "/metrics")[1])
            req = v2.DecryptRequest(ciphertext=enc.ciphertext, key_id=KEY_A)
            assert plugin.v2.Decrypt(req, timeout=30).plaintext == b"keep"
            status = plugin.status()
            assert (status.healthz, status.key_id) == ("ok", KEY_A)
            assert http_get(plugin.http_port, "/healthz")[0] == 200
            code, body = http_get(plugin.http_port, "/readyz?verbose")
            assert code == 500 and "[-]barbican failed" in body and "[+]key ok" in body
            proxy.reset()  # Barbican back
            plugin.hup()
            wait_until(lambda: http_get(plugin.http_port, "/readyz")[0] == 200)


def test_keystone_down_at_start_serves_not_ok_until_it_answers(tmp_path: Path) -> None:
    port = free_port()
    conf = tmp_path / "cloud.conf"
    conf.write_text(FakeCloud().cloud_conf(KEY_A, auth_url=f"http://127.0.0.1:{port}/identity/v3"))
    plugin = PluginProcess(conf=conf, workdir=tmp_path)
    try:
        plugin.start(healthy=False)
        status = plugin.status()
        assert status.healthz != "ok" and KEY_A in status.healthz
        with pytest.raises(grpc.RpcError) as info:
            plugin.v2.Encrypt(v2.EncryptRequest(plaintext=b"x"), timeout=30)
        assert rpc_code(info.value) == grpc.StatusCode.UNAVAILABLE
        with running_fake_cloud(port) as cloud:  # Keystone and Barbican come up
            cloud.payloads[KEY_A] = os.urandom(32)
            wait_until(lambda: plugin.status().healthz == "ok", timeout=30)
            assert plugin.v2.Encrypt(v2.EncryptRequest(plaintext=b"x"), timeout=30).key_id == KEY_A
    finally:
        assert plugin.stop() == 0


@pytest.mark.parametrize(
    ("payload", "message"),
    [(os.urandom(20), "holds 20 bytes"), (None, "404")],
    ids=["wrong-size", "missing"],
)
def test_bad_key_is_a_clear_startup_error(
    cloud: FakeCloud, tmp_path: Path, payload: bytes | None, message: str
) -> None:
    if payload is not None:
        cloud.payloads["bad"] = payload
    conf = tmp_path / "cloud.conf"
    conf.write_text(cloud.cloud_conf("bad"))
    plugin = PluginProcess(conf=conf, workdir=tmp_path)
    with pytest.raises(RuntimeError, match="plugin exited 1") as info:
        plugin.start(timeout=30)
    assert message in str(info.value)
    assert not plugin.socket.exists()


def test_http_endpoint_in_use_is_a_clear_startup_error(cloud: FakeCloud, tmp_path: Path) -> None:
    conf = tmp_path / "cloud.conf"
    conf.write_text(cloud.cloud_conf(KEY_A))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        plugin = PluginProcess(
            conf=conf, workdir=tmp_path, extra=(f"--http-endpoint=127.0.0.1:{port}",)
        )
        with pytest.raises(RuntimeError, match="plugin exited 1") as info:
            plugin.start(timeout=30)
    assert "cannot listen on 127.0.0.1" in str(info.value)
    assert not plugin.socket.exists()


@pytest.mark.parametrize("status", [403, 404])
def test_barbican_refusal_on_refresh_keeps_the_cached_key(
    cloud: FakeCloud, tmp_path: Path, fault_proxy: Any, status: int
) -> None:
    proxy: FaultProxy = fault_proxy(cloud.url)
    cloud.catalog_base = proxy.url  # Barbican reached through the proxy
    conf = tmp_path / "cloud.conf"
    conf.write_text(cloud.cloud_conf(KEY_A))
    with PluginProcess(conf=conf, workdir=tmp_path) as plugin:
        enc = plugin.v2.Encrypt(v2.EncryptRequest(plaintext=b"keep"), timeout=30)
        proxy.inject(error(status), method="GET", path=rf"/secrets/{KEY_A}/payload")
        plugin.hup()
        wait_until(lambda: 'result="rejected"' in http_get(plugin.http_port, "/metrics")[1])
        # Still serving both ways, Status ok: kube-apiserver keeps reading and writing.
        req = v2.DecryptRequest(ciphertext=enc.ciphertext, key_id=KEY_A)
        assert plugin.v2.Decrypt(req, timeout=30).plaintext == b"keep"
        assert plugin.v2.Encrypt(v2.EncryptRequest(plaintext=b"n"), timeout=30).key_id == KEY_A
        assert plugin.status().healthz == "ok"
        # ... and reported: /readyz, metrics, log.
        code, body = http_get(plugin.http_port, "/readyz?verbose")
        assert code == 500 and f"[-]barbican failed: {KEY_A} refused, cached key serving" in body
        assert str(status) in body
        metrics = http_get(plugin.http_port, "/metrics")[1]
        assert "barbican_kms_keys_rejected 1.0" in metrics
        assert "barbican_kms_current_key_loaded 1.0" in metrics
        assert "key_rejected_by_barbican_serving_cache" in plugin.log()
        # Only a key-id change in the config replaces the key.
        conf.write_text(cloud.cloud_conf(KEY_B))
        plugin.hup()
        wait_until(lambda: plugin.status().key_id == KEY_B)
        assert http_get(plugin.http_port, "/readyz")[0] == 200
        assert "barbican_kms_keys_rejected 0.0" in http_get(plugin.http_port, "/metrics")[1]
        with pytest.raises(grpc.RpcError) as info:
            plugin.v2.Decrypt(req, timeout=30)  # KEY_A no longer configured: a clear error
        assert rpc_code(info.value) == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(
    "case", ["secret-403", "keystone-401", "no-key-manager-endpoint", "bad-write-format"]
)
def test_definite_startup_failures_exit_1(
    cloud: FakeCloud, tmp_path: Path, fault_proxy: Any, case: str
) -> None:
    proxy: FaultProxy = fault_proxy(cloud.url)
    cloud.catalog_base = proxy.url
    # (404 and a wrong size: test_bad_key_is_a_clear_startup_error.)
    extra = ""
    if case == "secret-403":
        proxy.inject(error(403), method="GET", path=r"/payload")
    elif case == "keystone-401":
        proxy.inject(error(401), method="POST", path=r"/auth/tokens")
    elif case == "bad-write-format":
        extra = "write-format = gcm\n"
    conf = tmp_path / "cloud.conf"
    text = cloud.cloud_conf(KEY_A, auth_url=f"{proxy.url}/identity/v3") + extra
    if case == "no-key-manager-endpoint":  # the catalog has Barbican in RegionOne only
        text = text.replace("region = RegionOne", "region = RegionTwo")
    conf.write_text(text)
    plugin = PluginProcess(conf=conf, workdir=tmp_path)
    with pytest.raises(RuntimeError, match="plugin exited 1") as info:
        plugin.start(timeout=60)
    assert not plugin.socket.exists()  # never served
    expected = {
        "secret-403": "403",
        "keystone-401": "401",
        "no-key-manager-endpoint": "endpoint for key-manager service",
        "bad-write-format": "write-format",
    }[case]
    assert expected in str(info.value)
