"""OpenStackCluster against the real test cloud, with CAPI Cluster objects in the in-memory
API server serving CAPO's CRDs (defaults, pruning, CEL): the managed network path with
security groups and the API load balancer, idle reconciles, rule changes, deletion leaving
nothing; the existing-network/no-LB path; pause; errors as conditions that recover."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from openstack.connection import Connection

from osk8s_capo import conditions as cond
from osk8s_capo import naming
from osk8s_capo.cluster_controller import FINALIZER
from osk8s_capo.kube import OPENSTACK_SERVER

from .capo_harness import World

pytestmark = pytest.mark.contract

CNI_RULE = {
    "name": "BGP (calico)",
    "direction": "ingress",
    "etherType": "IPv4",
    "protocol": "tcp",
    "portRangeMin": 179,
    "portRangeMax": 179,
    "remoteManagedGroups": ["controlplane", "worker"],
}


def with_password(clouds_yaml: str, password: str) -> str:
    data = yaml.safe_load(clouds_yaml)
    data["clouds"]["openstack"]["auth"]["password"] = password
    return str(yaml.safe_dump(data))


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    found = cond.find((obj or {}).get("status"), type_)
    assert found is not None, f"no {type_} condition in {json.dumps((obj or {}).get('status'))}"
    return found


def is_ready(obj: dict[str, Any] | None) -> bool:
    return obj is not None and cond.is_true(obj.get("status"), cond.READY)


def external_network_id(demo: Connection) -> str:
    nets = list(demo.network.networks(is_router_external=True))
    assert nets, "the test cloud has an external network"
    return sorted(nets, key=lambda n: n.name)[0].id


@pytest.fixture(scope="module")
def managed(capo_api: Any, capo_clouds_yaml: str, demo: Connection) -> Iterator[tuple[World, str]]:
    """One fully managed cluster (network, router, SGs, API LB with FIP) shared by the
    read-only checks; deleted (and checked empty) at the end."""
    world = World(capo_api, capo_clouds_yaml, demo)
    name = "full"
    world.create_cluster(
        name,
        {
            "managedSubnets": [{"cidr": "10.6.0.0/24", "dnsNameservers": ["192.0.2.53"]}],
            "externalNetwork": {"id": external_network_id(demo)},
            "apiServer": {
                "managedLoadBalancer": {
                    "allowedCIDRs": ["192.0.2.0/24", "198.51.100.7", "bad"],
                    # Neither exists on the test cloud: warnings, Octavia's defaults (amphora).
                    "provider": "ovn",
                    "flavor": "osk8s-no-such-flavor",
                }
            },
            "managedSecurityGroups": {"clusterNodesSecurityGroupRules": [CNI_RULE]},
            "tags": ["osk8s-test"],
        },
    )
    world.converge(name, until=is_ready)
    yield world, name
    world.delete(name)
    left = world.cloud_objects(name)
    assert all(not ids for ids in left.values()), left


def test_managed_cluster_is_ready_with_contract_fields(
    managed: tuple[World, str], demo: Connection
) -> None:
    world, name = managed
    osc = world.osc(name)
    status, spec = osc["status"], osc["spec"]
    assert FINALIZER in osc["metadata"]["finalizers"]
    assert status["initialization"]["provisioned"] is True
    for type_ in (
        cond.READY,
        cond.NETWORK_READY,
        cond.ROUTER_READY,
        cond.SECURITY_GROUPS_READY,
        cond.API_ENDPOINT_READY,
        cond.AUTHENTICATED,
    ):
        assert condition(osc, type_)["status"] == "True", type_
    assert condition(osc, cond.PAUSED)["status"] == "False"
    # CRD schema defaults were applied by the API server (CAPO relies on them).
    assert spec["identityRef"]["type"] == "Secret"
    assert spec["apiServer"]["managedLoadBalancer"]["enabled"] is True
    assert [fd["name"] for fd in status["failureDomains"]] == ["az-1", "az-2"]
    assert all(fd["controlPlane"] for fd in status["failureDomains"])
    managed_name = naming.network_name(world.namespace, name)
    network = demo.network.get_network(status["network"]["id"])
    assert network.name == managed_name and "osk8s-test" in network.tags
    subnet = demo.network.get_subnet(status["network"]["subnets"][0]["id"])
    assert subnet.cidr == "10.6.0.0/24" and subnet.dns_nameservers == ["192.0.2.53"]
    router = demo.network.get_router(status["router"]["id"])
    assert router.name == managed_name
    assert router.external_gateway_info["network_id"] == status["externalNetwork"]["id"]
    ports = list(demo.network.ports(device_id=router.id, network_id=network.id))
    assert [ip["subnet_id"] for p in ports for ip in p.fixed_ips] == [subnet.id]


def test_api_load_balancer_active_with_floating_ip(
    managed: tuple[World, str], demo: Connection
) -> None:
    world, name = managed
    osc = world.osc(name)
    lb_status = osc["status"]["apiServerManagedLoadBalancer"]
    lb = demo.load_balancer.get_load_balancer(lb_status["id"])
    lb_name = naming.load_balancer_name(world.namespace, name)
    assert lb.name == lb_name and lb.provisioning_status == "ACTIVE"
    # The spec's "ovn" is not a provider here: the LB is Octavia's default, and the ACL and
    # the pool method follow the LB's real provider.
    assert lb.provider == "amphora" and lb.flavor_id is None
    assert lb.vip_address == lb_status["internalIP"]
    listeners = list(demo.load_balancer.listeners(load_balancer_id=lb.id))
    assert [(x.name, x.protocol, x.protocol_port) for x in listeners] == [
        (f"{lb_name}-6443", "TCP", 6443)
    ]
    pools = list(demo.load_balancer.pools(loadbalancer_id=lb.id))
    assert [(p.name, p.lb_algorithm) for p in pools] == [(f"{lb_name}-6443", "ROUND_ROBIN")]
    monitors = list(demo.load_balancer.health_monitors(pool_id=pools[0].id))
    assert [(m.type, m.delay, m.timeout, m.max_retries, m.max_retries_down) for m in monitors] == [
        ("TCP", 10, 5, 5, 3)
    ]
    router_ip = osc["status"]["router"]["ips"][0]
    acl = sorted(["192.0.2.0/24", "198.51.100.7/32", "10.6.0.0/24", f"{router_ip}/32"])
    assert sorted(listeners[0].allowed_cidrs) == acl == lb_status["allowedCIDRs"]
    fips = list(demo.network.ips(port_id=lb.vip_port_id))
    assert [f.floating_ip_address for f in fips] == [lb_status["ip"]]
    assert osc["spec"]["controlPlaneEndpoint"] == {"host": lb_status["ip"], "port": 6443}


def test_security_groups_default_and_cluster_rules(
    managed: tuple[World, str], demo: Connection
) -> None:
    world, name = managed
    status = world.osc(name)["status"]
    cp, worker = status["controlPlaneSecurityGroup"], status["workerSecurityGroup"]
    assert cp["name"] == naming.security_group_name(world.namespace, name, "controlplane")
    assert "bastionSecurityGroup" not in status

    def rules(group_id: str) -> set[tuple[Any, ...]]:
        return {
            (
                r.direction,
                r.protocol,
                r.port_range_min,
                r.port_range_max,
                r.remote_group_id,
                r.remote_ip_prefix,
            )
            for r in demo.network.security_group_rules(security_group_id=group_id)
            if r.direction == "ingress"
        }

    cp_rules, worker_rules = rules(cp["id"]), rules(worker["id"])
    assert ("ingress", "tcp", 6443, 6443, None, None) in cp_rules
    assert ("ingress", "tcp", 2379, 2380, cp["id"], None) in cp_rules
    assert ("ingress", "tcp", 30000, 32767, None, "10.6.0.0/24") in worker_rules
    for group_rules in (cp_rules, worker_rules):
        assert ("ingress", "tcp", 179, 179, cp["id"], None) in group_rules
        assert ("ingress", "tcp", 179, 179, worker["id"], None) in group_rules


def test_unchanged_cluster_reconcile_makes_no_write(managed: tuple[World, str]) -> None:
    world, name = managed
    before_rv = world.osc(name)["metadata"]["resourceVersion"]
    events = world.event_counts(name)
    counts = world.api_requests()
    world.reconciler().reconcile(world.key(name))
    after = world.api_requests()
    delta = {k: v - counts.get(k, 0) for k, v in after.items() if v != counts.get(k, 0)}
    writes = {
        k: v
        for k, v in delta.items()
        if not k.endswith(("_list", "_get")) and k != "identity_token_get"
    }
    assert writes == {}, delta
    assert world.osc(name)["metadata"]["resourceVersion"] == before_rv
    assert world.event_counts(name) == events  # nothing new to tell


def test_each_create_is_told_once_by_an_event(managed: tuple[World, str]) -> None:
    """CAPO's ``SuccessfulCreate<Kind>`` events, one per object made (capo.md §2.10)."""
    world, name = managed
    counts = world.event_counts(name)
    created = {k: v for k, v in counts.items() if k.startswith("SuccessfulCreate")}
    assert created == {
        "SuccessfulCreateNetwork": 1,
        "SuccessfulCreateSubnet": 1,
        "SuccessfulCreateRouter": 1,
        "SuccessfulCreateSecurityGroup": 2,
        "SuccessfulCreateLoadBalancer": 1,
        "SuccessfulCreateListener": 1,
        "SuccessfulCreatePool": 1,
        "SuccessfulCreateMonitor": 1,
        "SuccessfulCreateFloatingIP": 1,
    }
    assert counts["Provisioned"] == 1
    # Found again on every pass, told once (the idle-reconcile test checks no recount).
    warnings = {(r, m) for t, r, m in world.events_of(name) if t == "Warning"}
    assert warnings == {
        (
            "FailedIPAddressValidation",
            "bad is not a valid IP nor CIDR address and will not get applied to allowed_cidrs",
        ),
        (
            "OctaviaProviderNotFound",
            "Provider ovn specified for Octavia not found, using the default provider.",
        ),
        (
            "OctaviaFlavorNotFound",
            "Flavor osk8s-no-such-flavor specified for Octavia not found, using the default "
            "flavor.",
        ),
    }
    assert all(counts[r] == 1 for r, _ in warnings)
    network = world.osc(name)["status"]["network"]
    messages = [m for t, r, m in world.events_of(name) if r == "SuccessfulCreateNetwork"]
    assert messages == [f"Created network {network['name']} with id {network['id']}"]


