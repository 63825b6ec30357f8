"""The real ``openstack-cloud-controller-manager`` binary, twice, against the in-memory API
server and the test cloud's Nova and Neutron.

The API server authenticates and authorises every request through a recording review webhook
(as kube-apiserver with a token webhook and ``--authorization-mode=Webhook``): each replica has
its own token, so the SubjectAccessReviews tell which replica wrote what. Replica A starts
first and leads; B waits. Expected node values come from cpo.md §1.3 (the same table as the
node init contract test), not from the process's output.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from kubernetes.client import CoordinationV1Api, CoreV1Api

from osk8s_testing.kubeapi import KubeApiServer, ServerConfig, WebhookConfig
from osk8s_testing.kubeapi.review_webhook import ReviewWebhook
from osk8s_testing.local import free_port
from osk8s_testing.testcloud.layout import Layout, resolve_dir

from .conftest import HOSTNAME, World
from .node_helpers import expected_labels, node_json, set_ready, taint_keys, tainted_node
from .test_ccm_instances_contract import expected_tail

pytestmark = pytest.mark.contract

BIN = Path(sys.executable).parent / "openstack-cloud-controller-manager"
ROOT = Path(__file__).resolve().parents[3]
LEASE = 5.0  # --leader-elect-lease-duration: short, so a takeover is quick
# --leader-elect-renew-deadline: the leader's renewals (each through the API server's webhook
# authn/authz) must succeed within it on a loaded 2-core CI machine, or it exits and B leads.
RENEW = 3.0
# What a loaded CI machine may add to a timed step (a takeover, an exit) on top of its protocol
# time; still well below the 15 s default lease and the intruder's 60 s one.
SLACK = 8.0
TOKENS = {
    "tok-ccm-a-41f0": "ccm-a",
    "tok-ccm-b-93c2": "ccm-b",
    "tok-ccm-c-2e77": "ccm-c",
    "tok-ccm-d-6b18": "ccm-d",
    "tok-admin-7d1e": "admin",
    "tok-prom-5a9b": "prometheus",
    "tok-dev-0c3d": "dev",
}
ADMIN = "tok-admin-7d1e"
REVIEWS = {"tokenreviews", "subjectaccessreviews"}
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}


def _decide(body: dict[str, Any]) -> dict[str, Any]:
    """The cluster's authn/authz: the replicas and admin may do anything; prometheus may get
    /metrics; dev may do nothing; unknown tokens are not authenticated."""
    if body["kind"] == "TokenReview":
        user = TOKENS.get(body["spec"]["token"])
        if user is None:
            return {"authenticated": False}
        return {"authenticated": True, "user": {"username": user, "groups": ["ops"]}}
    spec = body["spec"]
    user = spec["user"]
    if user in {"ccm-a", "ccm-b", "ccm-c", "ccm-d", "admin"}:
        return {"allowed": True}
    metrics = {"path": "/metrics", "verb": "get"}
    if user == "prometheus" and spec.get("nonResourceAttributes") == metrics:
        return {"allowed": True}
    return {"allowed": False, "reason": "no RBAC policy matched"}


def _kubeconfig(path: Path, server: str, token: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def _wait(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not reached in {timeout} s")
        time.sleep(0.1)


class Replica:
    """One ccm process with its own token and secure port."""

    def __init__(
        self, name: str, token: str, api: KubeApiServer, workdir: Path, *extra: str
    ) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = workdir / f"{name}.log"
        kubeconfig = _kubeconfig(workdir / f"{name}.kubeconfig", api.url, token)
        cloud_conf = Layout(resolve_dir(None, os.environ)).cloud_conf
        self.argv = [
            str(BIN),
            "--cloud-provider=openstack",
            f"--cloud-config={cloud_conf}",
            f"--kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.port}",
            f"--leader-elect-lease-duration={LEASE:g}s",
            f"--leader-elect-renew-deadline={RENEW:g}s",
            "--leader-elect-retry-period=500ms",
            "--node-monitor-period=2s",
            "--node-status-update-frequency=3s",
            "--use-service-account-credentials=false",
            # The chart's form; route needs --allocate-node-cidrs, service has its own tests.
            "--controllers=cloud-node,cloud-node-lifecycle",
            "--v=2",
        ]
        if name == "a":  # B leaves them empty: its own connection reviews (in-cluster upstream)
            self.argv += [
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
            ]
        self.argv += extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.started = time.monotonic()
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=log)

    def get(self, path: str, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = f"https://127.0.0.1:{self.port}{path}"
        return requests.get(url, headers=headers, verify=self._ca(), timeout=10)

    def _ca(self) -> str:
        """The self-signed certificate it serves (no --tls-cert-file), trusted from then on:
        every request is verified against it (host 127.0.0.1 must be in its names)."""
        ca = self.log_path.with_suffix(".crt")
        if not ca.exists():
            ca.write_text(ssl.get_server_certificate(("127.0.0.1", self.port)))
        return str(ca)

    def wait_healthy(self, timeout: float = 60.0) -> float:
        """Seconds from spawn to the first ``/healthz`` 200."""

        def healthy() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(f"ccm {self.name} exited {self.proc.returncode}: {self.log()}")
            try:
                return self.get("/healthz").status_code == 200
            except (requests.RequestException, OSError):
                return False

        _wait(healthy, f"ccm {self.name} healthy", timeout)
        return time.monotonic() - self.started

    def rss_mib(self) -> float:
        assert self.proc is not None
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
        return kib / 1024

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@dataclass
class Cluster:
    workdir: Path
    api: KubeApiServer
    webhook: ReviewWebhook
    core: CoreV1Api
    leases: CoordinationV1Api
    a: Replica
    b: Replica
    ghost: str
    numbers: dict[str, float]

    def holder(self) -> str:
        lease = self.leases.read_namespaced_lease("cloud-controller-manager", "kube-system")
        return str(lease.spec.holder_identity or "") if lease.spec else ""

    def writes(self) -> dict[str, Counter[str]]:
        """State writes per user as the API server authorised them (reviews excluded)."""
        found: dict[str, Counter[str]] = {}
        for review in self.webhook.reviews("SubjectAccessReview"):
            attrs = review["spec"].get("resourceAttributes") or {}
            if attrs.get("verb") not in WRITE_VERBS or attrs.get("resource") in REVIEWS:
                continue
            resource = attrs["resource"] + (
                f"/{attrs['subresource']}" if attrs.get("subresource") else ""
            )
            found.setdefault(review["spec"]["user"], Counter())[resource] += 1
        return found


def _initialised(core: CoreV1Api, name: str) -> bool:
    try:
        node = node_json(core, name)
    except Exception:
        return False
    return bool(node["spec"].get("providerID")) and taint_keys(node) == ["example.com/dedicated"]


@pytest.fixture(scope="module")
def cluster(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("ccm-process")
    webhook = ReviewWebhook(_decide)
    hooks = WebhookConfig(
        token_review_url=webhook.url, authorization_url=webhook.url, guard_requests=True
    )
    api = KubeApiServer(ServerConfig(webhooks=hooks)).start()
    client = api.api_client(token=ADMIN)
    core = CoreV1Api(client)
    replicas: list[Replica] = []
    try:
        tainted_node(core, world.a_name)  # found by name
        tainted_node(core, world.b_name, provider_id=world.b_id)  # a bare id, as kubelet sets
        ghost = f"ghost-{uuid.uuid4().hex[:6]}"
        tainted_node(core, ghost, provider_id=f"openstack:///{uuid.uuid4()}")
        set_ready(core, ghost, "True")  # Ready: the lifecycle controller leaves it alone
        a = Replica("a", "tok-ccm-a-41f0", api, workdir)
        b = Replica("b", "tok-ccm-b-93c2", api, workdir)
        replicas += [a, b]
        numbers: dict[str, float] = {}
        a.start()
        numbers["a_first_healthy_s"] = a.wait_healthy()
        leases = CoordinationV1Api(client)
        found = Cluster(workdir, api, webhook, core, leases, a, b, ghost, numbers)
        _wait(lambda: _holder_or_none(found), "replica A leads", 30)
        numbers["a_leading_s"] = time.monotonic() - a.started
        b.start()
        numbers["b_first_healthy_s"] = b.wait_healthy()
        yield found
    finally:
        for replica in replicas:
            replica.stop()
        client.close()
        api.stop()
        webhook.close()


def _holder_or_none(cluster: Cluster) -> str:
    try:
        return cluster.holder()
    except Exception:
        return ""


def test_tainted_servers_become_initialised_nodes(cluster: Cluster, world: World) -> None:
    core = cluster.core
    _wait(lambda: _initialised(core, world.a_name), "node A initialised", 60)
    _wait(lambda: _initialised(core, world.b_name), "node B initialised", 60)
    cluster.numbers["nodes_initialised_s"] = time.monotonic() - cluster.a.started
    cluster.numbers["a_rss_mib"] = cluster.a.rss_mib()
    cluster.numbers["b_rss_mib"] = cluster.b.rss_mib()
    a = node_json(core, world.a_name)
    assert a["spec"]["providerID"] == f"openstack:///{world.a_id}"
    assert a["metadata"]["labels"] == {
        "keep": "me",
        **expected_labels(world.flavor_name, "az-2", "RegionOne"),
    }
    addresses = [(x["type"], x["address"]) for x in a["status"]["addresses"]]
    assert set(addresses[:2]) == {
        ("InternalIP", world.a_demo_ip),
        ("InternalIP", world.a_second_ip),
    }
    assert addresses[2:] == [(x.type, x.address) for x in expected_tail(world)]
    b = node_json(core, world.b_name)
    assert b["spec"]["providerID"] == world.b_id
    assert b["metadata"]["labels"]["topology.kubernetes.io/zone"] == "az-1"
    assert b["status"]["addresses"] == [{"type": "InternalIP", "address": world.b_demo_ip}]
    # The ghost's server does not exist: tainted, untouched, and a Warning event as upstream.
    ghost = node_json(core, cluster.ghost)
    assert "node.cloudprovider.kubernetes.io/uninitialized" in taint_keys(ghost)
    assert not ghost["status"].get("addresses")

    def ghost_events() -> list[Any]:
        events = core.list_namespaced_event("default").items
        return [e for e in events if e.involved_object.name == cluster.ghost]

    events = _wait(ghost_events, "event about the ghost node", 30)
    assert {(e.type, e.reason, e.source.component) for e in events} == {
        ("Warning", "FailedToInitialize", "cloud-node-controller")
    }
    print(f"\nccm process numbers: {cluster.numbers}")


def test_every_node_s_addresses_follow_nova_on_the_status_update_frequency(
    cluster: Cluster, world: World, ccm_conn: Any
) -> None:
    """``--node-status-update-frequency=3s``: the leader's periodic pass rewrites the addresses
    of every initialised node when its server changes (here the ``hostname`` metadata key,
    step 3 of cpo.md §1.3: A's is changed, B gets one)."""
    core = cluster.core
    _wait(lambda: _initialised(core, world.a_name), "node A initialised", 60)
    _wait(lambda: _initialised(core, world.b_name), "node B initialised", 60)
    compute = ccm_conn.compute
    tag = uuid.uuid4().hex[:6]
    wanted = {world.a_name: f"a-{tag}.nodes.example", world.b_name: f"b-{tag}.nodes.example"}

    def hostnames() -> dict[str, list[str]]:
        found = {}
        for name in wanted:
            addresses = node_json(core, name)["status"].get("addresses") or []
            found[name] = [a["address"] for a in addresses if a["type"] == "Hostname"]
        return found

    assert hostnames() == {world.a_name: [HOSTNAME], world.b_name: []}
    try:
        compute.set_server_metadata(world.a_id, hostname=wanted[world.a_name])
        compute.set_server_metadata(world.b_id, hostname=wanted[world.b_name])
        changed = time.monotonic()
        # One period (3 s) plus a pass and the watch; slack for a loaded CI machine.
        _wait(lambda: hostnames() == {n: [h] for n, h in wanted.items()}, "addresses", 30)
        cluster.numbers["addresses_refreshed_s"] = time.monotonic() - changed
        b = node_json(core, world.b_name)["status"]["addresses"]
        assert b == [
            {"type": "InternalIP", "address": world.b_demo_ip},
            {"type": "Hostname", "address": wanted[world.b_name]},
        ]
    finally:
        compute.set_server_metadata(world.a_id, hostname=HOSTNAME)
        compute.delete_server_metadata(world.b_id, ["hostname"])
    _wait(lambda: hostnames() == {world.a_name: [HOSTNAME], world.b_name: []}, "restored", 30)


def test_metrics_need_an_authorised_token_and_healthz_is_open(cluster: Cluster) -> None:
    for replica in (cluster.a, cluster.b):
        assert replica.get("/healthz").status_code == 200
        anonymous = replica.get("/metrics")
        assert anonymous.status_code == 403
        assert 'User \\"system:anonymous\\" cannot get path \\"/metrics\\"' in anonymous.text
        assert replica.get("/metrics", "tok-nobody-0000").status_code == 401
        denied = replica.get("/metrics", "tok-dev-0c3d")
        assert denied.status_code == 403
        assert "no RBAC policy matched" in denied.text
        allowed = replica.get("/metrics", "tok-prom-5a9b")
        assert allowed.status_code == 200
        for family in (
            "openstack_api_request_duration_seconds",
            "openstack_api_requests_total",
            "openstack_api_request_errors_total",
            "cloudprovider_openstack_reconcile_duration_seconds",
            "cloudprovider_openstack_reconcile_total",
            "cloudprovider_openstack_reconcile_errors_total",
            "process_resident_memory_bytes",
        ):
            assert f"# TYPE {family} " in allowed.text
    leader = cluster.a.get("/metrics", "tok-prom-5a9b").text
    # The leader's node passes listed servers and fetched the ghost's server by id (404).
    assert 'openstack_api_requests_total{request="server_list"}' in leader
    assert 'openstack_api_request_errors_total{request="server_get"}' in leader
    assert 'leader_election_master_status{name="cloud-controller-manager"} 1.0' in leader
    backup = 'leader_election_master_status{name="cloud-controller-manager"} 0.0'

    def candidate() -> str:
        text = cluster.b.get("/metrics", "tok-prom-5a9b").text
        return text if backup in text else ""

    follower = _wait(candidate, "replica B a candidate", 30)
    assert 'openstack_api_requests_total{request="server_list"}' not in follower
    # Delegation went through the API server: TokenReviews by both replicas' identities.
    reviewers = {
        r["spec"]["user"]
        for r in cluster.webhook.reviews("SubjectAccessReview")
        if (r["spec"].get("resourceAttributes") or {}).get("resource") == "tokenreviews"
    }
    assert {"ccm-a", "ccm-b"} <= reviewers


def test_only_the_leader_writes_and_the_other_takes_over_after_kill_9(
    cluster: Cluster, world: World
) -> None:
    core = cluster.core
    _wait(lambda: _initialised(core, world.b_name), "node B initialised", 60)
    writes = cluster.writes()
    assert writes.get("ccm-a", Counter())["nodes"] >= 2  # both nodes' labels, taint
    assert writes["ccm-a"]["nodes/status"] >= 2  # their addresses
    assert writes["ccm-a"]["leases"] >= 1
    assert writes["ccm-a"]["events"] >= 1
    assert "ccm-b" not in writes  # not one write, not even to the lease
    old_holder = cluster.holder()
    assert cluster.a.proc is not None
    cluster.a.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    cluster.a.proc.wait(10)
    _wait(lambda: cluster.holder() not in {"", old_holder}, "replica B leads", 30)
    takeover = time.monotonic() - killed
    cluster.numbers["takeover_after_kill_s"] = takeover
    # Within one lease duration of the last renewal, plus B's retry period and jitter (1.1 s)
    # and slack for a loaded 2-core CI machine.
    assert takeover < LEASE + SLACK
    # The new leader acts: node B is re-registered by its kubelet, tainted again.
    core.delete_node(world.b_name)
    tainted_node(core, world.b_name, provider_id=world.b_id)
    _wait(lambda: _initialised(core, world.b_name), "node B initialised by replica B", 30)
    after = cluster.writes()
    assert after["ccm-b"]["nodes"] >= 1
    assert after["ccm-b"]["nodes/status"] >= 1
    assert after["ccm-b"]["leases"] >= 1
    assert after["ccm-a"] == writes["ccm-a"]  # the killed replica wrote nothing more
    print(f"\nccm takeover numbers: {cluster.numbers}")


def test_a_leader_that_loses_its_lease_stops_and_exits_1(cluster: Cluster) -> None:
    b = cluster.b
    assert b.proc is not None and b.proc.poll() is None
    _wait(lambda: "ccm-b" in cluster.writes(), "replica B leads", 30)
    lease = cluster.leases.read_namespaced_lease("cloud-controller-manager", "kube-system")
    now = dt.datetime.now(dt.UTC)
    spec = lease.spec
    assert spec is not None
    spec.holder_identity = "intruder"
    spec.renew_time = now
    spec.acquire_time = now
    spec.lease_duration_seconds = 60
    cluster.leases.replace_namespaced_lease("cloud-controller-manager", "kube-system", lease)
    stolen = time.monotonic()
    code = b.proc.wait(RENEW + SLACK + 10)
    assert code == 1
    # The renew deadline plus a retry and the exit itself, not the 60 s lease; slack for a
    # loaded machine.
    assert time.monotonic() - stolen < RENEW + SLACK
    assert "leaderelection lost" in b.log()
    assert cluster.holder() == "intruder"  # it stopped writing: the lease was not taken back


def test_sigterm_releases_the_lease_and_exits_0(cluster: Cluster) -> None:
    """A third replica on its own Lease (``--leader-elect-resource-name/-namespace``): it
    leads at once, and SIGTERM ends it cleanly with the lease released for the next one."""
    c = Replica(
        "c",
        "tok-ccm-c-2e77",
        cluster.api,
        cluster.workdir,
        "--leader-elect-resource-name=ccm-c-lease",
        "--leader-elect-resource-namespace=default",
        # Later flags win: a 10 s grace ((lease - renew deadline) / 2) for the work to stop
        # before the lease is released (with too short a grace the lease is kept and simply
        # expires: the safe side, but this test would fail on a slow machine).
        "--leader-elect-lease-duration=23s",
        "--leader-elect-renew-deadline=3s",
    )
    try:
        c.start()
        c.wait_healthy()

        def holder() -> str:
            try:
                lease = cluster.leases.read_namespaced_lease("ccm-c-lease", "default")
            except Exception:
                return ""
            return str(lease.spec.holder_identity or "") if lease.spec else ""

        _wait(holder, "replica C leads its own lease", 30)
        assert c.proc is not None
        c.proc.send_signal(signal.SIGTERM)
        assert c.proc.wait(30) == 0
        assert holder() == ""  # released: a successor need not wait a lease duration
        assert "released lease" in c.log()
    finally:
        c.stop()


def test_without_leader_election_the_controllers_run_at_once(
    cluster: Cluster, world: World
) -> None:
    """``--leader-elect=false`` and ``--secure-port=0``: no lease, no port, controllers at
    once (nobody else leads now: the intruder holds the shared lease)."""
    core = cluster.core
    core.delete_node(world.b_name)
    tainted_node(core, world.b_name, provider_id=world.b_id)
    d = Replica(
        "d",
        "tok-ccm-d-6b18",
        cluster.api,
        cluster.workdir,
        "--leader-elect=false",
        "--secure-port=0",
        "--controllers=cloud-node",
    )
    try:
        d.start()
        _wait(lambda: _initialised(core, world.b_name), "node B initialised by replica D", 60)
        writes = cluster.writes()["ccm-d"]
        assert writes["nodes"] >= 1
        assert writes["leases"] == 0
        assert cluster.holder() == "intruder"
        assert d.proc is not None and d.proc.poll() is None
        assert "secure serving" not in d.log()
    finally:
        d.stop()
    assert d.proc is not None and d.proc.returncode == 0


# Kubernetes' bootstrap ClusterRole system:auth-delegator, which CPO's chart binds for /metrics.
AUTH_DELEGATOR = [
    {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
    {
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["subjectaccessreviews"],
        "verbs": ["create"],
    },
]


def _allows(rules: list[dict[str, Any]], attrs: dict[str, Any]) -> bool:
    resource = attrs["resource"] + (f"/{attrs['subresource']}" if attrs.get("subresource") else "")
    return any(
        attrs.get("group", "") in rule.get("apiGroups", [])
        and resource in rule["resources"]
        and (attrs["verb"] in rule["verbs"] or "*" in rule["verbs"])
        for rule in rules
    )


def test_every_request_is_one_cpos_cluster_role_allows(cluster: Cluster) -> None:
    """Each request the replicas made (as the API server authorised them, every test of this
    module) is allowed by CPO's ClusterRole system:cloud-controller-manager plus
    system:auth-delegator: the process runs under CPO's RBAC unchanged."""
    roles = ROOT / "third_party/cpo-deploy/manifests/controller-manager"
    items = yaml.safe_load((roles / "cloud-controller-manager-roles.yaml").read_text())["items"]
    cpo = next(i for i in items if i["metadata"]["name"] == "system:cloud-controller-manager")
    rules = [*cpo["rules"], *AUTH_DELEGATOR]
    replicas = {"ccm-a", "ccm-b", "ccm-c", "ccm-d"}
    seen: Counter[tuple[str, str, str]] = Counter()
    outside = []
    for review in cluster.webhook.reviews("SubjectAccessReview"):
        if review["spec"]["user"] not in replicas:
            continue
        attrs = review["spec"].get("resourceAttributes")
        assert attrs is not None, f"non-resource request: {review['spec']}"
        sub = f"/{attrs['subresource']}" if attrs.get("subresource") else ""
        key = (attrs.get("group", ""), attrs["resource"] + sub, attrs["verb"])
        seen[key] += 1
        if not _allows(rules, attrs):
            outside.append(attrs)
    for used in (
        ("", "nodes", "update"),
        ("", "nodes/status", "patch"),
        ("", "events", "create"),
        ("coordination.k8s.io", "leases", "update"),
        ("authentication.k8s.io", "tokenreviews", "create"),
    ):
        assert used in seen, (used, seen)
    assert outside == [], outside


def test_wrong_password_stops_the_start_with_255_as_cpo(tmp_path: Path) -> None:
    """CPO authenticates while it initialises the provider: Keystone's 401 ends the start
    (``klog.Fatalf``), before any port or lease; the password is not printed."""
    text = Layout(resolve_dir(None, os.environ)).cloud_conf.read_text()
    wrong = "wrong-pw-5c1e"
    conf = tmp_path / "cloud.conf"
    conf.write_text(re.sub(r"(?m)^password\s*=.*$", f"password = {wrong}", text))
    assert wrong in conf.read_text()
    done = subprocess.run(
        [str(BIN), "--cloud-provider=openstack", f"--cloud-config={conf}", "--secure-port=0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 255
    assert "Cloud provider could not be initialized: " in done.stderr
    assert "401" in done.stderr
    assert wrong not in done.stderr + done.stdout
