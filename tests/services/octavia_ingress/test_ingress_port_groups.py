"""The managed group on the nodes' ports (``port_groups``), with a small fake of the narrow
``PortStore`` that behaves as Neutron does for what is used here: ``device_id`` list filters,
``security_groups`` replaced whole, ``revision_number`` bumped on each write, a stale
``If-Match`` answered 412 (the core maps it to ``Conflict`` with that status), a group on a
port without an IP address refused with 409 (as older Neutrons do; current ML2 accepts it),
and scripted refusals per port."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import pytest

from osk8s_core import errors
from osk8s_octavia_ingress.port_groups import (
    NodeServers,
    PortGroups,
    PortsNotConverged,
    server_id,
)
from osk8s_octavia_ingress.secgroups import IngressSecurityGroups

GROUP = "sg-ingress"
OTHER = "sg-default"


class FakePorts:
    def __init__(self, *ports: Any) -> None:
        self.ports = {p.id: p for p in ports}
        self.queries: list[dict[str, Any]] = []
        self.writes: list[tuple[str, list[str]]] = []
        self.before_write: list[Any] = []
        """Callables run once each just before the next writes land (another writer)."""
        self.refuse: dict[str, errors.OpenStackError] = {}
        """Port id -> the error every write of that port gets."""
        self.attempts: list[str] = []

    def query(self, **filters: Any) -> list[Any]:
        self.queries.append(filters)
        if "security_groups" in filters:
            (group,) = filters["security_groups"]
            found = [p for p in self.ports.values() if group in p.security_group_ids]
        else:
            wanted = set(filters["device_id"])
            found = [p for p in self.ports.values() if p.device_id in wanted]
        return [copy.copy(p) for p in found]

    def get(self, port_id: str) -> Any:
        if port_id not in self.ports:
            raise errors.NotFound("port not found", request="port_get")
        return copy.copy(self.ports[port_id])

    def update(self, port_id: str, **attrs: Any) -> Any:
        if self.before_write:
            self.before_write.pop(0)()
        self.attempts.append(port_id)
        port = self.ports.get(port_id)
        if port is None:
            raise errors.NotFound("port not found", request="port_update")
        if port_id in self.refuse:
            raise self.refuse[port_id]
        revision = attrs.pop("if_revision", None)
        if revision is not None and revision != port.revision_number:
            raise errors.Conflict("revision mismatch", status=412, request="port_update")
        assert set(attrs) == {"security_groups"}, attrs
        if attrs["security_groups"] and not port.fixed_ips:
            raise errors.Conflict(
                "Port security must be enabled and port must have an IP address",
                status=409,
                request="port_update",
            )
        port.security_group_ids = list(attrs["security_groups"])
        port.revision_number += 1
        self.writes.append((port_id, list(port.security_group_ids)))
        return copy.copy(port)


def port(port_id: str, device: str, *groups: str, security: bool = True, ip: bool = True) -> Any:
    return SimpleNamespace(
        id=port_id,
        device_id=device,
        security_group_ids=list(groups),
        revision_number=3,
        is_port_security_enabled=security,
        fixed_ips=[{"ip_address": "10.0.0.9"}] if ip else [],
    )


def node(
    name: str,
    server: str | None,
    *,
    ready: bool = True,
    excluded: bool = False,
    address: str | None = "10.0.0.9",
    region: str = "",
) -> dict[str, Any]:
    labels = {"node.kubernetes.io/exclude-from-external-load-balancers": ""} if excluded else {}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"providerID": f"openstack://{region}/{server}"} if server else {},
        "status": {
            "addresses": [{"type": "InternalIP", "address": address}] if address else [],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def test_members_are_the_pool_members_servers_and_all_is_every_nodes() -> None:
    servers = NodeServers.of(
        [
            node("a", "srv-a"),
            node("b", "srv-b", excluded=True),
            node("c", "srv-c", ready=False),
            node("d", "srv-d", address=None),
            node("e", None),
        ]
    )
    assert servers.members == {"srv-a"}
    assert servers.all == {"srv-a", "srv-b", "srv-c", "srv-d"}


def test_provider_ids_in_both_forms_occm_reads_name_the_server() -> None:
    # The regional form: written by a regional CCM and by CAPO with identityRef.region.
    assert server_id({"spec": {"providerID": "openstack://RegionOne/srv-x"}}) == "srv-x"
    assert server_id({"spec": {"providerID": "openstack:///srv-x"}}) == "srv-x"
    for other in ("openstack:///RegionOne/srv-x", "openstack:///", "aws:///srv-x", "srv-x"):
        assert server_id({"spec": {"providerID": other}}) is None, other
    servers = NodeServers.of([node("a", "srv-a", region="RegionOne"), node("b", "srv-b")])
    assert servers.members == {"srv-a", "srv-b"}


def test_converge_adds_to_members_removes_from_other_nodes_and_keeps_other_groups() -> None:
    fake = FakePorts(
        port("p-new", "srv-a", OTHER),
        port("p-new-2", "srv-a"),
        port("p-left", "srv-b", OTHER, GROUP),
        port("p-nosec", "srv-a", security=False),
        port("p-bastion", "srv-bastion", OTHER, GROUP),
    )
    servers = NodeServers.of([node("a", "srv-a"), node("b", "srv-b", excluded=True)])
    groups = PortGroups(fake)

    assert groups.converge(GROUP, servers, groups.node_ports(servers)) == 3
    assert sorted(fake.writes) == [
        ("p-left", [OTHER]),
        ("p-new", [OTHER, GROUP]),
        ("p-new-2", [GROUP]),
    ]
    # Only the nodes' servers are asked for; the bastion's port keeps our group untouched.
    assert fake.queries == [{"device_id": ["srv-a", "srv-b"]}]
    assert fake.ports["p-bastion"].security_group_ids == [OTHER, GROUP]
    assert fake.ports["p-nosec"].security_group_ids == []

    # Converged: a second pass reads once and writes nothing.
    fake.writes.clear()
    assert groups.converge(GROUP, servers, groups.node_ports(servers)) == 0
    assert fake.writes == []
    assert len(fake.queries) == 2


def test_a_port_changed_by_another_writer_is_read_again_and_its_change_kept() -> None:
    fake = FakePorts(port("p", "srv-a", OTHER))
    servers = NodeServers.of([node("a", "srv-a")])
    groups = PortGroups(fake)
    ports = groups.node_ports(servers)
    list(ports)  # read now, so the other writer's change lands after our read

    def ccm_adds_its_group() -> None:
        theirs = fake.ports["p"]
        theirs.security_group_ids = [*theirs.security_group_ids, "sg-ccm"]
        theirs.revision_number += 1

    fake.before_write.append(ccm_adds_its_group)
    assert groups.converge(GROUP, servers, ports) == 1
    assert fake.ports["p"].security_group_ids == [OTHER, "sg-ccm", GROUP]


def test_a_stale_revision_that_never_settles_is_an_error_not_a_blind_write() -> None:
    fake = FakePorts(port("p", "srv-a"))
    servers = NodeServers.of([node("a", "srv-a")])

    def bump() -> None:
        fake.ports["p"].revision_number += 1

    fake.before_write.extend([bump] * 5)
    with pytest.raises(PortsNotConverged) as caught:
        PortGroups(fake).converge(GROUP, servers, PortGroups(fake).node_ports(servers))
    ((_, last),) = caught.value.failures
    assert isinstance(last, errors.Conflict)
    assert last.status == 412
    assert fake.attempts == ["p"] * 5
    assert fake.writes == []


def test_groups_of_several_ingresses_in_one_sync_all_stay_on_the_port() -> None:
    fake = FakePorts(port("p", "srv-a", OTHER))
    servers = NodeServers.of([node("a", "srv-a")])
    groups = PortGroups(fake)
    ports = groups.node_ports(servers)  # one read shared by every Ingress of the sync
    assert groups.converge("sg-one", servers, ports) == 1
    assert groups.converge("sg-two", servers, ports) == 1
    assert fake.ports["p"].security_group_ids == [OTHER, "sg-one", "sg-two"]
    assert len(fake.queries) == 1


def test_a_port_gone_with_its_server_is_skipped() -> None:
    fake = FakePorts(port("p", "srv-a"), port("q", "srv-a"))
    servers = NodeServers.of([node("a", "srv-a")])
    groups = PortGroups(fake)
    ports = groups.node_ports(servers)
    list(ports)
    del fake.ports["p"]
    assert groups.converge(GROUP, servers, ports) == 1
    assert fake.writes == [("q", [GROUP])]
    assert [p.id for p in ports] == ["q"]


def test_many_nodes_are_listed_in_chunks_and_nothing_is_read_without_use() -> None:
    names = [f"srv-{i:03d}" for i in range(85)]
    fake = FakePorts(*(port(f"p-{n}", n, GROUP) for n in names))
    servers = NodeServers.of([node(n, n) for n in names])
    groups = PortGroups(fake)
    ports = groups.node_ports(servers)
    assert fake.queries == []  # lazy: a sync with no managed group reads no port
    assert groups.converge(GROUP, servers, ports) == 0
    assert [len(q["device_id"]) for q in fake.queries] == [40, 40, 5]


def test_one_refused_port_does_not_stop_the_others_and_a_409_is_not_retried() -> None:
    refusal = errors.Conflict("port is bound elsewhere", status=409, request="port_update")
    fake = FakePorts(port("p-bad", "srv-a"), port("p-good", "srv-a"), port("p-also", "srv-b"))
    fake.refuse["p-bad"] = refusal
    servers = NodeServers.of([node("a", "srv-a"), node("b", "srv-b")])
    groups = PortGroups(fake)
    with pytest.raises(PortsNotConverged) as caught:
        groups.converge(GROUP, servers, groups.node_ports(servers))
    assert caught.value.failures == [("p-bad", refusal)]
    assert caught.value.writes == 2
    assert sorted(fake.writes) == [("p-also", [GROUP]), ("p-good", [GROUP])]
    assert fake.attempts.count("p-bad") == 1  # a refusal, not a revision race


def test_a_port_without_an_ip_address_is_never_written() -> None:
    # A node's L2-only second port: no LB traffic reaches it; older Neutrons refuse (409).
    fake = FakePorts(port("p-l2", "srv-a", ip=False), port("p", "srv-a"))
    servers = NodeServers.of([node("a", "srv-a")])
    groups = PortGroups(fake)
    assert groups.converge(GROUP, servers, groups.node_ports(servers)) == 1
    assert fake.attempts == ["p"]


def test_a_404_for_a_deleted_group_is_an_error_and_the_port_is_kept() -> None:
    fake = FakePorts(port("p", "srv-a"), port("q", "srv-a"))
    fake.refuse["p"] = errors.NotFound("Security group sg-ingress does not exist", status=404)
    servers = NodeServers.of([node("a", "srv-a")])
    groups = PortGroups(fake)
    ports = groups.node_ports(servers)
    with pytest.raises(PortsNotConverged, match="does not exist"):
        groups.converge(GROUP, servers, ports)
    # The port still exists (read again): it stays in the sync's view for the next group.
    assert [p.id for p in ports] == ["p", "q"]
    assert fake.writes == [("q", [GROUP])]


def test_a_failed_port_list_is_not_repeated_for_each_ingress_of_a_sync() -> None:
    class FailingList(FakePorts):
        def query(self, **filters: Any) -> list[Any]:
            self.queries.append(filters)
            raise errors.ServerError("port_list failed: HTTP 503", status=503)

    fake = FailingList(port("p", "srv-a"))
    servers = NodeServers.of([node("a", "srv-a")])
    groups = PortGroups(fake)
    ports = groups.node_ports(servers)
    for _ in range(2):
        with pytest.raises(errors.ServerError):
            groups.converge(GROUP, servers, ports)
    assert len(fake.queries) == 1


class FakeGroupStore:
    """The two calls ``IngressSecurityGroups.delete`` makes of the core's SecurityGroups."""

    def __init__(self, group_id: str) -> None:
        self.group = SimpleNamespace(id=group_id)
        self.deleted: list[str] = []

    def find_by_name(self, name: str) -> Any:
        return self.group

    def delete(self, group_id: str) -> None:
        self.deleted.append(group_id)