def test_rule_change_is_reconciled_by_diff(managed: tuple[World, str], demo: Connection) -> None:
    """Runs last on the shared cluster: a changed rule list converges (the old rule is
    deleted, the new one created, the defaults left alone)."""
    world, name = managed
    osc = world.osc(name)
    worker = osc["status"]["workerSecurityGroup"]["id"]
    before = {r.id for r in demo.network.security_group_rules(security_group_id=worker)}
    vxlan = {
        "name": "VXLAN",
        "direction": "ingress",
        "etherType": "IPv4",
        "protocol": "udp",
        "portRangeMin": 4789,
        "portRangeMax": 4789,
        "remoteIPPrefix": "10.6.0.0/24",
    }
    world.kube.patch(
        world.kube_objects_resource(),
        osc,
        {
            "spec": {
                "managedSecurityGroups": {"clusterNodesSecurityGroupRules": [vxlan]},
                "apiServer": {"managedLoadBalancer": {"allowedCIDRs": ["203.0.113.0/24"]}},
            }
        },
    )
    world.reconciler().reconcile(world.key(name))
    # The listener's allowed CIDRs follow the spec (updated in place).
    status = world.osc(name)["status"]
    lb_id = status["apiServerManagedLoadBalancer"]["id"]
    (listener,) = demo.load_balancer.listeners(load_balancer_id=lb_id)
    assert "203.0.113.0/24" in listener.allowed_cidrs
    assert "192.0.2.0/24" not in listener.allowed_cidrs
    updated = [m for t, r, m in world.events_of(name) if r == "SuccessfulUpdateListener"]
    assert updated == [
        f"Updated allowed_cidrs [{' '.join(sorted(listener.allowed_cidrs))}] for listener "
        f"{listener.name} "
        f"with id {listener.id}"
    ]
    rules = list(demo.network.security_group_rules(security_group_id=worker))
    shapes = {(r.protocol, r.port_range_min, r.remote_ip_prefix) for r in rules}
    assert ("udp", 4789, "10.6.0.0/24") in shapes
    assert not any(r.port_range_min == 179 for r in rules)
    kept = {r.id for r in rules}
    assert len(before - kept) == 2  # the two BGP rules (from cp and from workers)
    assert len(kept - before) == 1


