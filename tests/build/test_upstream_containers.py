"""Upstream's manifests and charts, unchanged, start our images (issue 11 §1).

Every provider-os container of CPO v1.36.0's deployment files (tests/build/upstream_containers.py)
runs inside our built image: the root filesystem `scripts/images.py validate` unpacked (reused,
so CI unpacks each image once), entered with chroot in new mount/pid namespaces on the host
network (the test cloud is on 127.0.0.1). The argv is what the kubelet would exec (command, or
the image's Entrypoint, then args, `$(VAR)` expanded), with the container's env and runAsUser.
Each volumeMount is a fresh directory bind-mounted at its path (hostPath /dev: the host's); the
files its args/env name get content: cloud.conf pointing at the test cloud, a TLS pair, the
octavia YAML config. A KUBECONFIG for the in-memory API server is added (the kubelet would mount
a service account; ours speaks plain HTTP on 127.0.0.1).

A container passes when it reaches its first real work, seen from outside: a CSI socket that
answers GetPluginInfo, a KMS socket that answers Status (a Barbican call behind it) and whose
exec probe (`ls $(KMS_ENDPOINT)`) succeeds inside the image, the keystone webhook answering
HTTPS. Never an argument error or a traceback. Services not written yet must stop with exactly
one line and exit status 3; UNWRITTEN lists them, and the test fails when that list is stale.

Needs root, the built images (`make images`) and the test cloud. Skips locally when one is
missing; fails instead when OSK8S_REQUIRE_TESTCLOUD=1 or OSK8S_REQUIRE_IMAGES=1 (make test).
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pytest
import yaml
from upstream_containers import UNWRITTEN, Container, upstream_containers

from osk8s_testing.csi.partner import serve_partner
from osk8s_testing.tls import self_signed_localhost

KEYSTONE = "http://127.0.0.1:5000/v3"
CONTAINERS = upstream_containers(KEYSTONE)
NOT_IMPLEMENTED_EXIT = 3
READY_TIMEOUT = 90.0  # seconds; several Python services start at once on 2 shared cores
WORKERS = 3
KUBECONFIG_DIR = "/var/run/osk8s-test"


def _required() -> bool:
    return any(
        os.environ.get(v) == "1" for v in ("OSK8S_REQUIRE_TESTCLOUD", "OSK8S_REQUIRE_IMAGES")
    )


def _unavailable(reason: str) -> None:
    if _required():
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass(frozen=True)
class Result:
    ready: str  # what showed the first real work ("" if none)
    exit_code: int | None  # None: still running when stopped
    output: str
    probes: list[tuple[list[str], int, str]]


@dataclass(frozen=True)
class Environment:
    rootfs: dict[str, Path]
    entrypoint: dict[str, list[str]]
    cloud_conf: str
    key_id: str
    kubeconfig: Path


# ---------------------------------------------------------------- fixtures


def _entrypoint(image: Any) -> list[str]:
    blobs = image.layout / "blobs" / "sha256"
    index = json.loads((image.layout / "index.json").read_text())
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_text())
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_text())
    return list(config["config"]["Entrypoint"])


@pytest.fixture(scope="module")
def barbican_key() -> Iterator[str]:
    from osk8s_testing.testcloud.layout import Layout, resolve_dir
    from osk8s_testing.testcloud.outputs import DEMO_CLOUD

    layout = Layout(resolve_dir(None, os.environ))
    if not layout.clouds_yaml.exists():
        _unavailable(f"OpenStack test cloud not set up: no {layout.clouds_yaml}")
    import openstack
    from openstack.config.loader import OpenStackConfig

    config = OpenStackConfig(config_files=[str(layout.clouds_yaml)], load_envvars=False)
    conn = openstack.connection.Connection(config=config.get_one(cloud=DEMO_CLOUD))
    secret = conn.key_manager.create_secret(
        name=f"osk8s-upstream-containers-{uuid.uuid4().hex[:8]}",
        payload=base64.b64encode(os.urandom(32)).decode(),
        payload_content_type="application/octet-stream",
        payload_content_encoding="base64",
        secret_type="symmetric",
        algorithm="aes",
        bit_length=256,
    )
    secret_id = str(secret.id).rsplit("/", 1)[-1]
    try:
        yield secret_id
    finally:
        conn.key_manager.delete_secret(secret_id, ignore_missing=True)
        conn.close()


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The in-memory API server, with the policy ConfigMap the keystone example names."""
    out = tmp_path_factory.mktemp("kubeapi") / "kubeconfig"
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "osk8s-kube-apiserver"),
            "--port",
            "0",
            "--kubeconfig-out",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert out.exists(), "osk8s-kube-apiserver wrote no kubeconfig"
        from kubernetes import client, config

        api = client.CoreV1Api(config.new_client_from_config(str(out)))  # type: ignore[no-untyped-call]
        policy = [{"resource": {"verbs": ["get"], "resources": ["pods"], "version": "*",
                                "namespace": "default"},
                   "match": [{"type": "project", "values": ["demo"]}]}]  # fmt: skip
        policy_map = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="k8s-auth-policy"),
            data={"policies": json.dumps(policy)},
        )
        api.create_namespaced_config_map("kube-system", policy_map)
        yield out
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def unpacked(
    load_script: Callable[[str], ModuleType],
) -> tuple[dict[str, Path], dict[str, list[str]]]:
    """Root filesystem and Entrypoint per service (checked first: nothing else starts without)."""
    if os.geteuid() != 0:
        _unavailable("needs root (unshare, mount, chroot)")
    images = load_script("scripts/images.py")
    rootfs, entrypoint = {}, {}
    for service in sorted({c.service for c in CONTAINERS}):
        image = images.Image(service)
        if not (image.out / "image.digest").exists():
            _unavailable(f"image of {service} not built (make images)")
        path, failed = images.unpack(image, f"{image.layout}:{image.tag()}")
        assert not failed, failed
        rootfs[service], entrypoint[service] = path, _entrypoint(image)
    return rootfs, entrypoint


