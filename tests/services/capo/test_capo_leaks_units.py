"""The leak report's matching rules (pure: ``find_leaks`` over listed objects and the live
CAPO objects), for the cases the contract test does not build on the cloud: the API load
balancer, a duplicate of a live cluster's network, the existing-network path, infrastructure
ports, CSI volumes on a leaked node, objects of another cluster."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from osk8s_capo import naming
from osk8s_capo.leaks import CAPO_DESCRIPTION, Inventory, find_leaks
from osk8s_capo.leaks_live import accounted

NS, NAME = "team", "c1"
CRN = naming.cluster_resource_name(NS, NAME)


def obj(id_: str, name: str = "", **attrs: Any) -> SimpleNamespace:
    return SimpleNamespace(id=id_, name=name, **attrs)


def port(id_: str, name: str, network: str, **attrs: Any) -> SimpleNamespace:
    defaults: dict[str, Any] = {"device_owner": "", "device_id": "", "description": ""}
    return obj(id_, name, network_id=network, **{**defaults, **attrs})


def osc(status: dict[str, Any] | None = None, name: str = NAME) -> dict[str, Any]:
    return {"metadata": {"namespace": NS, "name": name}, "status": status or {}}


def server_obj(name: str, status: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": NS, "name": name}, "spec": spec, "status": status}


NET = obj("net-1", naming.network_name(NS, NAME))
LB = obj("lb-1", naming.load_balancer_name(NS, NAME), provisioning_status="ACTIVE")


def kinds(leaks: list[Any]) -> list[tuple[str, str]]:
    return sorted((leak.kind, leak.id) for leak in leaks)


def test_load_balancer_and_duplicate_network_of_a_live_cluster() -> None:
    twin = obj("net-2", NET.name)
    inventory = Inventory(networks=[NET, twin], load_balancers=[LB])
    live = accounted([osc({"network": {"id": "net-1"}, "apiServerManagedLoadBalancer": {}})])
    (leak,) = find_leaks(inventory, live)
    assert (leak.kind, leak.id, leak.cluster) == ("network", "net-2", CRN)
    assert "not the network its status records" in leak.why
    gone = find_leaks(inventory, accounted([]))
    assert kinds(gone) == [("load_balancer", "lb-1"), ("network", "net-1"), ("network", "net-2")]
    assert all(leak.cluster == CRN for leak in gone)


def test_other_clusters_and_user_objects_are_told_apart() -> None:
    other = obj("net-9", naming.network_name(NS, "c2"))
    user_group = obj("sg-user", "k8s-cluster-team-c1-web")  # not a CAPO role suffix
    groups = [obj("g-1", f"{CRN}-control-plane"), obj("g-2", "web-control-plane")]
    inventory = Inventory(networks=[NET, other], security_groups=[user_group], server_groups=groups)
    leaks = find_leaks(inventory, accounted([osc()]))
    assert kinds(leaks) == [("network", "net-9")]
    assert leaks[0].cluster == f"{NS}-c2"
    assert kinds(find_leaks(inventory, accounted([]))) == [
        ("network", "net-1"),
        ("network", "net-9"),
        ("server_group", "g-1"),
    ]


def test_infrastructure_and_user_ports_on_the_cluster_network_are_not_leaks() -> None:
    ports = [
        port("p-dhcp", "", "net-1", device_owner="network:dhcp"),
        port("p-rif", "", "net-1", device_owner="network:router_interface"),
        port("p-vip", "octavia-lb-x", "net-1", device_owner="Octavia"),
        port("p-vrrp", "octavia-lb-vrrp-y", "net-1", device_owner="compute:nova", device_id="a"),
        port("p-user", "keepalived-vip", "net-1"),
        port("p-node", "m-0", "net-1", device_owner="compute:nova", device_id="s-1"),
    ]
    leaks = find_leaks(Inventory(networks=[NET], ports=ports), accounted([osc()]))
    assert kinds(leaks) == [("port", "p-node")]


def test_existing_network_path_needs_capo_description() -> None:
    """A live cluster on the user's network: only ports with CAPO's description are its own."""
    ports = [
        port("p-capo", "m-0", "user-net", description=CAPO_DESCRIPTION, device_id="s-1",
             device_owner="compute:nova"),
        port("p-user", "db-0", "user-net", device_id="s-2", device_owner="compute:nova"),
    ]  # fmt: skip
    servers = [
        obj("s-1", "m", addresses={"user-net": []}),
        obj("s-2", "db", addresses={"user-net": []}),
    ]
    inventory = Inventory(ports=ports, servers=servers)
    live_cluster = osc({"network": {"id": "user-net"}})
    leaks = find_leaks(inventory, accounted([live_cluster]))
    assert kinds(leaks) == [("port", "p-capo"), ("server", "s-1")]
    machine = server_obj("m", {"instanceID": "s-1"})
    assert find_leaks(inventory, accounted([live_cluster], machines=[machine])) == []
    # the cluster gone: the user's network carries no cluster naming, nothing is claimed
    assert find_leaks(inventory, accounted([])) == []


def test_volumes_need_capo_description_and_a_cluster() -> None:
    node = port("p-1", "m-0", "net-1", device_owner="compute:nova", device_id="s-1")
    attached = [{"server_id": "s-1"}]
    volumes = [
        obj("v-root", "m-root", description=CAPO_DESCRIPTION, attachments=attached),
        obj("v-csi", "pvc-123", description="", attachments=attached),
        obj("v-lost", "c1-md-0-x-root", description=CAPO_DESCRIPTION, attachments=[]),
        obj("v-stray", "other-root", description=CAPO_DESCRIPTION, attachments=[]),
    ]
    inventory = Inventory(networks=[NET], ports=[node], servers=[obj("s-1", "m")], volumes=volumes)
    leaks = find_leaks(inventory, accounted([osc()]))
    assert kinds(leaks) == [
        ("port", "p-1"),
        ("server", "s-1"),
        ("volume", "v-lost"),
        ("volume", "v-root"),
    ]
    machine = server_obj("m", {"instanceID": "s-1"}, rootVolume={"sizeGiB": 5})
    lost_machine = server_obj("c1-md-0-x", {}, rootVolume={"sizeGiB": 5})
    assert find_leaks(inventory, accounted([osc()], servers=[machine, lost_machine])) == []


def test_trunk_follows_its_parent_port_and_fips_their_description() -> None:
    parent = port("p-1", "m-0", "net-1", description=CAPO_DESCRIPTION)
    fips = [
        obj("f-1", description=f"{naming.description(NS, NAME)} bastion",
            floating_ip_address="172.24.4.9"),
        obj("f-2", description="mine", floating_ip_address="172.24.4.10"),
    ]  # fmt: skip
    inventory = Inventory(
        networks=[NET], ports=[parent], trunks=[obj("t-1", "m-0", port_id="p-1")], floating_ips=fips
    )
    leaks = find_leaks(inventory, accounted([]))
    assert kinds(leaks) == [
        ("floating_ip", "f-1"),
        ("network", "net-1"),
        ("port", "p-1"),
        ("trunk", "t-1"),
    ]
    fip = next(leak for leak in leaks if leak.kind == "floating_ip")
    assert (fip.name, fip.cluster) == ("172.24.4.9", CRN)
    live = accounted([osc()], servers=[server_obj("m", {"resources": {"ports": [{"id": "p-1"}]}})])
    assert find_leaks(inventory, live) == []