def test_existing_network_without_load_balancer(world: World, demo: Connection) -> None:
    """The user's network and subnet are used (never changed, never deleted); no LB and no
    floating IP: the endpoint is apiServer.fixedIP."""
    net = demo.network.create_network(name=f"{world.namespace}-user-net")
    subnet = demo.network.create_subnet(
        network_id=net.id, name=f"{world.namespace}-user-subnet", cidr="10.77.0.0/24", ip_version=4
    )
    try:
        world.create_cluster(
            "byo",
            {
                "network": {"filter": {"name": net.name}},
                "enableExternalNetwork": False,
                "apiServer": {"enableFloatingIP": False, "fixedIP": "10.77.0.10"},
            },
        )
        osc = world.converge("byo", until=is_ready)
        assert osc is not None
        status = osc["status"]
        assert status["network"]["id"] == net.id
        assert [s["id"] for s in status["network"]["subnets"]] == [subnet.id]
        assert status.get("externalNetwork") is None and "router" not in status
        assert "apiServerManagedLoadBalancer" not in status
        assert osc["spec"]["controlPlaneEndpoint"] == {"host": "10.77.0.10", "port": 6443}
        assert condition(osc, cond.SECURITY_GROUPS_READY)["reason"] == cond.NOT_MANAGED
        world.delete("byo")
        assert demo.network.get_network(net.id).id == net.id
        assert demo.network.get_subnet(subnet.id).id == subnet.id
        assert all(not ids for ids in world.cloud_objects("byo").values())
    finally:
        demo.network.delete_subnet(subnet.id, ignore_missing=True)
        demo.network.delete_network(net.id, ignore_missing=True)


