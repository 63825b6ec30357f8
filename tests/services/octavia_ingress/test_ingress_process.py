"""The ``octavia-ingress-controller`` binary end to end: its YAML config (the test cloud's
credentials in the ``openstack:`` keys), the in-memory API server as its cluster. It takes the
Lease, gives an Ingress its address, a second replica waits, and SIGTERM ends it with 0.
"""

from __future__ import annotations

import configparser
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from openstack.connection import Connection

from osk8s_octavia_ingress import naming
from osk8s_testing.testcloud.layout import Layout, resolve_dir

from .conftest import Kube, delete_lbs

pytestmark = pytest.mark.contract


def _until(check: Callable[[], Any], what: str, wait: float = 120.0) -> Any:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {wait} s")


@pytest.fixture
def config_file(tmp_path: Path, kube: Kube, cluster: str) -> Path:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(Layout(resolve_dir(None, os.environ)).cloud_conf.read_text())
    kubeconfig = tmp_path / "kubeconfig"
    kube.server.write_kubeconfig(kubeconfig)
    auth = {k.replace("tenant-", "project-"): v for k, v in ini["Global"].items()}
    password = auth.pop("password")
    document = {
        "cluster-name": cluster,
        "openstack": {**auth, "password": "overridden-by-the-environment"},
        "octavia": {"subnet-id": ini["LoadBalancer"]["subnet-id"]},
        "kubernetes": {"kubeconfig": str(kubeconfig)},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(document))
    (tmp_path / "password").write_text(password)
    return path


def _start(config: Path) -> subprocess.Popen[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(config.parent),
        # viper AutomaticEnv: the dotted key in upper case overrides the file's value.
        "OPENSTACK.PASSWORD": (config.parent / "password").read_text(),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "osk8s_octavia_ingress", f"--config={config}", "--debug"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def controller(config_file: Path) -> Iterator[subprocess.Popen[str]]:
    process = _start(config_file)
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_binary_serves_an_ingress_and_stops_on_sigterm(
    controller: subprocess.Popen[str],
    config_file: Path,
    kube: Kube,
    cluster: str,
    ingress_conn: Connection,
) -> None:
    kube.node("proc-node", "10.21.0.11")
    kube.service("proc-web", [{"port": 80, "nodePort": 30280}])
    body = {
        "metadata": {"name": "proc", "annotations": {"kubernetes.io/ingress.class": "openstack"}},
        "spec": {
            "defaultBackend": {"service": {"name": "proc-web", "port": {"number": 80}}},
        },
    }
    kube.net.create_namespaced_ingress("default", body)
    lb_api: Any = ingress_conn.load_balancer
    resource = naming.resource_name(cluster, "default", "proc")
    try:
        lease = _until(
            lambda: _lease(kube),
            "the Lease kube-system/octavia-ingress-controller",
            wait=60,
        )
        assert lease.spec.holder_identity
        ingress = _until(
            lambda: _addressed(kube, "proc"), "status.loadBalancer of the Ingress", wait=240
        )
        lb = next(iter(lb_api.load_balancers(name=resource)))
        assert ingress.status.load_balancer.ingress[0].ip == lb.vip_address
        # A second replica does not touch the LB while the first holds the Lease.
        second = _start(config_file)
        lines = second.stdout
        assert lines is not None
        _until(lambda: "Using config file" in lines.readline(), "second replica up")
        time.sleep(2)
        assert second.poll() is None
        assert len(list(lb_api.load_balancers(name=resource))) == 1
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
        kube.net.delete_namespaced_ingress("proc", "default")
        _until(lambda: not list(lb_api.load_balancers(name=resource)), "LB deleted", wait=180)
        controller.send_signal(signal.SIGTERM)
        assert controller.wait(timeout=30) == 0
    finally:
        delete_lbs(ingress_conn, resource)
    if controller.stdout is not None:
        output = controller.stdout.read()
        assert "Using config file" in output
        assert "overridden-by-the-environment" not in output


def _lease(kube: Kube) -> Any:
    from kubernetes.client import CoordinationV1Api
    from kubernetes.client.exceptions import ApiException

    try:
        return CoordinationV1Api(kube.client).read_namespaced_lease(
            "octavia-ingress-controller", "kube-system"
        )
    except ApiException:
        return None


def _addressed(kube: Kube, name: str) -> Any:
    ingress = kube.net.read_namespaced_ingress(name, "default")
    status = ingress.status.load_balancer if ingress.status else None
    return ingress if status is not None and status.ingress else None
