"""A crash at each step of building an Ingress's load balancer, then a restart, converges with
no duplicate (issue 15, beyond 5), on the real Octavia, Neutron and Barbican.

The Ingress has everything a create can make: a TLS Secret (a PKCS#12 secret in Barbican and a
TERMINATED_HTTPS listener), ``internal: "false"`` (a floating IP on the VIP), managed security
groups (a group, its NodePort rule, the group on a node's Neutron port), a pool with two
members and an L7 policy with two rules.

1. Octavia's fully populated create (the default): a crash right after its one POST answered
   leaves the whole tree (atomic); the restart adopts it and finishes. Then the controller
   deletes everything, and nothing of it is left.
2. ``provider-requires-serial-api-calls``, from nothing: one crash after each kind of create
   (the first of each; the members' batch PUT has no point of its own, so the crash after it is
   the next policy create's ``.before``). Each restart is the next crash's run: it adopts what
   the crash left and goes on to the next step, where it dies. After every crash the world
   holds exactly what was made before that point, one of each (so the crash fell there, after
   the create answered, and no restart made a second one). A last restart converges: exactly
   one LB, listener, pool (two members), policy (two rules), Barbican secret, security group
   (one rule, on the node's port) and floating IP, and the status names the floating IP. The
   crash runs record their points: a create step with no crash in the chain fails the test.
   Then the controller's delete leaves nothing.

Trade-off (CI time): one chain of crashes over one build instead of one full build (or a
removal and re-creation) per crash point; convergence is checked once, after the last restart,
while the per-crash snapshots check "no duplicate, the crash fell there". Checks are scoped to
this test's names: other test files run in parallel on the same cloud.
"""

from __future__ import annotations

import base64
import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from osk8s_core.config import CloudConfig
from osk8s_core.crashpoints import NO_CRASH_POINTS, CrashPoints
from osk8s_octavia_ingress import naming
from osk8s_octavia_ingress.reconciler import IngressReconciler
from osk8s_testing.crashpoints import CrashAt, Point, RecordingCrashPoints, SimulatedCrash
from osk8s_testing.tls import self_signed_localhost

from .conftest import Builder, Kube, delete_lbs

pytestmark = pytest.mark.contract

P = "octavia.ingress.kubernetes.io/"
NAME = "crash-full"
KEY = f"default/{NAME}"
TLS_SECRET = "crash-full-tls"
NODE_PORT = 30381
OTHER_NODE_IP = "10.23.0.12"
HOST = "crash.example.com"


@dataclass
class World:
    """What the test made outside the controller, and the names the controller derives."""

    cluster: str
    resource: str
    node_port_id: str
    node_ip: str
    subnet_cidr: str
    floating_network_id: str
    conn: Connection
    kube: Kube
    vip_ports: set[str] = field(default_factory=set)
    group_ids: set[str] = field(default_factory=set)

    @property
    def barbican_name(self) -> str:
        return naming.secret_name(self.cluster, "default", NAME, TLS_SECRET)

    @property
    def fip_description(self) -> str:
        return naming.fip_description(self.cluster, "default", NAME)

    # What exists now (each a list of this Ingress's objects of one kind)

    @property
    def lb_api(self) -> Any:
        return self.conn.load_balancer

    @property
    def net(self) -> Any:
        return self.conn.network

    def lbs(self) -> list[Any]:
        return list(self.lb_api.load_balancers(name=self.resource))

    def lb(self) -> Any:
        (lb,) = self.lbs()
        return lb

    def secrets(self) -> list[Any]:
        """The Barbican secrets of the Ingress's one TLS Secret (a duplicate has its name)."""
        return list(self.conn.key_manager.secrets(name=self.barbican_name))

    def groups(self) -> list[Any]:
        return list(self.net.security_groups(name=self.resource))

    def fips(self) -> list[Any]:
        """Floating IPs this controller allocated for the Ingress, wherever they are."""
        return list(
            self.net.ips(
                floating_network_id=self.floating_network_id, description=self.fip_description
            )
        )

    def ingress(self) -> Any:
        return self.kube.net.read_namespaced_ingress(NAME, "default")

    def counts(self) -> dict[str, int]:
        """How many of each of the Ingress's objects exist now."""
        lb_api, net = self.lb_api, self.net
        lbs = self.lbs()
        listeners = [x for lb in lbs for x in lb_api.listeners(load_balancer_id=lb.id)]
        pools = [x for lb in lbs for x in lb_api.pools(loadbalancer_id=lb.id)]
        policies = [x for li in listeners for x in lb_api.l7_policies(listener_id=li.id)]
        groups = self.groups()
        return {
            "secret": len(self.secrets()),
            "loadbalancer": len(lbs),
            "listener": len(listeners),
            "pool": len(pools),
            "member": sum(len(list(lb_api.members(p.id))) for p in pools),
            "l7policy": len(policies),
            "l7rule": sum(len(list(lb_api.l7_rules(x.id))) for x in policies),
            "security_group": len(groups),
            "security_group_rule": sum(len(_ingress_rules(net, g.id)) for g in groups),
            "floating_ip": len(self.fips()),
        }