@pytest.fixture
def two_subnets(world: World, demo: Connection) -> Iterator[tuple[Any, Any, Any]]:
    """A user network with two subnets (the test's own, deleted at the end)."""
    net = demo.network.create_network(name=f"{world.namespace}-two-subnets")
    first, second = (
        demo.network.create_subnet(
            network_id=net.id, name=f"{world.namespace}-{n}", cidr=cidr, ip_version=4
        )
        for n, cidr in (("first", "10.81.0.0/24"), ("second", "10.81.1.0/24"))
    )
    try:
        yield net, first, second
    finally:
        for subnet in (first, second):
            demo.network.delete_subnet(subnet.id, ignore_missing=True)
        demo.network.delete_network(net.id, ignore_missing=True)


def test_existing_subnets_auto_external_network_and_user_endpoint(
    world: World, demo: Connection, capo_clouds_yaml: str, two_subnets: tuple[Any, Any, Any]
) -> None:
    """``spec.subnets`` by ID and by filter choose one of two subnets (the network derived
    from the subnet when not given); ``externalNetwork`` unset with exactly one external
    network uses it (§1.2); a user-set ``controlPlaneEndpoint`` wins over the floating IP
    row of §2.2; ``failureDomains`` is filled only while empty and ``provisioned`` is never
    reset (§1.3); the user's network and subnets survive deletion."""
    net, first, second = two_subnets
    world.create_cluster(
        "by-id",
        {
            "network": {"id": net.id},
            "subnets": [{"id": second.id}],
            "enableExternalNetwork": False,
            "apiServer": {"enableFloatingIP": False, "fixedIP": "10.81.1.10"},
        },
    )
    world.create_cluster(
        "by-filter",
        {
            "subnets": [{"filter": {"name": first.name}}],
            "controlPlaneEndpoint": {"host": "192.0.2.80", "port": 6443},
        },
    )
    by_id = world.converge("by-id", until=is_ready)
    assert by_id is not None and by_id["status"]["network"]["id"] == net.id
    assert [s["id"] for s in by_id["status"]["network"]["subnets"]] == [second.id]
    by_filter = world.converge("by-filter", until=is_ready)
    assert by_filter is not None and by_filter["status"]["network"]["id"] == net.id
    assert [s["id"] for s in by_filter["status"]["network"]["subnets"]] == [first.id]
    externals = list(demo.network.networks(is_router_external=True))
    assert len(externals) == 1, "auto-detection needs exactly one external network"
    assert by_filter["status"]["externalNetwork"]["id"] == externals[0].id
    assert by_filter["spec"]["controlPlaneEndpoint"] == {"host": "192.0.2.80", "port": 6443}
    assert world.cloud_objects("by-filter")["floating_ips"] == []  # no API FIP was made

    # failureDomains: a list already there is kept (filled only while empty).
    custom = [{"name": "custom-az", "controlPlane": False}]
    world.kube.patch_status(world.kube_objects_resource(), by_id, {"failureDomains": custom})
    world.reconciler().reconcile(world.key("by-id"))
    assert world.osc("by-id")["status"]["failureDomains"] == custom

    # provisioned is written once: a later failure turns Ready False, not provisioned.
    world.put_secret(with_password(capo_clouds_yaml, "wrong"))
    with pytest.raises(Exception):  # noqa: B017 - the work queue retries whatever it is
        world.reconciler().reconcile(world.key("by-id"))
    osc = world.osc("by-id")
    assert osc["status"]["initialization"]["provisioned"] is True
    ready = condition(osc, cond.READY)
    assert ready["status"] == "False" and ready["reason"] == cond.AUTH_FAILED
    assert "401" in ready["message"] or "nauthorized" in ready["message"]
    world.put_secret(capo_clouds_yaml)
    world.converge("by-id", until=is_ready, rounds=3)

    for name in ("by-id", "by-filter"):
        world.delete(name)
        assert all(not ids for ids in world.cloud_objects(name).values())
        reasons = [(t, r) for t, r, _ in world.events_of(name)]
        assert ("Normal", "Provisioned") in reasons
        assert ("Normal", "SuccessfulDeleteCluster") in reasons
        # The user's network and subnets: neither made nor deleted by us.
        assert not [r for _, r in reasons if r.endswith(("Network", "Subnet"))], reasons
    assert demo.network.get_network(net.id).id == net.id
    assert {s.id for s in demo.network.subnets(network_id=net.id)} == {first.id, second.id}


def test_externally_managed_cluster_is_left_alone(world: World) -> None:
    """``cluster.x-k8s.io/managed-by`` (§1.11): no finalizer, no status, no OpenStack call."""
    world.create_cluster("hosted", {"managedSubnets": [{"cidr": "10.15.0.0/24"}]})
    world.kube.patch(
        world.kube_objects_resource(),
        world.osc("hosted"),
        {"metadata": {"annotations": {"cluster.x-k8s.io/managed-by": "hosted-control-plane"}}},
    )
    assert world.reconciler().reconcile(world.key("hosted")) is None
    osc = world.osc("hosted")
    assert "finalizers" not in osc["metadata"]
    assert not osc.get("status")
    assert world.api_requests() == {}
    assert all(not ids for ids in world.cloud_objects("hosted").values())