def _managed(store: FakeGroupStore, ports: FakePorts) -> IngressSecurityGroups:
    """The Ingress's managed group over the fake store and ports (no Neutron client)."""
    return IngressSecurityGroups(
        store,  # type: ignore[arg-type]
        client=None,
        cluster="c",
        subnet_id="subnet",
        ports=ports,
    )


def test_deleting_the_group_guards_each_port_write_and_keeps_a_concurrent_group() -> None:
    fake = FakePorts(port("p", "srv-a", OTHER, GROUP), port("q", "srv-b", GROUP))
    store = FakeGroupStore(GROUP)
    managed = _managed(store, fake)

    def node_sync_adds_another_ingress_group() -> None:
        theirs = fake.ports["p"]
        theirs.security_group_ids = [*theirs.security_group_ids, "sg-two"]
        theirs.revision_number += 1

    fake.before_write.append(node_sync_adds_another_ingress_group)
    managed.delete("ns", "i")
    assert fake.ports["p"].security_group_ids == [OTHER, "sg-two"]
    assert fake.ports["q"].security_group_ids == []
    assert store.deleted == [GROUP]


def test_deleting_keeps_the_group_while_a_port_still_carries_it() -> None:
    fake = FakePorts(port("p", "srv-a", GROUP), port("q", "srv-b", GROUP))
    fake.refuse["p"] = errors.Forbidden("policy does not allow update_port", status=403)
    store = FakeGroupStore(GROUP)
    managed = _managed(store, fake)
    with pytest.raises(PortsNotConverged):
        managed.delete("ns", "i")
    assert fake.ports["q"].security_group_ids == []
    assert store.deleted == []  # tried again with the Ingress's next delete pass
