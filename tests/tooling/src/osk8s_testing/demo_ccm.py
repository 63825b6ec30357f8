"""The ccm demo scenario: the real ``openstack-cloud-controller-manager`` process against the
test cloud's Nova and an in-memory Kubernetes API server.

Two servers are booted and two Nodes named after them are registered as a kubelet started
with ``--cloud-provider=external`` registers them (tainted uninitialised). The process sets
their providerID, addresses and zone/instance-type labels and removes the taint. Then one
server is stopped and its Node goes NotReady (as when its kubelet stops posting): the node
lifecycle controller gives it the shutdown taint. Servers and the API server are removed at
the end. Test tooling: never imported by the core or a service.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osk8s_testing.testcloud.boot import boot_flavor_id, boot_image_id
from osk8s_testing.testcloud.layout import Layout, resolve_dir

if TYPE_CHECKING:
    from osk8s_testing.demo import Demo

BINARY = "openstack-cloud-controller-manager"
UNINITIALIZED = "node.cloudprovider.kubernetes.io/uninitialized"
SHUTDOWN = "node.cloudprovider.kubernetes.io/shutdown"


def _until(check: Callable[[], Any], what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout:.0f} s")
        time.sleep(0.5)


def _node(core: Any, name: str) -> Any:
    from kubernetes import client as k8s

    taint = k8s.V1Taint(key=UNINITIALIZED, value="true", effect="NoSchedule")
    body = k8s.V1Node(metadata=k8s.V1ObjectMeta(name=name), spec=k8s.V1NodeSpec(taints=[taint]))
    core.create_node(body)
    _ready(core, name, "True")


def _ready(core: Any, name: str, status: str) -> None:
    condition = {"type": "Ready", "status": status, "reason": "Demo"}
    core.patch_node_status(name, {"status": {"conditions": [condition]}})


def _taints(core: Any, name: str) -> list[str]:
    spec = core.read_node(name).spec
    return [t.key for t in (spec.taints if spec else None) or []]


def _start(workdir: Path, kubeconfig: str) -> subprocess.Popen[bytes]:
    cloud_conf = Layout(resolve_dir(None, os.environ)).cloud_conf
    argv = [
        str(Path(sys.executable).parent / BINARY),
        "--cloud-provider=openstack",
        f"--cloud-config={cloud_conf}",
        f"--kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        "--secure-port=0",
        "--controllers=cloud-node,cloud-node-lifecycle",
        "--node-monitor-period=2s",
        "--leader-elect-lease-duration=4s",
        "--leader-elect-renew-deadline=3s",
        "--leader-elect-retry-period=1s",
        "--v=2",
    ]
    log = (workdir / "ccm.log").open("wb")
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def _show_initialised(demo: Demo, core: Any, name: str, server_id: str) -> None:
    def initialised() -> Any:
        node = core.read_node(name)
        done = node.spec.provider_id and UNINITIALIZED not in _taints(core, name)
        return node if done else None

    node = _until(initialised, f"{name} initialised", 90)
    labels = node.metadata.labels or {}
    addresses = [f"{a.type}={a.address}" for a in node.status.addresses or []]
    demo.say(
        f"{name}: providerID {node.spec.provider_id}, "
        f"zone {labels.get('topology.kubernetes.io/zone')}, "
        f"type {labels.get('node.kubernetes.io/instance-type')}, {' '.join(addresses)}"
    )
    if node.spec.provider_id != f"openstack:///{server_id}":
        raise AssertionError(f"{name}: wrong providerID {node.spec.provider_id}")


def scenario_ccm(demo: Demo) -> None:
    from kubernetes import client as k8s

    from osk8s_testing.kubeapi import KubeApiServer

    conn: Any = demo.client.connection
    compute = conn.compute
    flavor_id, image_id = boot_flavor_id(conn), boot_image_id(conn)
    names = [f"osk8s-demo-{demo.run_id}-node-{i}" for i in (1, 2)]
    servers: list[Any] = []
    server = KubeApiServer().start()
    proc: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryDirectory(prefix="osk8s-demo-ccm-") as tmp:
        try:
            for name in names:
                servers.append(
                    compute.create_server(
                        name=name,
                        flavor_id=flavor_id,
                        image_id=image_id,
                        networks=[{"uuid": demo.config.load_balancer.network_id}],
                    )
                )
            for booted in servers:
                compute.wait_for_server(booted, status="ACTIVE", failures=["ERROR"], wait=300)
            demo.say(f"booted servers {', '.join(names)} (ACTIVE)")
            core = k8s.CoreV1Api(server.api_client())
            for name in names:
                _node(core, name)
            demo.say(
                f"registered Nodes tainted {UNINITIALIZED} (kubelet --cloud-provider=external)"
            )
            kubeconfig = server.write_kubeconfig(Path(tmp) / "kubeconfig")
            proc = _start(Path(tmp), str(kubeconfig))
            started = time.monotonic()
            for name, booted in zip(names, servers, strict=True):
                _show_initialised(demo, core, name, booted.id)
            demo.say(f"both nodes initialised {time.monotonic() - started:.1f} s after start")
            compute.stop_server(servers[1])
            compute.wait_for_server(servers[1], status="SHUTOFF", failures=["ERROR"], wait=120)
            _ready(core, names[1], "Unknown")  # its kubelet stopped posting
            demo.say(f"stopped {names[1]} (SHUTOFF), its Node NotReady")
            _until(lambda: SHUTDOWN in _taints(core, names[1]), "shutdown taint", 60)
            demo.say(f"{names[1]} tainted {SHUTDOWN}; {names[0]} untouched")
            if SHUTDOWN in _taints(core, names[0]):
                raise AssertionError(f"{names[0]} is running but tainted")
        except Exception:
            log = Path(tmp) / "ccm.log"
            if log.exists():
                for line in log.read_text(errors="replace").splitlines()[-10:]:
                    demo.say(f"! {line}")
            raise
        finally:
            if proc is not None:
                demo.say(f"stopped the process (exit status {_stop(proc)})")
            for booted in servers:
                with contextlib.suppress(Exception):
                    compute.delete_server(booted, ignore_missing=True)
            for booted in servers:
                with contextlib.suppress(Exception):
                    compute.wait_for_delete(booted, wait=120)
            server.stop()
    demo.say("servers deleted")
