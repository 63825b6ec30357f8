"""The ingress demo scenario: the real ``octavia-ingress-controller`` process with its YAML
config (the demo user's credentials in the ``openstack:`` keys) against the test cloud's
Octavia, Neutron and Barbican and an in-memory Kubernetes API server.

A NodePort Service and two Nodes are registered; an Ingress of class ``openstack`` with a
host, an Exact and a Prefix path gets an Octavia load balancer with one L7 policy per path,
a floating IP and its ``status.loadBalancer``; deleting it deletes the LB and the floating IP.
Whatever is left (on failure) is removed by the cluster name marker. Test tooling: never
imported by the core or a service.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from osk8s_testing.demo_ccm import _until
from osk8s_testing.demo_lb_run import lb_demo_run
from osk8s_testing.testcloud.layout import Layout, resolve_dir

if TYPE_CHECKING:
    from osk8s_testing.demo import Demo

BINARY = "octavia-ingress-controller"


def _config(workdir: Path, kubeconfig: str, cluster: str) -> Path:
    """CPO's config file, from the test cloud's cloud.conf (project-* where INI says tenant-*)."""
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(Layout(resolve_dir(None, os.environ)).cloud_conf.read_text())
    document = {
        "cluster-name": cluster,
        "openstack": {k.replace("tenant-", "project-"): v for k, v in ini["Global"].items()},
        "octavia": {
            "subnet-id": ini["LoadBalancer"]["subnet-id"],
            "floating-network-id": ini["LoadBalancer"]["floating-network-id"],
        },
        "kubernetes": {"kubeconfig": kubeconfig},
    }
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(document))
    path.chmod(0o600)
    return path


def _status(net: Any) -> Any:
    found = [i for i in net.list_namespaced_ingress("default").items if i.metadata.name == "web"]
    if not found or found[0].status is None or found[0].status.load_balancer is None:
        return None
    return found[0].status.load_balancer.ingress


def _ingress() -> dict[str, Any]:
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    return {
        "metadata": {
            "name": "web",
            "annotations": {
                "kubernetes.io/ingress.class": "openstack",
                "octavia.ingress.kubernetes.io/internal": "false",
            },
        },
        "spec": {
            "rules": [
                {
                    "host": "demo.example.com",
                    "http": {
                        "paths": [
                            {"path": "/ping", "pathType": "Exact", "backend": backend},
                            {"path": "/app", "pathType": "Prefix", "backend": backend},
                        ]
                    },
                }
            ]
        },
    }


def scenario_ingress(demo: Demo) -> None:
    from kubernetes import client as k8s

    with lb_demo_run(demo, prefix="osk8s-demo-ingress-", log_name="ingress.log") as run:
        conn, cluster, tmp = run.conn, run.cluster, run.workdir
        api = run.server.api_client()
        core: Any = k8s.CoreV1Api(api)
        net: Any = k8s.NetworkingV1Api(api)
        for i, address in enumerate(("10.0.0.201", "10.0.0.202"), start=1):
            core.create_node({"metadata": {"name": f"demo-ing-node-{i}"}})
            core.patch_node_status(
                f"demo-ing-node-{i}",
                {
                    "status": {
                        "addresses": [{"type": "InternalIP", "address": address}],
                        "conditions": [{"type": "Ready", "status": "True"}],
                    }
                },
            )
        core.create_namespaced_service(
            "default",
            {
                "metadata": {"name": "web"},
                "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30081}]},
            },
        )
        kubeconfig = run.server.write_kubeconfig(tmp / "kubeconfig")
        config = _config(tmp, str(kubeconfig), cluster)
        log = run.log.open("wb")
        binary = str(Path(sys.executable).parent / BINARY)
        run.proc = subprocess.Popen([binary, f"--config={config}"], stdout=log, stderr=log)
        net.create_namespaced_ingress("default", _ingress())
        started = time.monotonic()
        [address] = _until(lambda: _status(net), "status.loadBalancer.ingress", 300)
        elapsed = time.monotonic() - started
        name = f"kube_ingress_{cluster}_default_web"
        # As CPO, the controller writes the Ingress status first and then marks the LB
        # description with the processed resourceVersion, so the LB may still be
        # PENDING_UPDATE for a moment when the status appears; an operator waits for ACTIVE.
        [lb] = _until(
            lambda: [
                b
                for b in conn.load_balancer.load_balancers(name=name)
                if b.provisioning_status == "ACTIVE"
            ],
            "LB ACTIVE",
            60,
        )
        [listener] = list(conn.load_balancer.listeners(load_balancer_id=lb.id))
        policies = list(conn.load_balancer.l7_policies(listener_id=listener.id))
        rules = sorted(
            f"{r.compare_type} {r.rule_value}"
            for p in policies
            for r in conn.load_balancer.l7_rules(p.id)
            if r.type == "PATH"
        )
        demo.say(
            f"Ingress default/web -> LB {lb.name} {lb.provisioning_status}, listener "
            f"{listener.protocol}:{listener.protocol_port}, floating IP {address.ip} "
            f"({elapsed:.1f} s)"
        )
        demo.say(f"{len(policies)} L7 policies, path rules: {'; '.join(rules)}")
        if len(policies) != 2 or lb.provisioning_status != "ACTIVE":
            raise AssertionError("LB not ACTIVE with two L7 policies")
        net.delete_namespaced_ingress("web", "default")
        _until(lambda: not list(conn.load_balancer.load_balancers(name=name)), "LB deleted", 240)
        fips = [f for f in conn.network.ips() if cluster in str(f.description or "")]
        if fips:
            raise AssertionError(f"left behind: {len(fips)} floating IPs")
        demo.say("deleted the Ingress: its LB and floating IP are gone")