def test_paused_cluster_is_left_alone_with_paused_condition(
    world: World, capo_clouds_yaml: str
) -> None:
    world.create_cluster("paused", {"managedSubnets": [{"cidr": "10.8.0.0/24"}]}, paused=True)
    world.reconciler().reconcile(world.key("paused"))
    osc = world.osc("paused")
    assert condition(osc, cond.PAUSED)["status"] == "True"
    assert "finalizers" not in osc["metadata"]  # nothing was started
    assert all(not ids for ids in world.cloud_objects("paused").values())
    # The annotation pauses too (on an unpaused Cluster).
    world.kube.patch(
        world.kube_objects_resource("Cluster"),
        {"metadata": {"namespace": world.namespace, "name": "paused"}},
        {"spec": {"paused": False}},
    )
    world.kube.patch(
        world.kube_objects_resource(),
        osc,
        {"metadata": {"annotations": {"cluster.x-k8s.io/paused": ""}}},
    )
    world.reconciler().reconcile(world.key("paused"))
    assert condition(world.osc("paused"), cond.PAUSED)["status"] == "True"
    assert all(not ids for ids in world.cloud_objects("paused").values())
    # Unpaused: Paused goes back to False on the next pass. Wrong credentials stop that pass
    # before any cloud write, so the check costs one refused token request.
    world.put_secret(with_password(capo_clouds_yaml, "wrong"))
    world.kube.patch(
        world.kube_objects_resource(),
        world.osc("paused"),
        {"metadata": {"annotations": {"cluster.x-k8s.io/paused": None}}},
    )
    with pytest.raises(Exception):  # noqa: B017 - the work queue retries whatever it is
        world.reconciler().reconcile(world.key("paused"))
    paused = condition(world.osc("paused"), cond.PAUSED)
    assert paused["status"] == "False" and paused["reason"] == cond.NOT_PAUSED
    assert all(not ids for ids in world.cloud_objects("paused").values())


def test_no_owner_cluster_means_wait(world: World) -> None:
    world.kube.create(
        world.kube_objects_resource(),
        world.namespace,
        {
            "apiVersion": world.kube_objects_resource().api_version,
            "kind": "OpenStackCluster",
            "metadata": {"name": "orphan"},
            "spec": {"identityRef": {"name": "cloud-config", "cloudName": "openstack"}},
        },
    )
    assert world.reconciler().reconcile(world.key("orphan")) is None
    osc = world.osc("orphan")
    assert "status" not in osc or not osc["status"].get("conditions")
    assert "finalizers" not in osc["metadata"]


def test_bad_credentials_show_and_recover(world: World, capo_clouds_yaml: str) -> None:
    world.put_secret(with_password(capo_clouds_yaml, "wrong"))
    world.create_cluster(
        "creds",
        {
            "network": {"id": "00000000-0000-0000-0000-000000000000"},
            "enableExternalNetwork": False,
            "apiServer": {"enableFloatingIP": False, "fixedIP": "10.0.0.1"},
        },
    )
    with pytest.raises(Exception):  # noqa: B017 - the work queue retries whatever it is
        world.reconciler().reconcile(world.key("creds"))
    osc = world.osc("creds")
    auth = condition(osc, cond.AUTHENTICATED)
    assert auth["status"] == "False" and auth["reason"] == cond.AUTH_FAILED
    assert "401" in auth["message"] or "nauthorized" in auth["message"]
    assert "wrong" not in json.dumps(osc["status"])
    assert "finalizers" not in osc["metadata"]  # no cloud write before credentials work
    # Fixed Secret content is picked up at once (read uncached), no hand edit of status.
    world.put_secret(capo_clouds_yaml)
    world.converge(
        "creds", until=lambda o: cond.is_true((o or {}).get("status"), cond.AUTHENTICATED), rounds=3
    )
    osc = world.osc("creds")
    net = condition(osc, cond.NETWORK_READY)
    assert net["status"] == "False" and "00000000-0000-0000-0000-000000000000" in net["message"]
    world.delete("creds")


