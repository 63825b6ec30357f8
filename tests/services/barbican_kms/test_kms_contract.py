"""The plugin binary against real Barbican from the local test cloud (``osk8s-testcloud up``).

Secrets are created with openstacksdk as the demo user (whom the plugin authenticates as);
the plugin runs as a subprocess on a tmp socket and is called with real gRPC clients for v1
and v2. Covers rotation, restart, CPO data, a wrong key size, Barbican made unreachable or
refusing (403 through the fault proxy, a real 404) while the cached key keeps serving, and
the HA story: rolling swap from CPO, switch to the envelope, storage migration, way back.
Skips when the test cloud is not up; it never starts or stops the test cloud.
"""

from __future__ import annotations

import base64
import os
import re
import socket
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from osk8s_barbican_kms.formats import ENVELOPE_KEY_ID_PREFIX
from osk8s_core.proto.kms.v1beta1 import api_pb2 as v1
from osk8s_core.proto.kms.v2 import api_pb2 as v2
from osk8s_testing.cloudgate import cloud_unavailable
from osk8s_testing.faultproxy import FaultProxy, Reset, error, start_fleet
from osk8s_testing.testcloud.layout import Layout, resolve_dir
from osk8s_testing.testcloud.outputs import DEMO_CLOUD

from .kms_apiserver import ApiServer, CpoPeer, GrpcPeer, Stored
from .kms_process import PluginProcess, rpc_code
from .test_kms_legacy import cpo_encrypt

pytestmark = pytest.mark.contract

KEYSTONE = "http://127.0.0.1:5000"
BARBICAN = "http://127.0.0.1:9311"


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def layout() -> Layout:
    found = Layout(resolve_dir(None, os.environ))
    if not found.clouds_yaml.exists() or not found.cloud_conf.exists():
        cloud_unavailable(
            f"OpenStack test cloud not set up: no {found.cloud_conf} (osk8s-testcloud up)"
        )
    if not (_answers(5000) and _answers(9311)):
        cloud_unavailable(
            "OpenStack test cloud not running: Keystone :5000 or Barbican :9311 is down"
        )
    return found


@pytest.fixture(scope="module")
def conn(layout: Layout) -> Iterator[Any]:
    import openstack
    from openstack.config.loader import OpenStackConfig

    config = OpenStackConfig(config_files=[str(layout.clouds_yaml)], load_envvars=False)
    connection = openstack.connection.Connection(config=config.get_one(cloud=DEMO_CLOUD))
    try:
        connection.authorize()
    except Exception as exc:  # the cloud is there but not healthy: say so, do not fail
        cloud_unavailable(f"OpenStack test cloud not usable: {type(exc).__name__}: {exc}")
    yield connection
    connection.close()


class Secrets:
    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.created: list[str] = []

    def create(self, payload: bytes) -> str:
        secret = self._conn.key_manager.create_secret(
            name=f"osk8s-kms-contract-{uuid.uuid4().hex[:8]}",
            payload=base64.b64encode(payload).decode(),
            payload_content_type="application/octet-stream",
            payload_content_encoding="base64",
            secret_type="symmetric",
            algorithm="aes",
            bit_length=len(payload) * 8,
        )
        secret_id = str(secret.id).rsplit("/", 1)[-1]  # the SDK returns the href
        self.created.append(secret_id)
        return secret_id

    def delete_all(self) -> None:
        for secret_id in self.created:
            self._conn.key_manager.delete_secret(secret_id, ignore_missing=True)


@pytest.fixture
def secrets(conn: Any) -> Iterator[Secrets]:
    made = Secrets(conn)
    yield made
    made.delete_all()


def global_section(layout: Layout, *, auth_url: str | None = None) -> str:
    text = layout.cloud_conf.read_text()
    match = re.search(r"^\[Global\]\n(?:(?!\[).*\n?)*", text, re.MULTILINE)
    assert match, "the test cloud's cloud.conf has no [Global]"
    section = match.group(0)
    if auth_url:
        section = re.sub(r"^auth-url\s*=.*$", f"auth-url = {auth_url}/v3", section, flags=re.M)
    return section.rstrip("\n") + "\n"