@pytest.fixture(scope="module")
def environment(
    unpacked: tuple[dict[str, Path], dict[str, list[str]]], barbican_key: str, kube: Path
) -> Environment:
    from osk8s_testing.testcloud.layout import Layout, resolve_dir

    cloud_conf = Layout(resolve_dir(None, os.environ)).cloud_conf.read_text()
    return Environment(unpacked[0], unpacked[1], cloud_conf, barbican_key, kube)


# ---------------------------------------------------------------- one container


def _mount_sources(container: Container, work: Path) -> list[tuple[str, Path]]:
    """(path in the container, host directory) per volumeMount, plus the test's kubeconfig."""
    pairs = []
    for index, mount in enumerate(container.mounts):
        host_path = (mount.volume.get("hostPath") or {}).get("path", "")
        if host_path.rstrip("/") == "/dev":
            pairs.append((mount.path, Path("/dev")))
            continue
        source = work / f"vol{index}"
        source.mkdir(parents=True)
        pairs.append((mount.path, source))
    kube = work / "kube"
    kube.mkdir()
    pairs.append((KUBECONFIG_DIR, kube))
    return pairs


def host_path(pairs: list[tuple[str, Path]], path: str) -> Path | None:
    """Where a path inside the container is on the host (longest mount prefix), if mounted."""
    best: tuple[str, Path] | None = None
    for inside, source in pairs:
        prefix = inside.rstrip("/") + "/"
        if path.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, source)
    return best[1] / path[len(best[0]) :] if best else None


def _paths(container: Container, argv: list[str]) -> list[str]:
    words = [w for a in argv for w in shlex.split(a)] + list(container.env.values())
    values = [w.split("=", 1)[-1] for w in words]
    return [v for v in values if v.startswith("/")]