def test_missing_external_network_shows_and_recovers(world: World, demo: Connection) -> None:
    world.create_cluster(
        "ext",
        {
            "managedSubnets": [{"cidr": "10.9.0.0/24"}],
            "externalNetwork": {"filter": {"name": f"{world.namespace}-no-such-net"}},
            "apiServer": {"enableFloatingIP": False, "fixedIP": "10.9.0.10"},
        },
    )
    with pytest.raises(Exception):  # noqa: B017
        world.reconciler().reconcile(world.key("ext"))
    osc = world.osc("ext")
    net = condition(osc, cond.NETWORK_READY)
    assert net["status"] == "False" and "no external networks match" in net["message"]
    assert condition(osc, cond.READY)["status"] == "False"
    warnings = [e for e in world.events_of("ext") if e[0] == "Warning"]
    assert [(t, r) for t, r, _ in warnings] == [("Warning", "ExternalNetworkNotFound")]
    assert "no external networks match" in warnings[0][2]
    world.kube.patch(
        world.kube_objects_resource(),
        osc,
        {"spec": {"externalNetwork": {"filter": None, "id": external_network_id(demo)}}},
    )
    fixed = world.converge("ext", until=is_ready)
    assert fixed is not None and fixed["status"]["router"]["id"]
    world.delete("ext")
    assert all(not ids for ids in world.cloud_objects("ext").values())


def test_delete_reports_foreign_load_balancer_and_deletes_it_only_on_opt_in(
    managed: tuple[World, str], demo: Connection
) -> None:
    """Last test of the module: deletes the shared cluster. An LB that OCCM made on the
    cluster network blocks deletion with a condition; the osk8s opt-in annotation lets the
    controller delete it; then nothing named after the cluster is left."""
    world, name = managed
    osc = world.osc(name)
    subnet = osc["status"]["network"]["subnets"][0]["id"]
    foreign = demo.load_balancer.create_load_balancer(
        name="kube_service_occm_web", vip_subnet_id=subnet
    )
    world.kube.delete(world.kube_objects_resource(), world.namespace, name)
    blocked = world.converge(
        name,
        until=lambda o: (
            o is not None and cond.is_true(o.get("status"), cond.FOREIGN_LOAD_BALANCERS)
        ),
        rounds=80,
    )
    assert blocked is not None
    assert foreign.id in condition(blocked, cond.FOREIGN_LOAD_BALANCERS)["message"]
    assert FINALIZER in blocked["metadata"]["finalizers"]
    assert world.cloud_objects(name)["networks"], "the network is kept while the LB is there"
    assert demo.load_balancer.get_load_balancer(foreign.id).provisioning_status != "DELETED"
    world.kube.patch(
        world.kube_objects_resource(),
        blocked,
        {"metadata": {"annotations": {"capo.osk8s.io/delete-foreign-load-balancers": "true"}}},
    )
    world.converge(name, until=lambda o: o is None, rounds=120)
    left = world.cloud_objects(name)
    assert all(not ids for ids in left.values()), left
    deleted = {k: v for k, v in world.event_counts(name).items() if k.startswith("SuccessfulDel")}
    assert deleted == {
        "SuccessfulDeleteFloatingIP": 1,
        "SuccessfulDeleteLoadBalancer": 1,
        "SuccessfulDeleteRouter": 1,
        "SuccessfulDeleteNetwork": 1,
        "SuccessfulDeleteSecurityGroup": 2,
        "SuccessfulDeleteCluster": 1,
    }
    gone = [lb for lb in demo.load_balancer.load_balancers(name="kube_service_occm_web")
            if lb.id == foreign.id and lb.provisioning_status != "DELETED"]  # fmt: skip
    assert gone == []


