"""Pure logic of the CAPO cluster side: names (§2.11, byte for byte), conditions, credentials
from clouds.yaml Secrets and ClusterIdentities, filters, default security group rules, the
contract helpers and the manager's address parsing. No cloud, no API server."""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Mapping
from typing import Any

import pytest

from osk8s_capo import capi, naming, params
from osk8s_capo import conditions as cond
from osk8s_capo.cluster_network import NetworkError, external_network
from osk8s_capo.cluster_secgroups import desired_rules
from osk8s_capo.credentials import (
    ConnectionSource,
    CredentialResolver,
    IdentityError,
    IdentityRef,
    auth_from_clouds_yaml,
)
from osk8s_capo.manager import split_address
from osk8s_core.credentials import ClientSettings, ConnectionCache
from osk8s_testing.local import offline_kubeconfig

CLOUDS = """
clouds:
  openstack:
    auth:
      auth_url: https://keystone.example:5000/v3
      username: alice
      password: s3cret-pw
      project_name: tenant
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example:5000/v3
      application_credential_id: ac-id
      application_credential_secret: ac-secret
    verify: false
"""


def test_names_match_capo() -> None:
    assert naming.network_name("ns", "c1") == "k8s-clusterapi-cluster-ns-c1"
    assert (
        naming.router_name("ns", "c1")
        == naming.subnet_name("ns", "c1")
        == "k8s-clusterapi-cluster-ns-c1"
    )
    assert naming.security_group_name("ns", "c1", "worker") == "k8s-cluster-ns-c1-secgroup-worker"
    assert naming.load_balancer_name("ns", "c1") == "k8s-clusterapi-cluster-ns-c1-kubeapi"
    assert (
        naming.lb_port_name(naming.load_balancer_name("ns", "c1"), 6443)
        == "k8s-clusterapi-cluster-ns-c1-kubeapi-6443"
    )
    assert naming.lb_member_name("lb", 6443, "m-0") == "lb-6443-m-0"
    assert (
        naming.description("ns", "c1") == "Created by cluster-api-provider-openstack cluster ns-c1"
    )
    assert naming.bastion_name("c1") == "c1-bastion"
    assert naming.port_name("srv", 0) == "srv-0" and naming.root_volume_name("srv") == "srv-root"
    assert naming.merge_tags(["a", "b"], None, ["b", "", "c"]) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="role"):
        naming.security_group_name("ns", "c1", "etcd")
    # osk8s's opt-in control-plane server group: one name for the machine controller that
    # makes it and the leak report that reads it back.
    group = naming.control_plane_server_group_name("ns", "c1")
    assert group == "ns-c1-control-plane"
    assert naming.server_group_cluster(group) == naming.cluster_resource_name("ns", "c1")
    assert naming.server_group_cluster("ns-c1-workers") is None
    assert naming.server_group_cluster("-control-plane") is None