def _secret_id(secret: Any) -> str:
    """The SDK's Secret.id is the whole href; its delete wants the uuid."""
    return str(secret.secret_ref).rsplit("/", 1)[-1]


def _ingress_rules(net: Any, group_id: str) -> list[Any]:
    found = net.security_group_rules(security_group_id=group_id)
    return [r for r in found if r.direction == "ingress"]


FULL = {
    "secret": 1,
    "loadbalancer": 1,
    "listener": 1,
    "pool": 1,
    "member": 2,
    "l7policy": 1,
    "l7rule": 2,
    "security_group": 1,
    "security_group_rule": 1,
    "floating_ip": 1,
}
"""What the Ingress wants: one of each, two members (two nodes), two rules (host, path)."""


def verify_converged(world: World) -> None:
    """Exactly one of each object, each as the Ingress wants it, and the status right."""
    lb_api, net = world.lb_api, world.net
    lb = world.lb()
    world.vip_ports.add(lb.vip_port_id)
    (secret,) = world.secrets()
    assert secret.name == world.barbican_name
    (listener,) = lb_api.listeners(load_balancer_id=lb.id)
    assert (listener.name, listener.protocol, listener.protocol_port) == (
        world.resource,
        "TERMINATED_HTTPS",
        443,
    )
    assert listener.default_tls_container_ref == secret.secret_ref
    assert listener.sni_container_refs == [secret.secret_ref]
    (pool,) = lb_api.pools(loadbalancer_id=lb.id)
    members = sorted((m.address, m.protocol_port) for m in lb_api.members(pool.id))
    assert members == sorted([(world.node_ip, NODE_PORT), (OTHER_NODE_IP, NODE_PORT)])
    (policy,) = lb_api.l7_policies(listener_id=listener.id)
    assert policy.redirect_pool_id == pool.id
    rules = sorted((r.type, r.rule_value) for r in lb_api.l7_rules(policy.id))
    assert rules == [("HOST_NAME", r"^crash\.example\.com(:443)?$"), ("PATH", r"^/app(/.*)?$")]
    (group,) = world.groups()
    world.group_ids.add(group.id)
    assert [
        (r.protocol, r.port_range_min, r.port_range_max, r.remote_ip_prefix)
        for r in _ingress_rules(net, group.id)
    ] == [("tcp", NODE_PORT, NODE_PORT, world.subnet_cidr)]
    assert group.id in net.get_port(world.node_port_id).security_group_ids
    (fip,) = world.fips()
    assert world.counts() == FULL
    assert fip.port_id == lb.vip_port_id
    assert [x.id for x in net.ips(port_id=lb.vip_port_id)] == [fip.id]
    ingress = world.ingress()
    assert [x.ip for x in ingress.status.load_balancer.ingress] == [fip.floating_ip_address]
    assert naming.processed_version(lb.description) == ingress.metadata.resource_version


