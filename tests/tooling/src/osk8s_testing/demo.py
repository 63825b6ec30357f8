"""`osk8s-demo`: the README's main job — osk8s working against the local test cloud.

`make demo` first brings the fast test cloud up (`osk8s-testcloud up`, with progress), then runs
this. Each scenario drives the core (and, as they land, the services) against real OpenStack
APIs on 127.0.0.1 and the in-memory Kubernetes API server, printing what happened, and cleans
up after itself. Exit status 0 only when every scenario passed. Test tooling: never imported by
the core or a service.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets as pysecrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from osk8s_core import __version__
from osk8s_core.config import CloudConfig, load_cloud_config
from osk8s_core.credentials.connection import ClientSettings
from osk8s_core.credentials.factory import ConnectionFactory
from osk8s_core.logging import configure_logging, get_logger
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_testing.demo_capo import scenario_capo
from osk8s_testing.demo_ccm import scenario_ccm
from osk8s_testing.demo_ccm_lb import scenario_ccm_lb
from osk8s_testing.demo_ingress import scenario_ingress
from osk8s_testing.demo_manila import scenario_manila

COMPONENT = "osk8s-demo"


@dataclass
class Demo:
    """What every scenario gets: the OpenStack client of the demo user and its config."""

    client: OpenStackClient[Any]
    config: CloudConfig
    registry: CollectorRegistry
    run_id: str
    out: io.TextIOBase | Any = field(default=sys.stdout)

    def say(self, text: str) -> None:
        self.out.write(f"    {text}\n")
        self.out.flush()


@contextmanager
def timed(out: Any, title: str) -> Iterator[None]:
    out.write(f"\n== {title}\n")
    out.flush()
    start = time.perf_counter()
    yield
    out.write(f"   ok ({time.perf_counter() - start:.1f} s)\n")
    out.flush()


def scenario_auth(demo: Demo) -> None:
    conn = demo.client.connection
    token = demo.client.call("token_get", conn.session.get_token)
    project = demo.client.call("project_id_get", conn.session.get_project_id)
    catalog = demo.client.call(
        "catalog_get", lambda: conn.session.auth.get_access(conn.session).service_catalog
    )
    services = sorted({entry["type"] for entry in catalog.catalog})
    demo.say(f"authenticated as the demo user, project {project}")
    demo.say(f"token of {len(token)} characters (value never printed)")
    demo.say(f"catalog: {', '.join(services)}")


def scenario_volume(demo: Demo) -> None:
    from osk8s_core.openstack.volumes import Volumes, VolumeSpec

    volumes = Volumes(demo.client)
    spec = VolumeSpec(name=f"osk8s-demo-{demo.run_id}", size_gb=1, metadata={"osk8s": "demo"})
    volume = volumes.create(spec)
    demo.say(f"created volume {volume.id} ({volume.size} GiB) -> {volume.status}")
    again = volumes.create(spec)
    demo.say(f"create again with the same name -> same volume: {again.id == volume.id}")
    if again.id != volume.id:
        raise AssertionError("idempotent create made a second volume")
    volume = volumes.extend(volume.id, 2)
    demo.say(f"extended to {volume.size} GiB -> {volume.status}")
    volumes.delete(volume.id, wait=True)
    demo.say("deleted (and gone)")


def scenario_load_balancer(demo: Demo) -> None:
    from osk8s_core.openstack.loadbalancers import (
        LoadBalancers,
        LoadBalancerSpec,
        provisioning_status,
    )

    subnet = demo.config.load_balancer.subnet_id
    lbs = LoadBalancers(demo.client)
    start = time.perf_counter()
    lb = lbs.create(LoadBalancerSpec(name=f"osk8s-demo-{demo.run_id}", vip_subnet_id=subnet))
    demo.say(
        f"load balancer {lb.id} VIP {lb.vip_address} -> {provisioning_status(lb)} "
        f"in {time.perf_counter() - start:.1f} s"
    )
    lbs.delete(lb.id, cascade=True, wait=True)
    demo.say("cascade-deleted (and gone)")


def scenario_secret(demo: Demo) -> None:
    from osk8s_core.openstack.secrets import Secrets

    store = Secrets(demo.client)
    key = os.urandom(32)
    ref = store.store_bytes(f"osk8s-demo-{demo.run_id}", key)
    demo.say(f"stored a 256-bit key in Barbican: {ref.rsplit('/', 1)[-1]}")
    same = store.payload_bytes(ref) == key
    demo.say(f"payload read back byte-identical: {same} (key material never printed)")
    if not same:
        raise AssertionError("Barbican returned a different payload")
    store.delete(ref)
    demo.say("deleted")


def scenario_kubernetes(demo: Demo) -> None:
    from kubernetes import client as k8s

    from osk8s_core.k8s.clock import SystemClock
    from osk8s_core.k8s.leader import (
        LeaderCallbacks,
        LeaderElectionConfig,
        LeaderElector,
    )
    from osk8s_core.k8s.leaselock import KubeLeaseLock
    from osk8s_testing.kubeapi import KubeApiServer

    server = KubeApiServer().start()
    try:
        api = server.api_client()
        lock = KubeLeaseLock(
            k8s.CoordinationV1Api(api), namespace="kube-system", name="cloud-controller-manager"
        )
        leading = threading.Event()
        elector = LeaderElector(
            lock,
            config=LeaderElectionConfig(identity=f"demo_{demo.run_id}"),
            callbacks=LeaderCallbacks(
                on_started_leading=lambda _ended: leading.set(), on_stopped_leading=lambda: None
            ),
            clock=SystemClock(),
        )
        stop = threading.Event()
        runner = threading.Thread(target=elector.run, args=(stop,), daemon=True)
        runner.start()
        if not leading.wait(10):
            raise AssertionError("did not acquire the lease within 10 s")
        lease = k8s.CoordinationV1Api(api).read_namespaced_lease(
            "cloud-controller-manager", "kube-system"
        )
        demo.say(f"in-memory kube-apiserver at {server.url}")
        demo.say(
            f"leader election: lease held by {(lease.spec.holder_identity if lease.spec else None)}"
        )
        stop.set()
        runner.join(10)
        lease = k8s.CoordinationV1Api(api).read_namespaced_lease(
            "cloud-controller-manager", "kube-system"
        )
        holder = lease.spec.holder_identity if lease.spec else None
        demo.say(f"released on shutdown: holder now {holder!r}")
    finally:
        server.stop()


def _start_binary(
    argv: list[str], ready_event: str
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start an osk8s binary (JSON logs on stderr) and wait for its ``ready_event`` line."""
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    for line in proc.stderr:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == ready_event:
            return proc, event
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise AssertionError(f"{Path(argv[0]).name} did not report {ready_event!r}")


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def scenario_keystone_webhook(demo: Demo) -> None:
    from kubernetes import client as k8s

    from osk8s_testing.kubeapi import KubeApiServer, ServerConfig, WebhookConfig
    from osk8s_testing.tls import self_signed_localhost

    auth_url = demo.config.global_.auth_url
    project = demo.client.connection.session.get_project_id()
    with tempfile.TemporaryDirectory(prefix="osk8s-demo-") as tmp:
        tls = self_signed_localhost(Path(tmp))
        policy = Path(tmp) / "policy.json"
        gate = {"roles": ["member"], "projects": ["demo"]}
        policy.write_text(
            json.dumps([{"users": gate, "resource_permissions": {"*/pods": ["get"]}}])
        )
        argv = [
            str(Path(sys.executable).parent / "k8s-keystone-auth"),
            "--listen=127.0.0.1:0",
            f"--tls-cert-file={tls.cert}",
            f"--tls-private-key-file={tls.key}",
            f"--keystone-url={auth_url}",
            f"--keystone-policy-file={policy}",
        ]
        proc, ready = _start_binary(argv, "webhook serving")
        url = f"https://{ready['address']}/webhook"
        server = KubeApiServer(
            ServerConfig(
                webhooks=WebhookConfig(token_review_url=url, authorization_url=url, verify=tls.cert)
            )
        ).start()
        try:
            demo.say(f"k8s-keystone-auth serving TLS at {ready['address']} (pid {proc.pid})")
            api = server.api_client()
            token = demo.client.connection.session.get_token()
            review = k8s.AuthenticationV1Api(api).create_token_review(
                k8s.V1TokenReview(spec=k8s.V1TokenReviewSpec(token=token))
            )
            status = review.status
            if status is None or not status.authenticated or status.user is None:
                raise AssertionError("the demo user's Keystone token was not authenticated")
            user = status.user
            demo.say(
                f"kube-apiserver TokenReview -> authenticated=True "
                f"user={user.username} groups={user.groups}"
            )
            if project not in (user.groups or []):
                raise AssertionError("the project id is missing from the user's groups")
            for verb in ("get", "delete"):
                sar = k8s.AuthorizationV1Api(api).create_subject_access_review(
                    k8s.V1SubjectAccessReview(
                        spec=k8s.V1SubjectAccessReviewSpec(
                            user=user.username,
                            groups=user.groups,
                            extra=user.extra,
                            uid=user.uid,
                            resource_attributes=k8s.V1ResourceAttributes(
                                namespace="default", verb=verb, resource="pods"
                            ),
                        )
                    )
                )
                allowed = bool(sar.status and sar.status.allowed)
                demo.say(f"SubjectAccessReview {verb} pods -> allowed={allowed}")
                if allowed != (verb == "get"):
                    raise AssertionError(f"policy decision for {verb} is wrong")
            bad = k8s.AuthenticationV1Api(api).create_token_review(
                k8s.V1TokenReview(spec=k8s.V1TokenReviewSpec(token="not-a-keystone-token"))
            )
            demo.say(
                f"a bad token -> authenticated={bool(bad.status and bad.status.authenticated)}"
            )
        finally:
            server.stop()
            demo.say(f"stopped (exit status {_stop(proc)})")