def write_conf(path: Path, glob: str, key_id: str, *old: str) -> Path:
    lines = [glob, "[KeyManager]", f"key-id = {key_id}", *(f"old-key-id = {k}" for k in old)]
    path.write_text("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path


def wait_for(predicate: Any, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def encrypt_v2(plugin: PluginProcess, data: bytes) -> v2.EncryptResponse:
    response: v2.EncryptResponse = plugin.v2.Encrypt(v2.EncryptRequest(plaintext=data), timeout=10)
    return response


def decrypt_v2(plugin: PluginProcess, ciphertext: bytes, key_id: str) -> bytes:
    request = v2.DecryptRequest(ciphertext=ciphertext, key_id=key_id)
    response: v2.DecryptResponse = plugin.v2.Decrypt(request, timeout=10)
    return response.plaintext


def test_v1_v2_rotation_restart_and_cpo_data(
    layout: Layout, secrets: Secrets, tmp_path: Path
) -> None:
    key_a, key_b = os.urandom(32), os.urandom(32)
    id_a, id_b = secrets.create(key_a), secrets.create(key_b)
    glob = global_section(layout)
    conf = write_conf(tmp_path / "cloud.conf", glob, id_a)
    plugin = PluginProcess(conf=conf, workdir=tmp_path)
    with plugin:
        status = plugin.status()
        assert (status.version, status.healthz, status.key_id) == ("v2", "ok", id_a)
        old = encrypt_v2(plugin, b"secret under A")
        assert old.key_id == id_a
        assert decrypt_v2(plugin, old.ciphertext, id_a) == b"secret under A"
        enc1 = plugin.v1.Encrypt(v1.EncryptRequest(version="v1beta1", plain=b"v1 data"), timeout=10)
        dec1 = plugin.v1.Decrypt(
            v1.DecryptRequest(version="v1beta1", cipher=enc1.cipher), timeout=10
        )
        assert dec1.plain == b"v1 data"
        cpo = cpo_encrypt(b"written by CPO", key_a)
        assert decrypt_v2(plugin, cpo, id_a) == b"written by CPO"

        # Rotate without restart: new key-id, A kept as old-key-id, SIGHUP.
        write_conf(conf, glob, id_b, id_a)
        plugin.hup()
        wait_for(lambda: plugin.status().key_id == id_b, what="key_id to change on SIGHUP")
        new = encrypt_v2(plugin, b"secret under B")
        assert new.key_id == id_b
        assert decrypt_v2(plugin, old.ciphertext, id_a) == b"secret under A"
        assert decrypt_v2(plugin, new.ciphertext, id_b) == b"secret under B"
        _, metrics = http_get(plugin.http_port, "/metrics")
        assert 'barbican_kms_key_refresh_total{result="ok"} 2.0' in metrics
    assert plugin.stop() == 0

    # Restart: everything written before still decrypts, v1 data included.
    with plugin:
        assert plugin.status().key_id == id_b
        assert decrypt_v2(plugin, old.ciphertext, id_a) == b"secret under A"
        assert decrypt_v2(plugin, new.ciphertext, id_b) == b"secret under B"
        assert decrypt_v2(plugin, cpo, id_a) == b"written by CPO"
        dec1 = plugin.v1.Decrypt(
            v1.DecryptRequest(version="v1beta1", cipher=enc1.cipher), timeout=10
        )
        assert dec1.plain == b"v1 data"
    assert "VERY" not in plugin.log()
    assert key_a.hex() not in plugin.log() and base64.b64encode(key_a).decode() not in plugin.log()


def test_wrong_key_size_is_a_clear_startup_error(
    layout: Layout, secrets: Secrets, tmp_path: Path
) -> None:
    bad = secrets.create(os.urandom(20))
    conf = write_conf(tmp_path / "cloud.conf", global_section(layout), bad)
    plugin = PluginProcess(conf=conf, workdir=tmp_path)
    with pytest.raises(RuntimeError, match="plugin exited 1") as info:
        plugin.start(timeout=60)
    assert "holds 20 bytes" in str(info.value) and "16, 24 or 32" in str(info.value)


def test_unknown_secret_is_a_clear_startup_error(layout: Layout, conn: Any, tmp_path: Path) -> None:
    missing = str(uuid.uuid4())
    conf = write_conf(tmp_path / "cloud.conf", global_section(layout), missing)
    plugin = PluginProcess(conf=conf, workdir=tmp_path)
    with pytest.raises(RuntimeError, match="plugin exited 1") as info:
        plugin.start(timeout=60)
    assert "404" in str(info.value)


def test_barbican_unreachable_keeps_serving_from_cache(
    layout: Layout, secrets: Secrets, tmp_path: Path
) -> None:
    key_id = secrets.create(os.urandom(32))
    fleet = start_fleet({"keystone": KEYSTONE, "barbican": BARBICAN})
    try:
        barbican: FaultProxy = fleet["barbican"]
        conf = write_conf(
            tmp_path / "cloud.conf", global_section(layout, auth_url=fleet["keystone"].url), key_id
        )
        plugin = PluginProcess(conf=conf, workdir=tmp_path)
        with plugin:
            assert barbican.calls.count("GET", r"/payload") == 1  # fetched once, via the proxy
            data = encrypt_v2(plugin, b"x" * 1024)
            for _ in range(20):
                assert decrypt_v2(plugin, data.ciphertext, key_id) == b"x" * 1024
            assert barbican.calls.count() == 1  # no Barbican call per request

            barbican.inject(Reset())  # Barbican now unreachable
            plugin.hup()
            wait_for(
                lambda: 'result="failed"' in http_get(plugin.http_port, "/metrics")[1],
                what="a failed refresh",
            )
            assert decrypt_v2(plugin, data.ciphertext, key_id) == b"x" * 1024
            assert encrypt_v2(plugin, b"still writable").key_id == key_id
            assert plugin.status().healthz == "ok"  # cached key: kube-apiserver keeps writing
            assert http_get(plugin.http_port, "/healthz")[0] == 200
            code, body = http_get(plugin.http_port, "/readyz?verbose")
            assert code == 500 and "[-]barbican failed" in body
    finally:
        for proxy in fleet.values():
            proxy.stop()


def test_decrypt_errors_from_the_real_binary(
    layout: Layout, secrets: Secrets, tmp_path: Path
) -> None:
    key_id = secrets.create(os.urandom(16))
    conf = write_conf(tmp_path / "cloud.conf", global_section(layout), key_id)
    with PluginProcess(conf=conf, workdir=tmp_path) as plugin:
        data = encrypt_v2(plugin, b"payload")
        with pytest.raises(grpc.RpcError) as info:
            decrypt_v2(plugin, data.ciphertext[:-3], key_id)
        assert rpc_code(info.value) == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as info:
            decrypt_v2(plugin, cpo_encrypt(b"p", os.urandom(16)), str(uuid.uuid4()))
        code = rpc_code(info.value)
        assert code == grpc.StatusCode.FAILED_PRECONDITION


def write_conf_fmt(path: Path, glob: str, key_id: str, fmt: str) -> Path:
    path.write_text(f"{glob}[KeyManager]\nkey-id = {key_id}\nwrite-format = {fmt}\n")
    os.chmod(path, 0o600)
    return path


class Etcd:
    """What the apiservers stored, and what each object must decrypt to."""

    def __init__(self) -> None:
        self.objects: dict[str, Stored] = {}
        self.data: dict[str, bytes] = {}

    def put(self, api: ApiServer, name: str) -> Stored:
        self.data[name] = f"secret {name}".encode()
        self.objects[name] = api.write(name, self.data[name])
        return self.objects[name]

    def readable_by(self, *apis: ApiServer) -> list[int]:
        """How many stored objects each apiserver's plugin can read (fresh DEK caches)."""
        return [
            sum(ApiServer(api.peer).can_read(o, self.data[o.name]) for o in self.objects.values())
            for api in apis
        ]

    def enveloped(self) -> int:
        return sum(o.wrapped_dek.startswith(b"OSK8S") for o in self.objects.values())


def switch(conf: Path, glob: str, key_id: str, fmt: str, plugin: PluginProcess) -> str:
    """Change write-format in one plugin's cloud.conf and SIGHUP it; returns its new key_id."""
    expected = (ENVELOPE_KEY_ID_PREFIX if fmt == "envelope" else "") + key_id
    write_conf_fmt(conf, glob, key_id, fmt)
    plugin.hup()
    wait_for(lambda: plugin.status().key_id == expected, what=f"key_id {expected}")
    return expected


def test_rolling_swap_format_switch_migration_and_way_back(
    layout: Layout, secrets: Secrets, tmp_path: Path
) -> None:
    """The HA story end to end: kube-apiservers A and B, each with its own plugin binary.

    CPO fleet -> rolling swap to osk8s (default aes-cbc) -> switch to the envelope (a mixed
    fleet mid-switch) -> storage migration -> the way back (switch to aes-cbc, migrate, and
    only then CPO's image). At each step: who can read what is stored.
    """
    payload = os.urandom(32)
    key_id = secrets.create(payload)
    glob = global_section(layout)
    conf_a = write_conf_fmt(tmp_path / "a.conf", glob, key_id, "aes-cbc")
    conf_b = write_conf(tmp_path / "b.conf", glob, key_id)  # write-format unset: the default
    plugin_a = PluginProcess(conf=conf_a, workdir=Path(tempfile.mkdtemp(dir=tmp_path)))
    plugin_b = PluginProcess(conf=conf_b, workdir=Path(tempfile.mkdtemp(dir=tmp_path)))
    cpo = ApiServer(CpoPeer(key_id, payload))
    etcd = Etcd()
    etcd.put(cpo, "written-by-cpo")
    with plugin_a, plugin_b:
        # 1. Rolling swap CPO -> osk8s: key ids agree, every peer reads everything.
        api_a, api_b = ApiServer(GrpcPeer(plugin_a)), ApiServer(GrpcPeer(plugin_b))
        etcd.put(api_a, "cbc-by-a")
        etcd.put(api_b, "cbc-by-b")
        assert api_a.key_id == api_b.key_id == cpo.key_id == key_id
        assert not any(api_a.is_stale(o) for o in etcd.objects.values())
        assert etcd.readable_by(cpo, api_a, api_b) == [3, 3, 3]  # rollback to CPO: safe

        # 2. Switch (step one of two), B first: a mixed fleet mid-rollout reads both ways.
        assert switch(conf_b, glob, key_id, "envelope", plugin_b) != key_id
        etcd.put(api_b, "envelope-by-b")  # B sees the new key_id and wraps a new DEK
        assert api_b.encrypt_calls == 2 and etcd.enveloped() == 1
        assert etcd.readable_by(api_a, api_b, cpo) == [4, 4, 3]  # CPO cannot read the envelope
        switch(conf_a, glob, key_id, "envelope", plugin_a)
        etcd.put(api_a, "envelope-by-a")
        stale = sorted(o.name for o in etcd.objects.values() if api_a.is_stale(o))
        assert stale == ["cbc-by-a", "cbc-by-b", "written-by-cpo"]

        # 3. Step two: the storage migration rewrites every object under the envelope.
        api_a.migrate(etcd.objects, etcd.data)
        assert etcd.enveloped() == 5 and not any(api_b.is_stale(o) for o in etcd.objects.values())
        assert etcd.readable_by(api_a, api_b, cpo) == [5, 5, 0]

        # 4. The way back: both to aes-cbc; enveloped data stays readable, by osk8s only...
        for conf, plugin in ((conf_a, plugin_a), (conf_b, plugin_b)):
            assert switch(conf, glob, key_id, "aes-cbc", plugin) == key_id
        assert etcd.readable_by(api_a, api_b, cpo) == [5, 5, 0]  # CPO's image: not yet
        api_b.migrate(etcd.objects, etcd.data)  # ... until a storage migration rewrote it all
        assert etcd.enveloped() == 0 and {o.key_id for o in etcd.objects.values()} == {key_id}
        assert etcd.readable_by(api_a, api_b, cpo) == [5, 5, 5]  # now CPO reads every Secret
    assert plugin_a.stop() == 0 and plugin_b.stop() == 0


def test_barbican_403_and_real_404_keep_the_cached_key(
    layout: Layout, secrets: Secrets, conn: Any, tmp_path: Path
) -> None:
    key_id = secrets.create(os.urandom(32))
    fleet = start_fleet({"keystone": KEYSTONE, "barbican": BARBICAN})
    try:
        barbican: FaultProxy = fleet["barbican"]
        glob = global_section(layout, auth_url=fleet["keystone"].url)
        conf = write_conf(tmp_path / "cloud.conf", glob, key_id)
        with PluginProcess(conf=conf, workdir=tmp_path) as plugin:
            data = encrypt_v2(plugin, b"kept")
            rule = barbican.inject(error(403), method="GET", path=r"/payload")
            plugin.hup()
            wait_for(
                lambda: 'result="rejected"' in http_get(plugin.http_port, "/metrics")[1],
                what="a refused refresh",
            )
            assert rule.fired >= 1
            assert decrypt_v2(plugin, data.ciphertext, key_id) == b"kept"
            barbican.reset()
            conn.key_manager.delete_secret(key_id)  # a real 404 from Barbican
            plugin.hup()
            wait_for(lambda: barbican.calls.count("GET", r"/payload") >= 1, what="a refetch")
            wait_for(lambda: "404" in http_get(plugin.http_port, "/readyz?verbose")[1])
            assert decrypt_v2(plugin, data.ciphertext, key_id) == b"kept"
            assert encrypt_v2(plugin, b"still writable").key_id == key_id
            assert plugin.status().healthz == "ok"
            code, body = http_get(plugin.http_port, "/readyz?verbose")
            assert code == 500 and f"{key_id} refused, cached key serving" in body
            assert "key_rejected_by_barbican_serving_cache" in plugin.log()
    finally:
        for proxy in fleet.values():
            proxy.stop()