def verify_gone(world: World) -> None:
    """Nothing of the Ingress is left: the controller's delete removed every object."""
    assert world.lbs() == []
    assert world.secrets() == []
    assert world.groups() == []
    assert world.fips() == []
    assert world.group_ids
    assert not world.group_ids & set(world.net.get_port(world.node_port_id).security_group_ids)
    assert world.vip_ports
    for port_id in world.vip_ports:
        assert list(world.net.ports(id=port_id)) == []


@dataclass(frozen=True)
class Step:
    point: str
    """The crash point (the first reach of that name in the run)."""
    kind: str
    made: int = 1
    """How many of ``kind`` exist right after the crash."""


# A serial create's steps in the order the controller takes them (see the module docstring).
CHAIN = (
    Step("secret_create.after", "secret"),
    Step("loadbalancer_create.after", "loadbalancer"),
    Step("loadbalancer_listener_create.after", "listener"),
    Step("loadbalancer_pool_create.after", "pool"),
    Step("loadbalancer_l7policy_create.before", "member", 2),
    Step("loadbalancer_l7policy_create.after", "l7policy"),
    Step("loadbalancer_l7rule_create.after", "l7rule"),
    Step("security_group_create.after", "security_group"),
    Step("security_group_rule_create.after", "security_group_rule"),
    Step("floating_ip_create.after", "floating_ip"),
)


def _at_crash(index: int) -> dict[str, int]:
    """The counts a crash at ``CHAIN[index]`` leaves: every earlier step done, this one's
    object made, nothing later."""
    done = {step.kind for step in CHAIN[:index]}
    expected = {kind: FULL[kind] if kind in done else 0 for kind in FULL}
    expected[CHAIN[index].kind] = CHAIN[index].made
    return expected


class RecordAndCrash:
    """Records every point reached and crashes at one."""

    def __init__(self, point: str) -> None:
        self.recorder = RecordingCrashPoints()
        self.crash = CrashAt(Point(point))

    def reach(self, name: str) -> None:
        self.recorder.reach(name)
        self.crash.reach(name)


@pytest.fixture
def world(
    kube: Kube,
    ingress_conn: Connection,
    ingress_cloud_config: CloudConfig,
    cluster: str,
    tmp_path: Path,
) -> Iterator[World]:
    net: Any = ingress_conn.network
    options = ingress_cloud_config.load_balancer
    server_id = str(uuid.uuid4())
    port = net.create_port(
        network_id=options.network_id, name=f"{cluster}-node", device_id=server_id
    )
    node_ip = port.fixed_ips[0]["ip_address"]
    w = World(
        cluster=cluster,
        resource=naming.resource_name(cluster, "default", NAME),
        node_port_id=port.id,
        node_ip=node_ip,
        subnet_cidr=net.get_subnet(options.subnet_id).cidr,
        floating_network_id=options.floating_network_id,
        conn=ingress_conn,
        kube=kube,
    )
    try:
        _populate(kube, server_id, node_ip, tmp_path)
        yield w
    finally:
        delete_lbs(ingress_conn, w.resource)
        for fip in w.fips():
            net.delete_ip(fip.id, ignore_missing=True)
        for secret in w.secrets():
            ingress_conn.key_manager.delete_secret(_secret_id(secret), ignore_missing=True)
        net.delete_port(port.id, ignore_missing=True)
        for group in w.groups():
            with contextlib.suppress(Exception):
                net.delete_security_group(group.id, ignore_missing=True)


