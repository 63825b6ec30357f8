"""The ``octavia-ingress-controller`` binary end to end: its YAML config (the test cloud's
credentials in the ``openstack:`` keys), the in-memory API server as its cluster. Two replicas
start together: one takes the Lease and gives an Ingress its address, the other sees that
leader and waits without touching the LB; SIGTERM ends each with 0.
"""

from __future__ import annotations

import configparser
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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


@dataclass
class Replica:
    """One controller process; a thread collects its output lines as they come."""

    name: str
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def said(self, *texts: str) -> bool:
        """Some line holds all of ``texts``."""
        return any(all(t in line for t in texts) for line in list(self.lines))


def _start(config: Path, name: str) -> Replica:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(config.parent),
        # The Lease holder identity (a Pod's name, as the chart sets it).
        "POD_NAME": name,
        # viper AutomaticEnv: the dotted key in upper case overrides the file's value.
        "OPENSTACK.PASSWORD": (config.parent / "password").read_text(),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "osk8s_octavia_ingress", f"--config={config}", "--debug"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return Replica(name, process)


@pytest.fixture
def replicas(config_file: Path, cluster: str) -> Iterator[dict[str, Replica]]:
    """Two replicas started at once (their start-up overlaps): one leads, one waits."""
    started = {name: _start(config_file, name) for name in (f"{cluster}-a", f"{cluster}-b")}
    yield started
    for replica in started.values():
        if replica.process.poll() is None:
            replica.process.kill()
            replica.process.wait()


def test_binary_serves_an_ingress_and_stops_on_sigterm(
    replicas: dict[str, Replica],
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
        leader = replicas[lease.spec.holder_identity]
        (follower,) = [r for r in replicas.values() if r is not leader]
        ingress = _until(
            lambda: _addressed(kube, "proc"), "status.loadBalancer of the Ingress", wait=240
        )
        lb = next(iter(lb_api.load_balancers(name=resource)))
        assert ingress.status.load_balancer.ingress[0].ip == lb.vip_address
        # The other replica saw the Lease held, waits, and has not touched the LB.
        _until(
            lambda: follower.said("new leader observed", leader.name),
            "the follower sees the leader",
        )
        assert follower.process.poll() is None
        assert not follower.said("started leading")
        assert len(list(lb_api.load_balancers(name=resource))) == 1
        follower.process.send_signal(signal.SIGTERM)
        assert follower.process.wait(timeout=30) == 0
        kube.net.delete_namespaced_ingress("proc", "default")
        _until(lambda: not list(lb_api.load_balancers(name=resource)), "LB deleted", wait=180)
        leader.process.send_signal(signal.SIGTERM)
        assert leader.process.wait(timeout=30) == 0
    finally:
        delete_lbs(ingress_conn, resource)
    for replica in replicas.values():
        assert replica.said("Using config file")
        assert not replica.said("overridden-by-the-environment")
    assert leader.said("started leading")


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
