"""k8s-keystone-auth flags and env defaults (CPO's NewConfig/ValidateFlags), and start-up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from osk8s_core.errors import ConfigError
from osk8s_keystone_auth.options import ServerOptions, build_server_parser
from osk8s_keystone_auth.server import split_listen

from .conftest import TlsFiles

ENV = {
    "TLS_CERT_FILE": "/tls/crt",
    "TLS_PRIVATE_KEY_FILE": "/tls/key",
    "OS_AUTH_URL": "https://keystone:5000/v3",
    "KEYSTONE_CA_FILE": "/ca.pem",
    "KEYSTONE_POLICY_FILE": "/policy.json",
    "KEYSTONE_POLICY_CONFIGMAP_NAME": "k8s-auth-policy",
    "KEYSTONE_SYNC_CONFIG_FILE": "/sync.yaml",
    "KEYSTONE_SYNC_CONFIGMAP_NAME": "keystone-sync-policy",
    "KEYSTONE_KUBECONFIG_FILE": "/kubeconfig",
}


def parse(argv: list[str], env: dict[str, str]) -> ServerOptions:
    return ServerOptions.from_args(build_server_parser().parse_args(argv), env)


def test_keystone_env_defaults_match_cpo() -> None:
    options = parse([], ENV)
    assert options.listen == "0.0.0.0:8443"
    assert (options.tls_cert_file, options.tls_private_key_file) == ("/tls/crt", "/tls/key")
    assert options.keystone_url == "https://keystone:5000/v3"
    assert options.keystone_ca_file == "/ca.pem"
    assert options.keystone_policy_file == "/policy.json"
    assert options.policy_configmap_name == "k8s-auth-policy"
    assert options.sync_config_file == "/sync.yaml"
    assert options.sync_configmap_name == "keystone-sync-policy"
    assert options.kubeconfig == "/kubeconfig"
    assert options.needs_kubernetes


def test_keystone_flags_beat_env_in_both_spellings() -> None:
    options = parse(
        [
            "--listen=127.0.0.1:9443",
            "--keystone-url",
            "https://other/v3",
            "--user-agent",
            "a",
            "--user-agent=b",
            "-v",
            "5",
        ],
        ENV,
    )
    assert options.listen == "127.0.0.1:9443"
    assert options.keystone_url == "https://other/v3"
    assert options.user_agent == ("a", "b")
    assert options.verbosity == 5


@pytest.mark.parametrize(
    ("drop", "fragment"),
    [
        ("OS_AUTH_URL", "--keystone-url"),
        ("TLS_CERT_FILE", "--tls-cert-file"),
        ("TLS_PRIVATE_KEY_FILE", "--tls-cert-file"),
    ],
)
def test_keystone_required_flags(drop: str, fragment: str) -> None:
    env = {k: v for k, v in ENV.items() if k != drop}
    with pytest.raises(ConfigError, match=fragment):
        parse([], env)


def test_keystone_listen_parsing() -> None:
    assert split_listen("0.0.0.0:8443") == ("0.0.0.0", 8443)
    assert split_listen(":8443") == ("0.0.0.0", 8443)
    assert split_listen("[::1]:8443") == ("::1", 8443)
    with pytest.raises(ValueError, match="<address>:<port>"):
        split_listen("8443")


def test_keystone_main_exits_1_on_bad_config(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "TLS_", "KEYSTONE_"))}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "k8s-keystone-auth"), "--log-format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 1
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["event"] == "cannot start" and "--keystone-url" in line["error"]


def test_keystone_webhook_does_not_import_grpc() -> None:
    probe = (
        "import sys, osk8s_keystone_auth.service, osk8s_keystone_auth.kube_rbac\n"
        "print('grpc' in {m.split('.')[0] for m in sys.modules})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


def test_keystone_webhook_builds_without_the_heavy_libraries(tls_files: TlsFiles) -> None:
    """Start-up within 1.5 s: the Kubernetes client, keystoneauth/requests and openstacksdk are
    imported where used (ConfigMaps; the first Keystone call, warmed up after listening)."""
    probe = (
        "import sys\n"
        "from osk8s_core.logging import get_logger\n"
        "from osk8s_keystone_auth.options import ServerOptions, build_server_parser\n"
        "from osk8s_keystone_auth.service import build\n"
        "ns = build_server_parser().parse_args(sys.argv[1:])\n"
        "build(ServerOptions.from_args(ns, {}), logger=get_logger('t'), environ={})\n"
        "heavy = {'kubernetes', 'keystoneauth1', 'requests', 'openstack', 'urllib3', 'yaml'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            probe,
            "--listen=127.0.0.1:0",
            f"--tls-cert-file={tls_files.cert}",
            f"--tls-private-key-file={tls_files.key}",
            "--keystone-url=http://127.0.0.1:9",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr


def test_keystone_binary_serves_and_stops_on_sigterm(tls_files: TlsFiles) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "TLS_", "KEYSTONE_"))}
    argv = [
        str(Path(sys.executable).parent / "k8s-keystone-auth"),
        "--listen=127.0.0.1:0",
        f"--tls-cert-file={tls_files.cert}",
        f"--tls-private-key-file={tls_files.key}",
        "--keystone-url=http://127.0.0.1:9/v3",
    ]
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        address = ""
        for line in proc.stderr:
            event = json.loads(line)
            if event["event"] == "webhook serving":
                address = event["address"]
                break
        assert address.startswith("127.0.0.1:")
        health = requests.get(f"https://{address}/healthz", verify=tls_files.cert, timeout=10)
        assert health.text == "ok\n"
        review = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": "t"},
        }
        denied = requests.post(
            f"https://{address}/webhook", json=review, verify=tls_files.cert, timeout=30
        )
        assert denied.status_code == 401  # Keystone unreachable: never allow
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