def _populate(kube: Kube, server_id: str, node_ip: str, tmp_path: Path) -> None:
    kube.core.create_node(
        {"metadata": {"name": "crash-full-a"}, "spec": {"providerID": f"openstack:///{server_id}"}}
    )
    kube.core.patch_node_status(
        "crash-full-a",
        {
            "status": {
                "addresses": [{"type": "InternalIP", "address": node_ip}],
                "conditions": [{"type": "Ready", "status": "True"}],
            }
        },
    )
    kube.node("crash-full-b", OTHER_NODE_IP)
    kube.service("crash-full-web", [{"name": "http", "port": 80, "nodePort": NODE_PORT}])
    files = self_signed_localhost(tmp_path)
    kube.core.create_namespaced_secret(
        "default",
        {
            "metadata": {"name": TLS_SECRET},
            "type": "kubernetes.io/tls",
            "data": {
                "tls.crt": base64.b64encode(Path(files.cert).read_bytes()).decode(),
                "tls.key": base64.b64encode(Path(files.key).read_bytes()).decode(),
            },
        },
    )
    _create_ingress(kube)


def _create_ingress(kube: Kube) -> None:
    path = {
        "path": "/app",
        "pathType": "Prefix",
        "backend": {"service": {"name": "crash-full-web", "port": {"name": "http"}}},
    }
    kube.net.create_namespaced_ingress(
        "default",
        {
            "metadata": {
                "name": NAME,
                "annotations": {
                    "kubernetes.io/ingress.class": "openstack",
                    P + "internal": "false",
                },
            },
            "spec": {
                "tls": [{"hosts": [HOST], "secretName": TLS_SECRET}],
                "rules": [{"host": HOST, "http": {"paths": [path]}}],
            },
        },
    )


def _crash(reconciler: IngressReconciler, crash: CrashAt) -> None:
    with pytest.raises(SimulatedCrash):
        reconciler.sync(KEY)
    assert crash.crashed, f"crash point {crash.point} was not reached"


def test_crash_after_each_create_step_converges(
    world: World, make_reconciler: Builder, cluster: str
) -> None:
    def reconciler(points: CrashPoints, *, serial: bool = True) -> IngressReconciler:
        made, _ = make_reconciler(
            cluster,
            floating=True,
            serial=serial,
            manage_security_groups=True,
            crash_points=points,
        )
        return made

    # 1. The populated create, crashed after its POST: the whole tree is there, atomically.
    crash = CrashAt(Point("loadbalancer_create.after"))
    _crash(reconciler(crash, serial=False), crash)
    assert world.counts() == {
        **FULL,
        "security_group": 0,
        "security_group_rule": 0,
        "floating_ip": 0,
    }
    assert reconciler(NO_CRASH_POINTS, serial=False).sync(KEY).action == "ensured"
    verify_converged(world)
    world.kube.net.delete_namespaced_ingress(NAME, "default")
    assert reconciler(NO_CRASH_POINTS).sync(KEY).action == "deleted"
    verify_gone(world)

    # 2. Serial from nothing: each restart dies at the next step.
    _create_ingress(world.kube)
    reached: set[str] = set()
    for index, step in enumerate(CHAIN):
        run = RecordAndCrash(step.point)
        _crash(reconciler(run), run.crash)
        reached.update(p.name for p in run.recorder.reached)
        assert world.counts() == _at_crash(index), f"after the crash at {step.point}"
    last = RecordingCrashPoints()
    assert reconciler(last).sync(KEY).action == "ensured"
    reached.update(p.name for p in last.reached)
    verify_converged(world)
    creates = {name for name in reached if name.endswith(".after")}
    assert creates == {s.point for s in CHAIN if s.point.endswith(".after")}, (
        "a step not crashed at"
    )
    assert reconciler(NO_CRASH_POINTS).sync(KEY).action == "skipped"

    # The controller's delete leaves nothing of it.
    world.kube.net.delete_namespaced_ingress(NAME, "default")
    assert reconciler(NO_CRASH_POINTS).sync(KEY).action == "deleted"
    verify_gone(world)