def _write_files(
    container: Container, argv: list[str], pairs: list[tuple[str, Path]], env: Environment
) -> None:
    cloud_conf = env.cloud_conf
    if container.service == "barbican_kms":
        cloud_conf += f"\n[KeyManager]\nkey-id = {env.key_id}\n"
    for path in _paths(container, argv):
        target = host_path(pairs, path)
        if target is None or target.exists() or str(target).startswith("/dev"):
            continue
        name = target.name
        if name in ("cloud.conf", "cloud-config"):
            target.write_text(cloud_conf)
        elif name in ("tls.crt", "tls.key"):
            files = self_signed_localhost(target.parent)
            Path(files.cert).rename(target.parent / "tls.crt")
            Path(files.key).rename(target.parent / "tls.key")
        elif name.endswith(".yaml"):  # octavia-ingress-controller's --config
            target.write_text(yaml.safe_dump(_octavia_config(cloud_conf)))
    (host_path(pairs, f"{KUBECONFIG_DIR}/kubeconfig") or Path()).write_text(
        env.kubeconfig.read_text()
    )


def _octavia_config(cloud_conf: str) -> dict[str, Any]:
    """The test cloud's cloud.conf as the ingress controller's YAML (its ``openstack:`` keys
    are CPO's mapstructure names: project-* where the INI says tenant-*)."""
    import configparser

    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(cloud_conf)
    auth = {k.replace("tenant-", "project-"): v for k, v in ini["Global"].items()}
    return {
        "cluster-name": "osk8s-test",
        "openstack": auth,
        "octavia": {"subnet-id": ini["LoadBalancer"]["subnet-id"]},
        "kubernetes": {"kubeconfig": f"{KUBECONFIG_DIR}/kubeconfig"},
    }


def _lease_held(kubeconfig: Path | None, name: str) -> bool:
    """Whether a holder took the Lease kube-system/<name> (leader election ran)."""
    if kubeconfig is None or not kubeconfig.exists():
        return False
    from kubernetes import client, config

    api = client.ApiClient(config.new_client_from_config(str(kubeconfig)).configuration)
    try:
        lease = client.CoordinationV1Api(api).read_namespaced_lease(name, "kube-system")
        return bool(lease.spec and lease.spec.holder_identity)
    except client.exceptions.ApiException:
        return False
    finally:
        api.close()


