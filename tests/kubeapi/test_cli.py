"""The standalone ``osk8s-kube-apiserver`` command: serves, writes a kubeconfig, stops on TERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from kubernetes import client, config


def test_standalone_command(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "osk8s_testing.kubeapi",
            "--port",
            "0",
            "--kubeconfig-out",
            str(kubeconfig),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not kubeconfig.exists() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
        api_client = config.new_client_from_config(config_file=str(kubeconfig))
        server = api_client.configuration.host
        assert server.startswith("http://127.0.0.1:")
        core = client.CoreV1Api(api_client)
        core.create_namespaced_config_map("default", {"metadata": {"name": "demo"}})
        assert [c.metadata.name for c in core.list_namespaced_config_map("default").items] == [
            "demo"
        ]
        api_client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
