"""The ccm LoadBalancer demo scenario: the real ``openstack-cloud-controller-manager`` process
(``--controllers=service``) against the test cloud's Octavia and Neutron and an in-memory
Kubernetes API server.

Two Nodes with addresses in the demo subnet are registered; a Service of type LoadBalancer
gets a real Octavia load balancer (ACTIVE, VIP on a Neutron port), a floating IP and its
``status.loadBalancer``; deleting the Service deletes both, and the cleanup finalizer lets the
Service go. Whatever is left (on failure) is removed by the cluster name marker. Test tooling:
never imported by the core or a service.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osk8s_testing.demo_ccm import BINARY, _until
from osk8s_testing.demo_lb_run import lb_demo_run
from osk8s_testing.testcloud.layout import Layout, resolve_dir

if TYPE_CHECKING:
    from osk8s_testing.demo import Demo

FINALIZER = "service.kubernetes.io/load-balancer-cleanup"


def _nodes(core: Any, subnet_cidr: str) -> list[str]:
    hosts = list(ipaddress.ip_network(subnet_cidr).hosts())
    addresses = [str(hosts[-2]), str(hosts[-3])]
    for i, address in enumerate(addresses, start=1):
        name = f"demo-lb-node-{i}"
        core.create_node({"metadata": {"name": name}, "spec": {}})
        core.patch_node_status(
            name,
            {"status": {"addresses": [{"type": "InternalIP", "address": address}]}},
            _content_type="application/strategic-merge-patch+json",
        )
    return addresses


def _start(workdir: Path, kubeconfig: str, cluster: str) -> subprocess.Popen[bytes]:
    """The process as a chart runs it, with only the service controller."""
    argv = [
        str(Path(sys.executable).parent / BINARY),
        "--cloud-provider=openstack",
        f"--cloud-config={Layout(resolve_dir(None, os.environ)).cloud_conf}",
        f"--kubeconfig={kubeconfig}",
        f"--cluster-name={cluster}",
        "--bind-address=127.0.0.1",
        "--secure-port=0",
        "--controllers=service",
        "--leader-elect=false",
        "--v=2",
    ]
    log = (workdir / "ccm.log").open("wb")
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)


def _service(core: Any) -> Any:
    found = [s for s in core.list_namespaced_service("default").items if s.metadata.name == "web"]
    return found[0] if found else None


def _ingress(core: Any) -> Any:
    svc = _service(core)
    status = svc.status.load_balancer if svc is not None and svc.status else None
    return status.ingress if status is not None and status.ingress else None


def scenario_ccm_lb(demo: Demo) -> None:
    from kubernetes import client as k8s

    conn: Any = demo.client.connection
    subnet = conn.network.get_subnet(demo.config.load_balancer.subnet_id)
    with lb_demo_run(demo, prefix="osk8s-demo-ccm-lb-", log_name="ccm.log") as run:
        cluster, tmp = run.cluster, run.workdir
        core = k8s.CoreV1Api(run.server.api_client())
        addresses = _nodes(core, str(subnet.cidr))
        demo.say(f"registered 2 Nodes at {', '.join(addresses)} (subnet {subnet.cidr})")
        kubeconfig = run.server.write_kubeconfig(tmp / "kubeconfig")
        run.proc = _start(tmp, str(kubeconfig), cluster)
        service: Any = {
            "metadata": {"name": "web"},
            "spec": {
                "type": "LoadBalancer",
                "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}],
            },
        }
        core.create_namespaced_service("default", service)
        started = time.monotonic()
        [ingress] = _until(lambda: _ingress(core), "status.loadBalancer.ingress", 240)
        elapsed = time.monotonic() - started
        svc = _service(core)
        annotations = svc.metadata.annotations or {}
        lb_id = annotations["loadbalancer.openstack.org/load-balancer-id"]
        lb = conn.load_balancer.get_load_balancer(lb_id)
        members = [
            m.address
            for pool in conn.load_balancer.pools(loadbalancer_id=lb_id)
            for m in conn.load_balancer.members(pool.id)
        ]
        demo.say(
            f"Service default/web -> LB {lb.name} {lb.provisioning_status}, VIP "
            f"{lb.vip_address}, floating IP {ingress.ip} ({elapsed:.1f} s), members "
            f"{', '.join(sorted(members))}"
        )
        if lb.provisioning_status != "ACTIVE" or sorted(members) != sorted(addresses):
            raise AssertionError(f"LB {lb_id} not ACTIVE with both members")
        if FINALIZER not in (svc.metadata.finalizers or []):
            raise AssertionError("Service without the cleanup finalizer")
        core.delete_namespaced_service("web", "default")
        _until(lambda: _service(core) is None, "Service deleted", 180)
        left = [lb for lb in conn.load_balancer.load_balancers() if cluster in str(lb.name)]
        fips = [f for f in conn.network.ips() if cluster in str(f.description or "")]
        if [lb for lb in left if lb.provisioning_status != "DELETED"] or fips:
            raise AssertionError(f"left behind: {len(left)} LBs, {len(fips)} floating IPs")
        demo.say("deleted the Service: its LB and floating IP are gone, the finalizer let it go")