def _launch(rootfs: Path, pairs: list[tuple[str, Path]], user: int, argv: list[str],
            environ: dict[str, str]) -> subprocess.Popen[str]:  # fmt: skip
    """argv chrooted into rootfs with the mounts, in fresh mount/pid namespaces (host network)."""
    lines = [
        "set -e",
        f"mount -t tmpfs tmpfs {shlex.quote(str(rootfs / 'dev'))}",
        *(
            f"touch {shlex.quote(str(rootfs / 'dev' / d))} && "
            f"mount --bind /dev/{d} {shlex.quote(str(rootfs / 'dev' / d))}"
            for d in ("null", "zero", "random", "urandom")
        ),
    ]
    for inside, source in pairs:
        target = shlex.quote(str(rootfs / inside.strip("/")))
        lines.append(f"mkdir -p {target} && mount --bind {shlex.quote(str(source))} {target}")
    env_words = " ".join(shlex.quote(f"{k}={v}") for k, v in environ.items())
    command = " ".join(shlex.quote(a) for a in argv)
    lines.append(
        f"exec env -i {env_words} chroot --userspec {user}:0 {shlex.quote(str(rootfs))} {command}"
    )
    unshare = ["unshare", "--mount", "--propagation", "private", "--pid", "--fork",
               "--kill-child", f"--mount-proc={rootfs / 'proc'}"]  # fmt: skip
    return subprocess.Popen(
        [*unshare, "sh", "-c", "\n".join(lines)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _socket(endpoint: str) -> str:
    """unix://csi/csi.sock -> /csi/csi.sock (upstream prepends / to a relative unix path)."""
    if endpoint.startswith("unix://"):
        return "/" + endpoint[len("unix://") :].lstrip("/")
    return endpoint


def _flag(argv: list[str], name: str) -> str:
    for word in (w for a in argv for w in shlex.split(a)):
        if word.startswith(f"--{name}="):
            return word.split("=", 1)[1]
    raise AssertionError(f"no --{name} in {argv}")


def _grpc_answers(path: Path | None, method: str, want: bytes) -> bool:
    if path is None or not path.exists():
        return False
    with grpc.insecure_channel(f"unix://{path}") as channel:
        try:
            call: Any = channel.unary_unary(method)  # raw bytes in and out: no stubs needed
            reply: bytes = call(b"", timeout=10)
        except grpc.RpcError:
            return False
    return want in reply


def _https_answers(port: int) -> bool:
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
              "spec": {"token": "not-a-token"}}  # fmt: skip
    request = urllib.request.Request(
        f"https://127.0.0.1:{port}/webhook",
        data=json.dumps(review).encode(),
        headers={"Content-Type": "application/json"},
    )
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the test's own cert
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as reply:
            return b"TokenReview" in reply.read()
    except urllib.error.HTTPError as denied:  # an answer: the token was checked with Keystone
        return denied.code in (401, 403)
    except (OSError, ssl.SSLError):
        return False


def _ready_check(
    container: Container, argv: list[str], pairs: list[tuple[str, Path]]
) -> Callable[[], str]:
    """A function returning what shows the first real work, or "" while not yet."""
    if container.service == "cinder_csi":
        sock = host_path(pairs, _socket(_flag(argv, "endpoint")))
        assert sock is not None
        method = "/csi.v1.Identity/GetPluginInfo"
        return lambda: "CSI GetPluginInfo answered" if _grpc_answers(
            sock, method, b"cinder.csi.openstack.org") else ""  # fmt: skip
    if container.service == "barbican_kms":
        sock = host_path(pairs, _flag(argv, "socketpath"))
        assert sock is not None
        method = "/v2.KeyManagementService/Status"
        return lambda: "KMS v2 Status answered" if _grpc_answers(sock, method, b"ok") else ""
    if container.service == "keystone_auth":
        return lambda: "webhook answered a TokenReview over TLS" if _https_answers(8443) else ""
    # Services not written yet: what their first work will look like once they land (the
    # test then fails until UNWRITTEN is updated, and these checks are what it waits for).
    if container.service == "manila_csi":
        sock = host_path(pairs, _socket(_flag(argv, "endpoint")))
        driver = _flag(argv, "drivername").encode()
        method = "/csi.v1.Identity/GetPluginInfo"

        def check() -> str:
            return "CSI GetPluginInfo answered" if _grpc_answers(sock, method, driver) else ""

        return _with_partner(check, host_path(pairs, _socket(_flag(argv, "fwdendpoint"))))
    if container.service == "ccm":  # the secure serving port, as upstream (--secure-port)
        return lambda: "healthz answered on :10258" if _http_answers("https", 10258) else ""
    if container.service == "capo":  # controller-runtime's health probe address
        return lambda: "healthz answered on :9440" if _http_answers("http", 9440) else ""
    if container.service == "octavia_ingress":  # leader election, then the informers
        kubeconfig = host_path(pairs, f"{KUBECONFIG_DIR}/kubeconfig")
        return lambda: "took the Lease kube-system/octavia-ingress-controller" if _lease_held(
            kubeconfig, "octavia-ingress-controller") else ""  # fmt: skip
    return lambda: ""


def _with_partner(check: Callable[[], str], socket: Path | None) -> Callable[[], str]:
    """Manila forwards node calls to a partner plugin (csi-driver-nfs in upstream's docs) and
    waits for it at start, as upstream: serve a CSI node stand-in on the mounted socket for as
    long as the ready check lives."""
    assert socket is not None, "the partner socket folder is not mounted"
    socket.parent.mkdir(parents=True, exist_ok=True)
    stack = ExitStack()
    stack.enter_context(serve_partner(socket))

    def ready() -> str:
        return check()

    weakref.finalize(ready, stack.close)
    return ready


def _http_answers(scheme: str, port: int) -> bool:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    url = f"{scheme}://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as reply:
            return bool(reply.status)
    except urllib.error.HTTPError:  # 401/403 from an authenticated endpoint is an answer
        return True
    except (OSError, ssl.SSLError):
        return False


def _runtime_home(rootfs: Path, uid: int) -> str:
    """HOME as runc sets it: the uid's home in the image's /etc/passwd, else "/" (CPO's
    manifests run OCCM as 1001, which has no entry)."""
    passwd = rootfs / "etc" / "passwd"
    lines = passwd.read_text().splitlines() if passwd.exists() else []
    for fields in (line.split(":") for line in lines):
        if len(fields) >= 6 and fields[2] == str(uid):
            return fields[5] or "/"
    return "/"


def run_container(container: Container, env: Environment, work: Path) -> Result:
    rootfs = env.rootfs[container.service]
    argv = container.argv(env.entrypoint[container.service])
    pairs = _mount_sources(container, work)
    _write_files(container, argv, pairs, env)
    user = 0 if container.user is None else container.user
    image_env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOSTNAME": "node-1",
        "HOME": _runtime_home(rootfs, user),
    }
    environ = {**image_env, **container.env, "KUBECONFIG": f"{KUBECONFIG_DIR}/kubeconfig"}
    ready = _ready_check(container, argv, pairs)
    process = _launch(rootfs, pairs, user, argv, environ)
    seen, probes = "", []
    deadline = time.monotonic() + READY_TIMEOUT
    try:
        while time.monotonic() < deadline and process.poll() is None:
            seen = ready()
            if seen:
                break
            time.sleep(0.5)
        if seen:
            for probe in container.probes:  # exec probes run in the image, same mounts
                ran = _launch(rootfs, pairs, user, probe, environ)
                out, _ = ran.communicate(timeout=30)
                probes.append((probe, ran.returncode, out))
    finally:
        still_running = process.poll() is None
        if still_running:
            os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate(timeout=30)
    return Result(seen, None if still_running else process.returncode, output, probes)