REPO = Path(__file__).resolve().parents[4]


def _service_demo(script: str) -> Callable[[Demo], None]:
    """A service's own demo script (services/<name>/demo.py), run as the operator would."""

    def run(demo: Demo) -> None:
        result = subprocess.run(
            [sys.executable, str(REPO / script)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        for line in result.stdout.splitlines():
            demo.say(line.strip())
        if result.returncode != 0:
            for line in result.stderr.splitlines()[-10:]:
                demo.say(f"! {line}")
            raise AssertionError(f"{script} exited with {result.returncode}")

    return run


SCENARIOS: tuple[tuple[str, Callable[[Demo], None]], ...] = (
    ("Keystone: authenticate with cloud.conf [Global] through the core", scenario_auth),
    ("Cinder: idempotent volume create, extend, delete", scenario_volume),
    (
        "Octavia: load balancer to ACTIVE with a real Neutron VIP, cascade delete",
        scenario_load_balancer,
    ),
    ("Barbican: store and read back a key", scenario_secret),
    ("Kubernetes: leader election on a Lease (in-memory API server)", scenario_kubernetes),
    (
        "k8s-keystone-auth: kube-apiserver webhook authn/authz with real Keystone tokens",
        scenario_keystone_webhook,
    ),
    (
        "barbican-kms-plugin: KMS v2/v1 over gRPC with the key in Barbican, rotation",
        _service_demo("services/barbican_kms/demo.py"),
    ),
    (
        "cinder-csi-plugin: CSI volume lifecycle over gRPC against real Cinder",
        _service_demo("services/cinder_csi/demo.py"),
    ),
    ("openstack-cloud-controller-manager: servers become nodes; stopped -> tainted", scenario_ccm),
    ("openstack-cloud-controller-manager: Service LoadBalancer on Octavia", scenario_ccm_lb),
    ("manila-csi-plugin: NFS shares over CSI, node calls forwarded", scenario_manila),
    ("octavia-ingress-controller: an Ingress as an Octavia LB with L7 policies", scenario_ingress),
    (
        "capo-controller-manager: a Cluster with a control plane and a worker, then deleted",
        scenario_capo,
    ),
)


def print_metrics(registry: CollectorRegistry, out: Any) -> None:
    out.write("\n== OpenStack API calls made (openstack_api_requests_total, CPO's metric names)\n")
    for metric in registry.collect():
        if metric.name != "openstack_api_requests":
            continue
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                out.write(f"    {sample.labels['request']:<28} {int(sample.value)}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMPONENT, description=__doc__)
    parser.add_argument(
        "--dir",
        default=os.environ.get("OSK8S_TESTCLOUD_DIR", ".testcloud"),
        help="test cloud data dir (holds cloud.conf)",
    )
    args = parser.parse_args(argv)
    cloud_conf = (Path(args.dir) / "cloud.conf").resolve()
    if not cloud_conf.is_file():
        sys.stderr.write(f"{cloud_conf} not found: run `osk8s-testcloud up` first\n")
        return 2
    configure_logging(fmt="console", verbosity=1, stream=sys.stderr)
    registry = CollectorRegistry()
    factory = ConnectionFactory(
        [cloud_conf], settings=ClientSettings(component=COMPONENT, version=__version__)
    )
    client: OpenStackClient[Any] = OpenStackClient(
        factory.get(), metrics=ApiMetrics(registry), logger=get_logger(COMPONENT)
    )
    config = load_cloud_config([cloud_conf]).config
    demo = Demo(client=client, config=config, registry=registry, run_id=pysecrets.token_hex(3))
    print(f"osk8s {__version__} demo against the local test cloud ({cloud_conf})")
    failed: list[str] = []
    for title, scenario in SCENARIOS:
        try:
            with timed(sys.stdout, title):
                scenario(demo)
        except Exception as exc:  # a failed scenario is reported, the others still run
            print(f"   FAILED: {type(exc).__name__}: {exc}")
            failed.append(title)
    print_metrics(registry, sys.stdout)
    factory.close()
    print(f"\n{len(SCENARIOS) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
