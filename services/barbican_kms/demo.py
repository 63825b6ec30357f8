"""Demo: the KMS plugin against real Barbican from the local test cloud (a script).

Creates two AES keys in Barbican as the demo user, starts ``barbican-kms-plugin`` on a tmp
socket and, over real gRPC: Status; v2 Encrypt/Decrypt of a DEK; v1 Encrypt/Decrypt of a
Secret-sized payload; a CPO-format ciphertext; rotation plus a switch to the envelope by
SIGHUP with old data still readable; a tampered envelope refused. Cleans up (plugin,
secrets) whatever happens.

    .venv/bin/python services/barbican_kms/demo.py
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from osk8s_core.proto.kms.v1beta1 import api_pb2 as v1
from osk8s_core.proto.kms.v1beta1 import api_pb2_grpc as v1_grpc
from osk8s_core.proto.kms.v2 import api_pb2 as v2
from osk8s_core.proto.kms.v2 import api_pb2_grpc as v2_grpc

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent / "barbican-kms-plugin"


def say(text: str) -> None:
    print(f"    {text}", flush=True)


def create_key(conn: Any, payload: bytes) -> str:
    secret = conn.key_manager.create_secret(
        name="osk8s-kms-demo",
        payload=base64.b64encode(payload).decode(),
        payload_content_type="application/octet-stream",
        payload_content_encoding="base64",
        secret_type="symmetric",
        algorithm="aes",
        bit_length=len(payload) * 8,
    )
    return str(secret.id).rsplit("/", 1)[-1]


def write_conf(path: Path, glob: str, key_id: str, *old: str, fmt: str = "aes-cbc") -> None:
    lines = [glob, "[KeyManager]", f"key-id = {key_id}", *(f"old-key-id = {k}" for k in old)]
    lines.append(f"write-format = {fmt}")
    path.write_text("\n".join(lines) + "\n")
    os.chmod(path, 0o600)


def cpo_encrypt(data: bytes, key: bytes) -> bytes:
    """Exactly what CPO's aescbc.Encrypt produces: IV + AES-CBC(PKCS#7-padded data)."""
    pad = 16 - len(data) % 16
    iv = os.urandom(16)
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return iv + enc.update(data + bytes([pad]) * pad) + enc.finalize()


def cpo_decrypt(data: bytes, key: bytes) -> bytes:
    """What CPO's aescbc.Decrypt returns: CBC-decrypt after the IV, cut the padding."""
    dec = Cipher(algorithms.AES(key), modes.CBC(data[:16])).decryptor()
    plain = dec.update(data[16:]) + dec.finalize()
    return plain[: len(plain) - plain[-1]]


