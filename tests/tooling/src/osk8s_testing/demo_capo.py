"""Demo scenario of capo-controller-manager (issue 18): the real binary, with the CRDs of the
release's ``infrastructure-components.yaml``, brings up a Cluster with one control-plane and
one worker machine on the test cloud (managed network, security groups, the API load balancer
with the control-plane member and its floating IP), then deletes it all and checks that
nothing named after the cluster or its machines is left. Test tooling only.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from osk8s_testing.testcloud.layout import Layout, resolve_dir
from osk8s_testing.testcloud.outputs import DEMO_CLOUD
from osk8s_testing.tls import self_signed_localhost

REPO = Path(__file__).resolve().parents[4]
RELEASE = REPO / "services" / "capo" / "release"
GROUP = "infrastructure.cluster.x-k8s.io"
CAPI = "cluster.x-k8s.io"


def _crds() -> list[dict[str, Any]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    docs = yaml.load_all((RELEASE / "infrastructure-components.yaml").read_text(), Loader=loader)
    crds = [d for d in docs if d and d["kind"] == "CustomResourceDefinition"]
    for plural in ("clusters", "machines"):
        path = RELEASE / "vendor" / "capi" / f"cluster.x-k8s.io_{plural}.yaml"
        crds.append(yaml.load(path.read_text(), Loader=loader))
    return crds


def _wait(what: str, check: Callable[[], bool], timeout: float = 420) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(1)


def scenario_capo(demo: Any) -> None:  # noqa: PLR0915 - a linear story
    from kubernetes import client as k8s

    from osk8s_testing.kubeapi import KubeApiServer

    conn: Any = demo.client.connection
    layout = Layout(resolve_dir(None, os.environ))
    clouds = yaml.safe_load(layout.clouds_yaml.read_text())
    clouds_yaml = yaml.safe_dump({"clouds": {"openstack": clouds["clouds"][DEMO_CLOUD]}})
    external = sorted(conn.network.networks(is_router_external=True), key=lambda n: n.name)[0]
    name, ns = f"demo-{demo.run_id}"[:20], "default"
    server = KubeApiServer().start()
    api = server.api_client()
    # plain dicts in and out (the typed client's stubs want model objects)
    core: Any = k8s.CoreV1Api(api)
    custom: Any = k8s.CustomObjectsApi(api)
    proc: subprocess.Popen[bytes] | None = None
    endpoint = ""  # the API floating IP, once the cluster is ready (checked gone at the end)
    with tempfile.TemporaryDirectory(prefix="osk8s-demo-capo-") as tmp:
        try:
            ext: Any = k8s.ApiextensionsV1Api(api)
            for crd in _crds():
                ext.create_custom_resource_definition(crd)
            core.create_namespaced_secret(
                ns,
                {
                    "metadata": {"name": "cloud-config"},
                    "data": {"clouds.yaml": base64.b64encode(clouds_yaml.encode()).decode()},
                },
            )
            core.create_namespaced_secret(
                ns, {"metadata": {"name": "boot"}, "stringData": {"value": "#cloud-config\n"}}
            )
            self_signed_localhost(Path(tmp))
            kubeconfig = server.write_kubeconfig(Path(tmp) / "kubeconfig")
            log = (Path(tmp) / "capo.log").open("wb")
            proc = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "capo-controller-manager"),
                    f"--kubeconfig={kubeconfig}",
                    "--health-addr=127.0.0.1:0",
                    "--diagnostics-address=127.0.0.1:0",
                    "--insecure-diagnostics",
                    f"--webhook-cert-dir={tmp}",
                    "--webhook-port=0",
                    "--v=2",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            demo.say("capo-controller-manager started (cluster, machine, server controllers)")
            cluster = custom.create_namespaced_custom_object(
                CAPI,
                "v1beta2",
                ns,
                "clusters",
                {
                    "apiVersion": f"{CAPI}/v1beta2",
                    "kind": "Cluster",
                    "metadata": {"name": name},
                    "spec": {
                        "infrastructureRef": {
                            "apiGroup": GROUP,
                            "kind": "OpenStackCluster",
                            "name": name,
                        }
                    },
                },
            )
            custom.create_namespaced_custom_object(
                GROUP,
                "v1beta2",
                ns,
                "openstackclusters",
                {
                    "apiVersion": f"{GROUP}/v1beta2",
                    "kind": "OpenStackCluster",
                    "metadata": {
                        "name": name,
                        "labels": {f"{CAPI}/cluster-name": name},
                        "ownerReferences": [
                            {
                                "apiVersion": f"{CAPI}/v1beta2",
                                "kind": "Cluster",
                                "name": name,
                                "uid": cluster["metadata"]["uid"],
                            }
                        ],
                    },
                    "spec": {
                        "identityRef": {"name": "cloud-config", "cloudName": "openstack"},
                        "managedSubnets": [{"cidr": "10.66.0.0/24"}],
                        "externalNetwork": {"id": external.id},
                        "apiServer": {"managedLoadBalancer": {}},
                        "managedSecurityGroups": {},
                    },
                },
            )
            for machine, role in (
                (f"{name}-cp", {f"{CAPI}/control-plane": ""}),
                (f"{name}-md", {}),
            ):
                labels = {**role, f"{CAPI}/cluster-name": name}
                owner = custom.create_namespaced_custom_object(
                    CAPI,
                    "v1beta2",
                    ns,
                    "machines",
                    {
                        "apiVersion": f"{CAPI}/v1beta2",
                        "kind": "Machine",
                        "metadata": {"name": machine, "labels": labels},
                        "spec": {
                            "clusterName": name,
                            "bootstrap": {"dataSecretName": "boot"},
                            "infrastructureRef": {
                                "apiGroup": GROUP,
                                "kind": "OpenStackMachine",
                                "name": machine,
                            },
                        },
                    },
                )
                custom.create_namespaced_custom_object(
                    GROUP,
                    "v1beta2",
                    ns,
                    "openstackmachines",
                    {
                        "apiVersion": f"{GROUP}/v1beta2",
                        "kind": "OpenStackMachine",
                        "metadata": {
                            "name": machine,
                            "labels": labels,
                            "ownerReferences": [
                                {
                                    "apiVersion": f"{CAPI}/v1beta2",
                                    "kind": "Machine",
                                    "name": machine,
                                    "uid": owner["metadata"]["uid"],
                                    "controller": True,
                                }
                            ],
                        },
                        "spec": {
                            "flavor": {"filter": {"name": "osk8s.small"}},
                            "image": {"filter": {"name": "osk8s-fake-image"}},
                        },
                    },
                )

            def get(plural: str, obj: str) -> dict[str, Any]:
                return dict(custom.get_namespaced_custom_object(GROUP, "v1beta2", ns, plural, obj))

            def provisioned(plural: str, obj: str) -> bool:
                status = get(plural, obj).get("status") or {}
                return bool((status.get("initialization") or {}).get("provisioned"))

            started = time.monotonic()
            _wait("the cluster", lambda: provisioned("openstackclusters", name))
            osc = get("openstackclusters", name)
            lb = osc["status"]["apiServerManagedLoadBalancer"]
            endpoint = osc["spec"]["controlPlaneEndpoint"]["host"]
            vip_port = conn.load_balancer.get_load_balancer(lb["id"]).vip_port_id
            fips = [f.floating_ip_address for f in conn.network.ips(port_id=vip_port)]
            demo.say(
                f"cluster ready in {time.monotonic() - started:.0f} s: API endpoint "
                f"{endpoint} (LB {lb['id']}, floating IPs on its VIP: {fips})"
            )
            if fips != [endpoint]:
                raise AssertionError(f"API endpoint {endpoint} is not the VIP's floating IP")
            for machine in (f"{name}-cp", f"{name}-md"):
                _wait(machine, functools.partial(provisioned, "openstackmachines", machine))
                osm = get("openstackmachines", machine)
                state = conn.compute.get_server(osm["status"]["instanceID"]).status
                demo.say(
                    f"{machine}: {osm['spec']['providerID']} {state}, "
                    f"{[a['address'] for a in osm['status']['addresses']]}"
                )
            members = [
                m.name
                for p in conn.load_balancer.pools(loadbalancer_id=lb["id"])
                for m in conn.load_balancer.members(p.id)
            ]
            demo.say(f"API pool members: {members}")
            if members != [f"{lb['name']}-6443-{name}-cp"]:
                raise AssertionError(f"unexpected pool members {members}")
        finally:
            deleting = time.monotonic()
            # as CAPI does: machines first, then the infrastructure cluster, the Cluster last
            # (the OpenStackCluster controller waits for its owner Cluster to exist)
            for machine in (f"{name}-md", f"{name}-cp"):
                for group, plural in ((GROUP, "openstackmachines"), (CAPI, "machines")):
                    with contextlib.suppress(Exception):  # best effort clean-up
                        custom.delete_namespaced_custom_object(
                            group, "v1beta2", ns, plural, machine
                        )
            with contextlib.suppress(Exception):
                custom.delete_namespaced_custom_object(
                    GROUP, "v1beta2", ns, "openstackclusters", name
                )

            def gone() -> bool:
                left = custom.list_namespaced_custom_object(
                    GROUP, "v1beta2", ns, "openstackclusters"
                )
                return not left.get("items")

            try:
                _wait("the cluster deletion", gone)
                with contextlib.suppress(Exception):
                    custom.delete_namespaced_custom_object(CAPI, "v1beta2", ns, "clusters", name)
            finally:
                if proc is not None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                server.stop()
    leftovers = [s.name for s in conn.compute.servers() if (s.name or "").startswith(name)]
    leftovers += [p.name for p in conn.network.ports() if (p.name or "").startswith(name)]
    leftovers += [n.name for n in conn.network.networks() if name in (n.name or "")]
    leftovers += [r.name for r in conn.network.routers() if name in (r.name or "")]
    leftovers += [g.name for g in conn.network.security_groups() if name in (g.name or "")]
    leftovers += [b.name for b in conn.load_balancer.load_balancers() if name in (b.name or "")]
    leftovers += [v.name for v in conn.block_storage.volumes() if (v.name or "").startswith(name)]
    leftovers += [
        f.floating_ip_address
        for f in conn.network.ips()
        if endpoint and f.floating_ip_address == endpoint
    ]
    demo.say(
        f"deleted in {time.monotonic() - deleting:.0f} s; left behind: {leftovers or 'nothing'}"
    )
    if leftovers:
        raise AssertionError(f"left behind: {leftovers}")