def test_condition_transition_time_moves_only_on_status_change() -> None:
    times = iter([dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 2, tzinfo=dt.UTC)])
    status: dict[str, Any] = {}
    assert cond.set_condition(status, "Ready", False, "Waiting", "first", clock=lambda: next(times))
    first = cond.find(status, "Ready")
    assert first is not None and first["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert not cond.set_condition(status, "Ready", False, "Waiting", "first")  # no change, no write
    assert cond.set_condition(status, "Ready", False, "Other", "second")
    assert cond.find(status, "Ready")["lastTransitionTime"] == "2026-01-01T00:00:00Z"  # type: ignore[index]
    assert cond.set_condition(status, "Ready", True, "Ready", clock=lambda: next(times))
    assert cond.find(status, "Ready")["lastTransitionTime"] == "2026-01-02T00:00:00Z"  # type: ignore[index]
    cond.set_condition(status, "X", "Unknown", "R", "password=hunter2 " + "x" * 5000)
    x = cond.find(status, "X")
    assert (
        x is not None
        and len(x["message"]) <= cond.MESSAGE_LIMIT + 40
        and "hunter2" not in x["message"]
    )


def test_password_and_application_credential_from_clouds_yaml() -> None:
    auth = auth_from_clouds_yaml(CLOUDS, "openstack", region="RegionTwo")
    assert (auth.username, auth.project_name, auth.region) == ("alice", "tenant", "RegionTwo")
    assert auth.password is not None and auth.password.reveal() == "s3cret-pw"
    assert "s3cret-pw" not in repr(auth)
    app = auth_from_clouds_yaml(CLOUDS, "appcred", cacert="-----BEGIN CERTIFICATE-----")
    assert app.application_credential_id == "ac-id" and app.tls_insecure is True
    assert app.ca_data == "-----BEGIN CERTIFICATE-----"
    with_global_ca = auth_from_clouds_yaml(CLOUDS, "openstack", ca_file="/etc/ca.pem")
    assert with_global_ca.ca_file == "/etc/ca.pem" and with_global_ca.region == "RegionOne"


@pytest.mark.parametrize(
    ("text", "cloud", "message"),
    [
        (CLOUDS, "missing", "no cloud named 'missing'"),
        ("clouds: [", "openstack", "not valid YAML"),
        ("other: {}", "openstack", "no clouds mapping"),
        (
            "clouds: {openstack: {auth: {username: u, password: secretvalue}}}",
            "openstack",
            "auth_url",
        ),
    ],
)
def test_bad_clouds_yaml_is_a_clear_error_without_secrets(
    text: str, cloud: str, message: str
) -> None:
    with pytest.raises(IdentityError, match=message) as caught:
        auth_from_clouds_yaml(text, cloud)
    assert "secretvalue" not in str(caught.value) and "s3cret" not in str(caught.value)


class Secrets:
    def __init__(self, data: dict[tuple[str, str], dict[str, str]]) -> None:
        self.data = data
        self.reads = 0

    def read_secret(self, namespace: str, name: str) -> Mapping[str, str]:
        self.reads += 1
        if (namespace, name) not in self.data:
            raise IdentityError(f"secret {namespace}/{name} not found")
        return self.data[(namespace, name)]


class Identities:
    def __init__(self, identity: dict[str, Any] | None, labels: dict[str, str]) -> None:
        self.identity, self.labels = identity, labels

    def cluster_identity(self, name: str) -> Mapping[str, Any] | None:
        return self.identity

    def namespace_labels(self, namespace: str) -> Mapping[str, str]:
        return self.labels


def _recording_source(secrets: Secrets) -> tuple[ConnectionSource, list[Any]]:
    """A ConnectionSource whose builder records the credentials each connection is made with."""
    built: list[Any] = []

    def builder(auth: Any, *, settings: Any, ca_store: Any) -> Any:
        built.append(auth)
        return object()

    source = ConnectionSource(
        resolver=CredentialResolver(secrets=secrets),
        cache=ConnectionCache(settings=ClientSettings(component="t", version="0"), builder=builder),
    )
    return source, built


def test_one_connection_per_credential_set_and_secret_read_every_time() -> None:
    secrets = Secrets({("ns", "cloud"): {"clouds.yaml": CLOUDS}})
    source, built = _recording_source(secrets)
    ref = IdentityRef(name="cloud", cloud_name="openstack")
    first = source.connection("ns", ref)
    assert source.connection("ns", ref) is first
    assert secrets.reads == 2 and len(built) == 1
    # Rotated Secret content: a new connection at once (no restart, no cache of Secrets).
    secrets.data[("ns", "cloud")] = {"clouds.yaml": CLOUDS.replace("s3cret-pw", "rotated")}
    assert source.connection("ns", ref) is not first and len(built) == 2
    with pytest.raises(IdentityError, match="secret ns/other not found"):
        source.connection("ns", IdentityRef(name="other", cloud_name="openstack"))
    with pytest.raises(IdentityError, match=r"no 'clouds\.yaml' key"):
        secrets.data[("ns", "empty")] = {}
        source.connection("ns", IdentityRef(name="empty", cloud_name="openstack"))


def test_secret_cacert_key_reaches_the_connection_as_ca_data() -> None:
    """CAPO reads an optional ``cacert`` key next to ``clouds.yaml`` in the identity Secret:
    it must reach the connection built for that Secret (not only the parser argument)."""
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    secrets = Secrets(
        {
            ("ns", "with-ca"): {"clouds.yaml": CLOUDS, "cacert": pem},
            ("ns", "no-ca"): {"clouds.yaml": CLOUDS},
        }
    )
    source, built = _recording_source(secrets)
    source.connection("ns", IdentityRef(name="with-ca", cloud_name="openstack"))
    source.connection("ns", IdentityRef(name="no-ca", cloud_name="openstack"))
    assert [a.ca_data for a in built] == [pem, None]


def test_cluster_identity_checks_the_namespace_selector() -> None:
    secrets = Secrets({("capo-system", "central"): {"clouds.yaml": CLOUDS}})
    identity = {
        "spec": {
            "secretRef": {"name": "central", "namespace": "capo-system"},
            "namespaceSelector": {"matchLabels": {"team": "a"}},
        }
    }
    ref = IdentityRef.from_spec({"type": "ClusterIdentity", "name": "id", "cloudName": "openstack"})
    allowed = CredentialResolver(secrets=secrets, identities=Identities(identity, {"team": "a"}))
    assert allowed.resolve("tenant-a", ref).source == "secret capo-system/central"
    denied = CredentialResolver(secrets=secrets, identities=Identities(identity, {"team": "b"}))
    with pytest.raises(IdentityError, match="IdentityAccessDenied"):
        denied.resolve("tenant-b", ref)
    with pytest.raises(IdentityError, match="needs name and cloudName"):
        IdentityRef.from_spec({"name": "x"})


def test_neutron_filter_and_exactly_one_match() -> None:
    query = params.neutron_query(
        {"name": "n", "projectID": "p", "tags": ["a", "b"], "notTagsAny": ["c"]}
    )
    assert query == {"name": "n", "project_id": "p", "tags": "a,b", "not_any_tags": "c"}

    class Item:
        def __init__(self, name: str) -> None:
            self.name = name

    items = [Item("n"), Item("n")]
    with pytest.raises(params.FilterMatchError, match="2 networks match"):
        params.resolve(
            {"filter": {"name": "n"}}, what="networks", get=Item, query=lambda **_: items
        )
    with pytest.raises(params.FilterMatchError, match="no networks match"):
        params.resolve(
            {"filter": {"name": "x"}}, what="networks", get=Item, query=lambda **_: items
        )
    assert (
        params.resolve({"id": "abc"}, what="networks", get=Item, query=lambda **_: []).name == "abc"
    )


def test_default_rules_and_user_rules() -> None:
    spec = {
        "apiServer": {"managedLoadBalancer": {"additionalPorts": [8443]}},
        "managedSecurityGroups": {
            "allowAllInClusterTraffic": True,
            "controlPlaneNodesSecurityGroupRules": [
                {
                    "name": "x",
                    "direction": "ingress",
                    "protocol": "tcp",
                    "portRangeMin": 1,
                    "remoteManagedGroups": ["bastion", "worker"],
                }
            ],
        },
        "bastion": {"enabled": True, "spec": {}},
    }
    groups = {"controlplane": "cp", "worker": "w", "bastion": "b"}
    rules = desired_rules(spec, groups, ["10.0.0.0/24", "fd00::/64"])
    cp = {
        (r.protocol, r.port_range_min, r.port_range_max, r.remote_group_id, r.remote_ip_prefix)
        for r in rules["controlplane"]
    }
    assert ("tcp", 6443, 6443, None, None) in cp and ("tcp", 8443, 8443, None, None) in cp
    assert ("tcp", 22, 22, "b", None) in cp and (None, None, None, "w", None) in cp
    assert ("tcp", 1, 1, "b", None) in cp and ("tcp", 1, 1, "w", None) in cp
    worker = {(r.protocol, r.port_range_min, r.remote_ip_prefix) for r in rules["worker"]}
    assert ("udp", 30000, "10.0.0.0/24") in worker
    assert not any(prefix and ":" in prefix for _, _, prefix in worker)  # IPv4 subnets only
    assert {(r.direction, r.ethertype) for r in rules["bastion"]} >= {
        ("ingress", "IPv4"),
        ("egress", "IPv6"),
    }
    assert len({r.key() for r in rules["worker"]}) == len(rules["worker"])


def test_contract_helpers() -> None:
    osc = {
        "metadata": {
            "ownerReferences": [
                {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster", "name": "c"}
            ],
            "annotations": {"cluster.x-k8s.io/managed-by": "kamaji"},
            "labels": {"cluster.x-k8s.io/watch-filter": "a"},
            "finalizers": ["other"],
        }
    }
    assert capi.owner_name(osc, "Cluster") == "c" and capi.owner_name(osc, "Machine") is None
    assert capi.is_externally_managed(osc)
    assert capi.is_paused({"spec": {"paused": True}}, {"metadata": {}})
    assert capi.is_paused(
        {"spec": {}}, {"metadata": {"annotations": {"cluster.x-k8s.io/paused": ""}}}
    )
    assert not capi.is_paused({"spec": {}}, osc)
    assert capi.matches_watch_filter(osc, "a") and not capi.matches_watch_filter(osc, "b")
    assert (
        capi.finalizers_with(osc, "f") == ["other", "f"]
        and capi.finalizers_without(osc, "other") == []
    )


def test_addresses() -> None:
    assert split_address(":9440") == ("0.0.0.0", 9440)
    assert split_address("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert split_address("[::1]:8443") == ("::1", 8443)
    assert split_address("0") is None and split_address("") is None


def test_status_merge_patch_nulls_removed_nested_fields() -> None:
    """A shrunk ``bastion`` record (server recreated) leaves no stale id/ip behind."""
    from osk8s_capo.cluster_controller import merge_patch

    base = {
        "bastion": {"name": "c-bastion", "id": "old", "state": "ACTIVE", "ip": "10.0.0.5"},
        "router": {"id": "r", "ips": ["1.2.3.4"]},
        "ready": True,
    }
    new = {"bastion": {"name": "c-bastion"}, "router": {"id": "r", "ips": ["5.6.7.8"]}}
    assert merge_patch(base, new) == {
        "bastion": {"id": None, "state": None, "ip": None},
        "router": {"ips": ["5.6.7.8"]},
        "ready": None,
    }
    assert merge_patch(new, new) == {}
    assert merge_patch({}, {"bastion": {"name": "b"}}) == {"bastion": {"name": "b"}}


def test_flags_reach_the_workers_the_namespace_and_the_log_level(tmp_path: Any) -> None:
    """``--<kind>-concurrency``, ``--namespace``, ``--sync-period``, the lease flags and ``-v``
    as ``app.run`` wires them: the worker count each controller runs with, the manager's
    namespace, the informers' resync period, the lease duration, the root log level."""
    import logging

    import structlog

    from osk8s_capo import app
    from osk8s_capo.cli import build_parser
    from osk8s_capo.kube import OPENSTACK_CLUSTER

    kubeconfig = offline_kubeconfig(tmp_path)
    args = build_parser().parse_args(
        [
            f"--kubeconfig={kubeconfig}",
            "--openstackcluster-concurrency=3",
            "--openstackmachine-concurrency",
            "4",
            "--openstackmachinetemplate-concurrency=2",
            "--namespace=team-a",
            "--feature-gates=AutoScaleFromZero=true",
            "-v=5",
            "--sync-period=5m",
            "--leader-elect",
            "--leader-elect-lease-duration=30s",
        ]
    )
    manager = app.build(args, environ={})
    workers = {c.name: c.settings.workers for c in manager.controllers}
    assert workers == {
        "openstackcluster": 3,
        "openstackmachine": 4,
        "openstackserver": 4,  # CAPO: the machine concurrency
        "openstackmachinetemplate": 2,
    }
    assert manager.options.namespace == "team-a"
    assert manager.informer(OPENSTACK_CLUSTER).settings.resync_period == 300.0
    assert manager.options.leader_elect and manager.options.lease_duration == 30.0
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, structlog.get_config())
    try:
        app.configure(args)
        assert root.level == logging.DEBUG  # -v >= 4
        app.configure(build_parser().parse_args(["-v=2"]))
        assert root.level == logging.INFO
    finally:
        for handler in list(root.handlers):
            if handler not in saved[0]:
                root.removeHandler(handler)
        for handler in saved[0]:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(saved[1])
        structlog.configure(**saved[2])


class _Networks:
    """The one query ``external_network`` makes when ``spec.externalNetwork`` is unset."""

    def __init__(self, *names: str) -> None:
        self.found = [types.SimpleNamespace(id=f"id-{n}", name=n, tags=[]) for n in names]

    def networks(self, **filters: Any) -> list[Any]:
        assert filters == {"is_router_external": True}
        return self.found


def test_external_network_auto_detection() -> None:
    """capo.md §1.2: unset → the only external network; none → run without one; several →
    an error naming the fix; ``enableExternalNetwork: false`` → none, without a query."""

    def scope(*names: str) -> Any:
        return types.SimpleNamespace(networking=_Networks(*names))

    assert external_network(scope("public"), {}) == {"id": "id-public", "name": "public"}
    assert external_network(scope(), {}) is None
    with pytest.raises(NetworkError, match="found 2 external networks") as info:
        external_network(scope("a", "b"), {})
    assert info.value.reason == "ExternalNetworkNotFound"
    assert external_network(types.SimpleNamespace(), {"enableExternalNetwork": False}) is None


class _DeleteScope:
    """The load-balancer and floating-IP calls of the API LB deletion, recorded in order."""

    def __init__(self, state: str | None) -> None:
        self.calls: list[str] = []
        self.lb = (
            None
            if state is None
            else types.SimpleNamespace(
                id="lb-1",
                name=naming.load_balancer_name("ns", "c1"),
                vip_port_id="vip-port",
                provisioning_status=state,
            )
        )
        self.load_balancers = types.SimpleNamespace(
            get=self._get, query=lambda **f: [self.lb] if self.lb else [], delete=self._delete
        )
        self.floating_ips = types.SimpleNamespace(
            query=lambda **f: [
                types.SimpleNamespace(id="fip-1", floating_ip_address="203.0.113.5")
            ],
            delete=lambda fip_id: self.calls.append(f"fip_delete {fip_id}"),
            disassociate=lambda fip_id: self.calls.append(f"fip_disassociate {fip_id}"),
        )

    def _get(self, lb_id: str) -> Any:
        self.calls.append(f"lb_get {lb_id}")
        return self.lb

    def _delete(self, lb_id: str, *, cascade: bool) -> None:
        self.calls.append(f"lb_delete {lb_id} cascade={cascade}")


def test_api_load_balancer_deletion_order_and_requeues() -> None:
    """capo.md §2.8 (c) and §2.12: the VIP floating IP goes first (the user's is only
    detached), then the LB with cascade; while it is going, requeue after 15 s; gone → done."""
    from osk8s_capo import cluster_delete
    from osk8s_capo.cluster_network import ClusterRef

    ref = ClusterRef("ns", "c1")
    status = {"apiServerManagedLoadBalancer": {"id": "lb-1"}}
    active = _DeleteScope("ACTIVE")
    told: list[tuple[str, str]] = []
    pending = cluster_delete.delete_api_load_balancer(
        active,  # type: ignore[arg-type]
        ref,
        {},
        status,
        tell=lambda reason, message: told.append((reason, message)),
    )
    assert pending is not None and pending.after == 15.0
    assert active.calls == ["lb_get lb-1", "fip_delete fip-1", "lb_delete lb-1 cascade=True"]
    assert told == [
        ("SuccessfulDeleteFloatingIP", "Deleted floating IP 203.0.113.5 with id fip-1"),
        (
            "SuccessfulDeleteLoadBalancer",
            "Deleted load balancer k8s-clusterapi-cluster-ns-c1-kubeapi with id lb-1",
        ),
    ]
    user_fip = {"apiServer": {"floatingIP": "203.0.113.5"}}
    kept = _DeleteScope("ACTIVE")
    cluster_delete.delete_api_load_balancer(kept, ref, user_fip, status)  # type: ignore[arg-type]
    assert kept.calls[1] == "fip_disassociate fip-1"
    for state in ("PENDING_UPDATE", "PENDING_DELETE"):
        waiting = _DeleteScope(state)
        pending = cluster_delete.delete_api_load_balancer(waiting, ref, {}, status)  # type: ignore[arg-type]
        assert pending is not None and pending.after == 15.0
        assert not any(c.startswith("lb_delete") for c in waiting.calls)
    assert cluster_delete.delete_api_load_balancer(_DeleteScope(None), ref, {}, status) is None  # type: ignore[arg-type]


def test_requeue_timings_match_capo() -> None:
    """capo.md §2.12 values the controllers return (the reconcile paths that return them are
    exercised in the contract tests): machines still there 5 s, bastion not ready 15 s."""
    from osk8s_capo import bastion, cluster_controller

    assert cluster_controller.MACHINES_REQUEUE == 5.0
    assert bastion.REQUEUE == 15.0


def test_create_events_name_only_what_this_pass_recorded_first() -> None:
    from osk8s_capo import cluster_events

    managed = {"managedSubnets": [{"cidr": "10.6.0.0/24"}]}
    after = {
        "network": {"id": "n1", "name": "net", "subnets": [{"id": "s1", "name": "net"}]},
        "router": {"id": "r1", "name": "net"},
        "controlPlaneSecurityGroup": {"id": "g1", "name": "cp"},
        "workerSecurityGroup": {"id": "g2", "name": "w"},
        "apiServerManagedLoadBalancer": {
            "id": "lb1",
            "name": "kubeapi",
            "internalIP": "10.6.0.9",
            "ip": "203.0.113.4",
        },
    }
    assert cluster_events.created(managed, {}, after) == [
        ("SuccessfulCreateNetwork", "Created network net with id n1"),
        ("SuccessfulCreateSubnet", "Created subnet net with id s1"),
        ("SuccessfulCreateRouter", "Created router net with id r1"),
        ("SuccessfulCreateSecurityGroup", "Created security group cp with id g1"),
        ("SuccessfulCreateSecurityGroup", "Created security group w with id g2"),
        ("SuccessfulCreateLoadBalancer", "Created load balancer kubeapi with id lb1"),
        ("SuccessfulCreateFloatingIP", "Created floating IP 203.0.113.4"),
    ]
    assert cluster_events.created(managed, after, after) == []  # nothing new
    # The user's network, router and floating IP are not announced as created.
    user = {"router": {"id": "r1"}, "apiServer": {"floatingIP": "203.0.113.4"}}
    reasons = [r for r, _ in cluster_events.created(user, {}, after)]
    assert reasons == ["SuccessfulCreateSecurityGroup"] * 2 + ["SuccessfulCreateLoadBalancer"]