def wait_status(stub: Any, predicate: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = stub.Status(v2.StatusRequest(), timeout=1)
            if predicate(status):
                return status
        except grpc.RpcError:
            pass
        time.sleep(0.05)
    raise SystemExit("the plugin did not reach the expected status")


def exercise(
    kms1: Any, kms2: Any, *, proc: Any, conf: Path, rotate: tuple[str, str, str], key_a: bytes
) -> None:
    """The RPCs kube-apiserver makes, then a rotation and a tampered ciphertext."""
    glob, id_a, id_b = rotate
    dek = os.urandom(32)
    enc = kms2.Encrypt(v2.EncryptRequest(plaintext=dek, uid="demo-1"))
    say(f"v2 Encrypt of a 32-byte DEK (write-format aes-cbc, the default) -> "
        f"{len(enc.ciphertext)} bytes, key_id={enc.key_id}")  # fmt: skip
    back = kms2.Decrypt(v2.DecryptRequest(ciphertext=enc.ciphertext, key_id=enc.key_id))
    say(f"v2 Decrypt -> the same DEK: {back.plaintext == dek}; CPO's plugin would read it "
        f"too: {cpo_decrypt(enc.ciphertext, key_a) == dek}")  # fmt: skip

    secret = json.dumps({"kind": "Secret", "data": {"blob": base64.b64encode(
        os.urandom(48 * 1024)).decode()}}).encode()  # fmt: skip
    enc1 = kms1.Encrypt(v1.EncryptRequest(version="v1beta1", plain=secret))
    dec1 = kms1.Decrypt(v1.DecryptRequest(version="v1beta1", cipher=enc1.cipher))
    say(f"v1 Encrypt/Decrypt of a {len(secret) // 1024} KiB Secret -> round trip "
        f"{dec1.plain == secret}")  # fmt: skip

    legacy = cpo_encrypt(b"a Secret written by CPO's plugin", key_a)
    dec = kms2.Decrypt(v2.DecryptRequest(ciphertext=legacy, key_id=id_a))
    say(f"CPO AES-CBC ciphertext decrypts: {dec.plaintext!r}")

    write_conf(conf, glob, id_b, id_a, fmt="envelope")
    proc.send_signal(signal.SIGHUP)
    status = wait_status(kms2, lambda s: s.key_id.endswith(id_b))
    say(f"rotated to B and switched to the envelope (cloud.conf + SIGHUP): "
        f"key_id={status.key_id}")  # fmt: skip
    old = kms2.Decrypt(v2.DecryptRequest(ciphertext=enc.ciphertext, key_id=id_a))
    new = kms2.Encrypt(v2.EncryptRequest(plaintext=dek))
    say(f"data under A still decrypts: {old.plaintext == dek}; new data: "
        f"{new.ciphertext[:6]!r} v{new.ciphertext[6]}, {len(new.ciphertext)} bytes")  # fmt: skip

    tampered = new.ciphertext[:-1] + bytes([new.ciphertext[-1] ^ 1])
    try:
        kms2.Decrypt(v2.DecryptRequest(ciphertext=tampered, key_id=new.key_id))
        raise SystemExit("a tampered ciphertext was accepted")
    except grpc.RpcError as err:
        say(f"tampered ciphertext -> {err.code().name}: {err.details()}")


def run(conn: Any, tmp: Path, created: list[str]) -> None:
    text = (REPO / ".testcloud" / "cloud.conf").read_text()
    match = re.search(r"^\[Global\]\n(?:(?!\[).*\n?)*", text, re.M)
    if match is None:
        raise SystemExit("the test cloud's cloud.conf has no [Global]")
    key_a, key_b = os.urandom(32), os.urandom(32)
    id_a = create_key(conn, key_a)
    created.append(id_a)
    id_b = create_key(conn, key_b)
    created.append(id_b)
    say(f"Barbican secrets: A={id_a}, B={id_b} (32 random bytes each, never printed)")
    conf = tmp / "cloud.conf"
    write_conf(conf, match.group(0), id_a)
    sock = tmp / "kms.sock"
    log = (tmp / "plugin.log").open("wb")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(BIN), f"--socketpath={sock}", f"--cloud-config={conf}"], stdout=log, stderr=log
    )
    try:
        while not sock.exists():
            if proc.poll() is not None:
                raise SystemExit(f"plugin exited {proc.returncode}; see {tmp / 'plugin.log'}")
            time.sleep(0.02)
        channel = grpc.insecure_channel(f"unix://{sock}")
        kms2 = v2_grpc.KeyManagementServiceStub(channel)  # type: ignore[no-untyped-call]
        kms1 = v1_grpc.KeyManagementServiceStub(channel)  # type: ignore[no-untyped-call]
        status = wait_status(kms2, lambda s: s.healthz == "ok")
        say(f"ready in {time.perf_counter() - start:.2f} s: Status {status.version} "
            f"healthz={status.healthz} key_id={status.key_id}")  # fmt: skip

        rotate = (match.group(0), id_a, id_b)
        exercise(kms1, kms2, proc=proc, conf=conf, rotate=rotate, key_a=key_a)
        channel.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        say(f"stopped with exit code {proc.wait(20)}")
        log.close()


def main() -> int:
    import openstack  # noqa: PLC0415 - only the demo needs the SDK (to create secrets)
    from openstack.config.loader import OpenStackConfig  # noqa: PLC0415

    config = OpenStackConfig(
        config_files=[str(REPO / ".testcloud" / "clouds.yaml")], load_envvars=False
    )
    conn = openstack.connection.Connection(config=config.get_one(cloud="osk8s-demo"))
    created: list[str] = []
    print("== barbican-kms-plugin against the test cloud's Barbican", flush=True)
    try:
        run(conn, Path(tempfile.mkdtemp(prefix="kms-demo-")), created)
    finally:
        for secret_id in created:
            conn.key_manager.delete_secret(secret_id, ignore_missing=True)
        print(f"    deleted {len(created)} Barbican secrets", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