def test_delete_waits_for_machines_and_leaks_command(
    world: World, demo: Connection, capo_clouds_yaml: str, tmp_path: Any
) -> None:
    """Deletion waits while Machines of the cluster exist (CAPO §2.8 a); a leftover port named
    after the cluster on the managed network (a machine gone uncleanly) is deleted so the
    network can go (§2.8 d); the ``leaks`` command reports nothing for a live cluster's
    objects (the orphan cases are in test_capo_leaks_contract.py)."""
    from osk8s_capo.cli import main as cli_main
    from osk8s_capo.kube import MACHINE

    world.create_cluster(
        "wait",
        {"managedSubnets": [{"cidr": "10.14.0.0/24"}], "enableExternalNetwork": False,
         "apiServer": {"enableFloatingIP": False, "fixedIP": "10.14.0.10"}},
    )  # fmt: skip
    ready = world.converge("wait", until=is_ready)
    assert ready is not None
    world.kube.create(
        MACHINE,
        world.namespace,
        {
            "apiVersion": MACHINE.api_version,
            "kind": "Machine",
            "metadata": {"name": "wait-cp-0", "labels": {"cluster.x-k8s.io/cluster-name": "wait"}},
            "spec": {
                "clusterName": "wait",
                "bootstrap": {"dataSecretName": "boot"},
                "infrastructureRef": {
                    "apiGroup": "infrastructure.cluster.x-k8s.io",
                    "kind": "OpenStackMachine",
                    "name": "wait-cp-0",
                },
            },
        },
    )
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(capo_clouds_yaml)
    kubeconfig = world.kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    managed_name = naming.network_name(world.namespace, "wait")

    def leaks(capsys_text: list[str]) -> list[str]:
        return [line for line in capsys_text if managed_name in line]

    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert (
            cli_main(["leaks", "--clouds-yaml", str(clouds), "--kubeconfig", str(kubeconfig)]) == 0
        )
    assert leaks(out.getvalue().splitlines()) == []

    world.kube.create(
        OPENSTACK_SERVER,
        world.namespace,
        {
            "apiVersion": OPENSTACK_SERVER.api_version,
            "kind": "OpenStackServer",
            "metadata": {"name": "wait-bastion"},
            "spec": {
                "identityRef": {"name": "cloud-config", "cloudName": "openstack"},
                "image": {"filter": {"name": "cirros"}},
                "flavor": "m1.tiny",
                "ports": [{}],
                "sshKeyName": "",
            },
        },
    )
    # After the leaks check (an unaccounted port there is a leak by design).
    stale = demo.network.create_port(
        network_id=ready["status"]["network"]["id"], name="wait-stale-0"
    )
    world.kube.delete(world.kube_objects_resource(), world.namespace, "wait")
    result = world.reconciler().reconcile(world.key("wait"))
    assert result is not None and result.after == 5.0
    osc = world.osc("wait")
    assert "waiting for 1 machines" in condition(osc, cond.READY)["message"]
    assert world.cloud_objects("wait")["networks"], "nothing is deleted while machines exist"
    world.kube.delete(MACHINE, world.namespace, "wait-cp-0")
    # (b) then the bastion's OpenStackServer object, before any cloud deletion.
    result = world.reconciler().reconcile(world.key("wait"))
    assert (
        result is not None and "wait-bastion" in condition(world.osc("wait"), cond.READY)["message"]
    )
    assert world.kube.get(OPENSTACK_SERVER, world.namespace, "wait-bastion") is None
    assert world.cloud_objects("wait")["networks"], "the bastion goes before the cloud"
    world.converge("wait", until=lambda o: o is None, rounds=60)
    assert all(not ids for ids in world.cloud_objects("wait").values())
    assert [p.id for p in demo.network.ports(name="wait-stale-0") if p.id == stale.id] == []


def test_user_router_failures_in_conditions_and_user_floating_ip_kept(
    world: World, demo: Connection
) -> None:
    """One no-LB cluster fixed step by step: a ``spec.router`` filter matching nothing
    (RouterReady), a rule naming a security group that does not exist (SecurityGroupsReady),
    then no fixedIP, floating IP or LB (APIEndpointReady), each with its message and each
    recovering once fixed. The user's router gets the managed subnet's interface, which is
    removed at delete while the router stays; the user's ``apiServer.floatingIP`` stays too."""
    ext = external_network_id(demo)
    router = demo.network.create_router(
        name=f"{world.namespace}-user-router", external_gateway_info={"network_id": ext}
    )
    fip = demo.network.create_ip(floating_network_id=ext, description=f"{world.namespace} user")
    missing_sg = "00000000-0000-0000-0000-0000000000aa"
    try:
        world.create_cluster(
            "urt",
            {
                "managedSubnets": [{"cidr": "10.17.0.0/24"}],
                "externalNetwork": {"id": ext},
                "router": {"filter": {"name": f"{world.namespace}-no-such-router"}},
                "managedSecurityGroups": {
                    "clusterNodesSecurityGroupRules": [
                        {
                            "name": "from-missing",
                            "direction": "ingress",
                            "etherType": "IPv4",
                            "protocol": "tcp",
                            "portRangeMin": 7000,
                            "portRangeMax": 7000,
                            "remoteGroupID": missing_sg,
                        }
                    ]
                },
                "apiServer": {"enableFloatingIP": False},
            },
        )

        def fails(type_: str) -> dict[str, Any]:
            with pytest.raises(Exception):  # noqa: B017 - the work queue retries whatever it is
                world.reconciler().reconcile(world.key("urt"))
            osc = world.osc("urt")
            failing, ready = condition(osc, type_), condition(osc, cond.READY)
            assert failing["status"] == "False" and ready["status"] == "False", failing
            assert ready["message"] == failing["message"]
            return failing

        failing = fails(cond.ROUTER_READY)
        assert failing["reason"] == "RouterNotFound" and "no routers match" in failing["message"]
        assert condition(world.osc("urt"), cond.NETWORK_READY)["status"] == "True"
        world.kube.patch(
            world.kube_objects_resource(),
            world.osc("urt"),
            {"spec": {"router": {"filter": None, "id": router.id}}},
        )
        failing = fails(cond.SECURITY_GROUPS_READY)
        assert failing["reason"] == "SecurityGroupCreateFailed", failing
        assert missing_sg in failing["message"], failing
        # CAPO's event reason for it
        assert ("Warning", "FailedCreateSecurityGroup") in {e[:2] for e in world.events_of("urt")}
        assert condition(world.osc("urt"), cond.ROUTER_READY)["status"] == "True"
        world.kube.patch(
            world.kube_objects_resource(),
            world.osc("urt"),
            {"spec": {"managedSecurityGroups": {"clusterNodesSecurityGroupRules": []}}},
        )
        failing = fails(cond.API_ENDPOINT_READY)
        assert failing["reason"] == "APIEndpointConfigFailed"
        assert "unable to determine control plane endpoint" in failing["message"]
        assert condition(world.osc("urt"), cond.SECURITY_GROUPS_READY)["status"] == "True"
        world.kube.patch(
            world.kube_objects_resource(),
            world.osc("urt"),
            {
                "spec": {
                    "apiServer": {"enableFloatingIP": True, "floatingIP": fip.floating_ip_address}
                }
            },
        )
        osc = world.converge("urt", until=is_ready, rounds=5)
        assert osc is not None
        assert osc["spec"]["controlPlaneEndpoint"]["host"] == fip.floating_ip_address
        assert osc["status"]["router"]["id"] == router.id
        subnet = osc["status"]["network"]["subnets"][0]["id"]
        interfaces = [
            ip["subnet_id"]
            for p in demo.network.ports(device_id=router.id)
            if p.device_owner == "network:router_interface"
            for ip in p.fixed_ips
        ]
        assert interfaces == [subnet]

        world.delete("urt")
        assert all(not ids for ids in world.cloud_objects("urt").values())
        kept = demo.network.get_router(router.id)
        assert kept.id == router.id and kept.external_gateway_info["network_id"] == ext
        assert not [
            p for p in demo.network.ports(device_id=router.id)
            if p.device_owner == "network:router_interface"
        ]  # fmt: skip
        assert demo.network.get_ip(fip.id).floating_ip_address == fip.floating_ip_address
        reasons = {r for _, r, _ in world.events_of("urt")}
        assert (
            "SuccessfulDeleteRouter" not in reasons and "SuccessfulDeleteFloatingIP" not in reasons
        )
    finally:
        for port in demo.network.ports(device_id=router.id):
            if port.device_owner == "network:router_interface":
                for ip in port.fixed_ips:
                    demo.network.remove_interface_from_router(router.id, subnet=ip["subnet_id"])
        demo.network.delete_router(router.id, ignore_missing=True)
        demo.network.delete_ip(fip.id, ignore_missing=True)