@pytest.fixture(scope="module")
def results(
    environment: Environment, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Result]:
    """Every container run once: services in parallel (WORKERS at a time), the containers of
    one service one after another (they listen on the same host ports, as upstream's would)."""

    def run_service(service: str) -> dict[str, Result]:
        return {
            c.id: run_container(c, environment, tmp_path_factory.mktemp("container"))
            for c in CONTAINERS
            if c.service == service
        }

    start = time.monotonic()
    services = sorted({c.service for c in CONTAINERS}, key=lambda s: s != "cinder_csi")
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        done = {k: v for part in pool.map(run_service, services) for k, v in part.items()}
    print(f"{len(done)} upstream containers run in {time.monotonic() - start:.0f} s")
    return done


# ---------------------------------------------------------------- tests


def test_every_service_has_upstream_containers() -> None:
    services = {c.service for c in CONTAINERS}
    assert services == {"cinder_csi", "manila_csi", "ccm", "barbican_kms", "keystone_auth",
                        "octavia_ingress", "capo"}  # fmt: skip
    assert len(CONTAINERS) == 15, [c.id for c in CONTAINERS]


@pytest.mark.parametrize("container", [c for c in CONTAINERS if c.service not in UNWRITTEN],
                         ids=lambda c: c.id)  # fmt: skip
def test_upstream_container_reaches_first_work(
    container: Container, results: dict[str, Result]
) -> None:
    result = results[container.id]
    assert result.ready, (
        f"{container.id} did not reach its first work (exit {result.exit_code}):\n"
        f"{result.output[-3000:]}"
    )
    assert "Traceback" not in result.output, result.output[-3000:]
    assert "usage:" not in result.output.lower(), result.output[-3000:]
    for probe, code, out in result.probes:
        assert code == 0, f"exec probe {probe} failed ({code}): {out}"
    assert len(result.probes) == len(container.probes)


def test_unwritten_list_is_current(results: dict[str, Result]) -> None:
    """UNWRITTEN is exactly the services whose containers still refuse to run."""
    refusing = {
        c.service
        for c in CONTAINERS
        if results[c.id].exit_code == NOT_IMPLEMENTED_EXIT
        and "not implemented" in results[c.id].output
    }
    assert refusing == UNWRITTEN