def test_bastion_security_group_follows_bastion_enabled(world: World, demo: Connection) -> None:
    net = demo.network.create_network(name=f"{world.namespace}-bastion-net")
    demo.network.create_subnet(network_id=net.id, cidr="10.79.0.0/24", ip_version=4)
    bastion_spec = {
        "flavor": {"filter": {"name": "m1.tiny"}},
        "image": {"filter": {"name": "cirros"}},
    }
    try:
        world.create_cluster(
            "bast",
            {
                "network": {"id": net.id},
                "enableExternalNetwork": False,
                "apiServer": {"enableFloatingIP": False, "fixedIP": "10.79.0.10"},
                "managedSecurityGroups": {},
                "bastion": {"enabled": True, "spec": bastion_spec},
            },
        )
        osc = world.converge("bast", until=is_ready)
        assert osc is not None
        group = osc["status"]["bastionSecurityGroup"]
        assert group["name"] == naming.security_group_name(world.namespace, "bast", "bastion")
        cp = osc["status"]["controlPlaneSecurityGroup"]["id"]
        ssh = [
            r
            for r in demo.network.security_group_rules(security_group_id=cp)
            if r.port_range_min == 22 and r.remote_group_id == group["id"]
        ]
        assert len(ssh) == 1
        # The bastion's OpenStackServer (booted by its own controller) uses the bastion group.
        server = world.kube.get(OPENSTACK_SERVER, world.namespace, "bast-bastion")
        assert server is not None and group["id"] in json.dumps(server["spec"])
        assert server["metadata"]["ownerReferences"][0]["kind"] == "OpenStackCluster"
        world.kube.patch(
            world.kube_objects_resource(), osc, {"spec": {"bastion": {"enabled": False}}}
        )
        world.reconciler().reconcile(world.key("bast"))
        status = world.osc("bast")["status"]
        assert "bastionSecurityGroup" not in status
        assert world.kube.get(OPENSTACK_SERVER, world.namespace, "bast-bastion") is None
        assert not [g for g in demo.network.security_groups() if g.id == group["id"]]
        assert not [
            r
            for r in demo.network.security_group_rules(security_group_id=cp)
            if r.port_range_min == 22
        ]
        world.delete("bast")
        assert all(not ids for ids in world.cloud_objects("bast").values())
    finally:
        for subnet in demo.network.subnets(network_id=net.id):
            demo.network.delete_subnet(subnet.id)
        demo.network.delete_network(net.id)
