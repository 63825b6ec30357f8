"""The reconciler's pure decisions with small fakes of its narrow collaborators (no
OpenStack, no MagicMock): the listener spec (the four timeouts, TLS refs), TLS errors that
leave nothing made, no floating IP without a floating network, a given floating IP bound
elsewhere."""

from __future__ import annotations

import base64
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from osk8s_core import errors
from osk8s_core.config.auth import AuthOptions
from osk8s_octavia_ingress import ingress_settings
from osk8s_octavia_ingress.config import IngressConfig, OctaviaConfig
from osk8s_octavia_ingress.desired import IngressError
from osk8s_octavia_ingress.port_groups import PortsNotConverged
from osk8s_octavia_ingress.reconciler import IngressReconciler, build_listener_spec
from osk8s_testing.tls import self_signed_localhost

P = "octavia.ingress.kubernetes.io/"


def test_the_four_timeouts_map_to_their_listener_attributes() -> None:
    settings = ingress_settings.parse(
        {
            "metadata": {
                "annotations": {
                    P + "timeout-client-data": "1001",
                    P + "timeout-member-data": "1002",
                    P + "timeout-member-connect": "1003",
                    P + "timeout-tcp-inspect": "1004",
                    P + "whitelist-source-range": "10.0.0.0/8, 192.168.0.0/16",
                }
            }
        }
    )
    spec = build_listener_spec("lb", settings, [])
    assert (spec.name, spec.protocol, spec.port) == ("lb", "HTTP", 80)
    assert dict(spec.attributes) == {
        "allowed_cidrs": ["10.0.0.0/8", "192.168.0.0/16"],
        "timeout_client_data": 1001,
        "timeout_member_data": 1002,
        "timeout_member_connect": 1003,
        "timeout_tcp_inspect": 1004,
    }


def test_tls_listener_has_the_first_secret_as_default_and_all_for_sni() -> None:
    spec = build_listener_spec("lb", ingress_settings.parse({}), ["ref-a", "ref-b"])
    assert (spec.protocol, spec.port) == ("TERMINATED_HTTPS", 443)
    assert spec.attributes["default_tls_container_ref"] == "ref-a"
    assert spec.attributes["sni_container_refs"] == ["ref-a", "ref-b"]
    assert "timeout_client_data" not in spec.attributes  # unset: Octavia's default


# Fakes of the narrow interfaces the reconciler consumes; each records what it was asked.


class Calls:
    def __init__(self) -> None:
        self.log: list[str] = []

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected call {name}")


class FakeLbs(Calls):
    def __init__(self, lb: Any = None) -> None:
        super().__init__()
        self.lb = lb

    def find_by_name(self, name: str) -> Any:
        self.log.append("find_by_name")
        return self.lb

    def update(self, lb_id: str, **attrs: Any) -> Any:
        self.log.append("update")
        return self.lb

    def wait_active(self, lb_id: str) -> Any:
        self.log.append("wait_active")
        return self.lb

    def delete(self, lb_id: str, **options: Any) -> None:
        self.log.append("delete")


class FakeTree(Calls):
    def ensure_listener(self, lb_id: str, spec: Any) -> Any:
        self.log.append("ensure_listener")
        return SimpleNamespace(id="listener"), []

    def apply(self, lb_id: str, listener: Any, tree: Any) -> None:
        self.log.append("apply")


class FakeFips(Calls):
    def __init__(self, found: list[Any] | None = None) -> None:
        super().__init__()
        self.found = found or []

    def on_port(self, port_id: str) -> Any:
        self.log.append("on_port")
        return None

    def query(self, **filters: Any) -> list[Any]:
        self.log.append("query")
        return self.found


class FakeSecrets(Calls):
    def __init__(self, stored: list[Any] | None = None) -> None:
        super().__init__()
        self.stored = stored or []

    def query(self, **filters: Any) -> list[Any]:
        self.log.append("query")
        return self.stored

    def delete(self, ref: str) -> None:
        self.log.append(f"delete {ref}")

    def find_by_name(self, name: str) -> Any:
        self.log.append("find_by_name")
        return None

    def store_bytes(self, name: str, payload: bytes, **attrs: Any) -> str:
        self.log.append("store_bytes")
        return f"ref/{name}"


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def normal(self, ref: Any, reason: str, message: str) -> None:
        self.events.append(("Normal", reason, message))

    def warning(self, ref: Any, reason: str, message: str) -> None:
        self.events.append(("Warning", reason, message))


class FakeKube:
    def __init__(self, ingress: dict[str, Any], secrets: dict[str, Any] | None = None) -> None:
        self._ingress = ingress
        self._secrets = secrets or {}
        self.addresses: list[str] = []

    def ingress(self, namespace: str, name: str) -> Any:
        return self._ingress

    def ingress_classes(self) -> list[Any]:
        return []

    def services(self, namespace: str) -> dict[str, Any]:
        return {"web": {"spec": {"ports": [{"port": 80, "nodePort": 30080}]}}}

    def nodes(self) -> list[Any]:
        return [
            {
                "metadata": {"name": "n"},
                "status": {
                    "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
                    "conditions": [{"type": "Ready", "status": "True"}],
                },
            }
        ]

    def secret(self, namespace: str, name: str) -> Any:
        return self._secrets.get(name)

    def set_address(self, ingress: Any, ip: str) -> Any:
        self.addresses.append(ip)
        return {**ingress, "metadata": {**ingress["metadata"], "resourceVersion": "2"}}


def _ingress(annotations: dict[str, str] | None = None, tls: list[str] | None = None) -> Any:
    spec: dict[str, Any] = {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}
    if tls:
        spec["tls"] = [{"secretName": name} for name in tls]
    return {
        "metadata": {
            "name": "i",
            "namespace": "ns",
            "resourceVersion": "1",
            "annotations": {"kubernetes.io/ingress.class": "openstack", **(annotations or {})},
        },
        "spec": spec,
    }


def _reconciler(
    kube: FakeKube,
    *,
    lbs: FakeLbs | None = None,
    fips: FakeFips | None = None,
    secrets: FakeSecrets | None = None,
    floating_network: str = "",
) -> tuple[IngressReconciler, FakeRecorder, FakeLbs, FakeTree, FakeFips]:
    recorder = FakeRecorder()
    lbs = lbs or FakeLbs()
    tree = FakeTree()
    fips = fips or FakeFips()
    config = IngressConfig(
        cluster_name="c",
        openstack=AuthOptions(),
        octavia=OctaviaConfig(subnet_id="subnet", floating_network_id=floating_network),
    )
    reconciler = IngressReconciler(
        config=config,
        kube=kube,  # type: ignore[arg-type]
        lbs=lbs,  # type: ignore[arg-type]
        tree=tree,  # type: ignore[arg-type]
        fips=fips,  # type: ignore[arg-type]
        secrets=secrets,  # type: ignore[arg-type]
        recorder=recorder,
        logger=None,
    )
    return reconciler, recorder, lbs, tree, fips


def _tls_secret(tmp_path: Path) -> dict[str, Any]:
    files = self_signed_localhost(tmp_path)
    return {
        "data": {
            "tls.crt": base64.b64encode(Path(files.cert).read_bytes()).decode(),
            "tls.key": base64.b64encode(Path(files.key).read_bytes()).decode(),
        }
    }


def test_tls_without_barbican_is_a_warning_and_makes_nothing() -> None:
    kube = FakeKube(_ingress(tls=["site-tls"]))
    reconciler, recorder, lbs, tree, fips = _reconciler(kube, secrets=None)
    message = "TLS Ingress not supported because of Key Manager service unavailable"
    with pytest.raises(IngressError, match=message):
        reconciler.sync("ns/i")
    assert recorder.events == [("Warning", "Failed", message)]
    assert lbs.log == ["find_by_name"]  # looked, never created
    assert tree.log == [] and fips.log == [] and kube.addresses == []


def test_a_missing_tls_secret_is_a_warning_and_stores_nothing(tmp_path: Path) -> None:
    # The first Secret exists, the second does not: not even the first reaches Barbican.
    kube = FakeKube(_ingress(tls=["present", "absent"]), {"present": _tls_secret(tmp_path)})
    secrets = FakeSecrets()
    reconciler, recorder, lbs, tree, _ = _reconciler(kube, secrets=secrets)
    message = 'failed to create Barbican secret: secret "absent" not found'
    with pytest.raises(IngressError, match=message):
        reconciler.sync("ns/i")
    assert recorder.events == [("Warning", "Failed", message)]
    assert secrets.log == [] and tree.log == [] and lbs.log == ["find_by_name"]


def _live_lb() -> Any:
    return SimpleNamespace(
        id="lb",
        description="",
        provisioning_status="ACTIVE",
        vip_address="10.0.0.99",
        vip_port_id="vip-port",
    )


def test_not_internal_without_a_floating_network_never_makes_a_floating_ip() -> None:
    # cpo.md §4.1: octavia.floating-network-id empty → never a FIP; the VIP is the address.
    kube = FakeKube(_ingress({P + "internal": "false"}))
    fips = FakeFips()
    reconciler, recorder, _, _, _ = _reconciler(kube, lbs=FakeLbs(_live_lb()), fips=fips)
    assert reconciler.sync("ns/i").address == "10.0.0.99"
    assert fips.log == []
    assert kube.addresses == ["10.0.0.99"]
    assert recorder.events[-1][:2] == ("Normal", "Updated")


def test_a_given_floating_ip_bound_to_another_port_is_an_error_and_left_alone() -> None:
    bound = SimpleNamespace(id="fip", port_id="someone-else", floating_ip_address="172.24.4.9")
    kube = FakeKube(_ingress({P + "internal": "false", P + "floatingip": "172.24.4.9"}))
    fips = FakeFips([bound])
    reconciler, recorder, _, _, _ = _reconciler(
        kube, lbs=FakeLbs(_live_lb()), fips=fips, floating_network="public"
    )
    message = "floating IP 172.24.4.9 is already in use by another port"
    with pytest.raises(IngressError, match=message):
        reconciler.sync("ns/i")
    assert fips.log == ["query"]  # read, never associated, created or deleted
    assert recorder.events == [("Warning", "Failed", message)]
    assert kube.addresses == []


def test_delete_releases_our_barbican_secrets_even_when_the_last_spec_had_no_tls() -> None:
    # A crash after TLS was removed from the listener but before its secrets were deleted:
    # the Ingress (now without TLS) is deleted later, and the leftovers still go.
    resource = "kube_ingress_c_ns_i"
    stored = [
        SimpleNamespace(name=f"{resource}_site-tls", secret_ref="ref/ours"),
        SimpleNamespace(name="kube_ingress_c_ns_other_site-tls", secret_ref="ref/theirs"),
    ]
    secrets = FakeSecrets(stored)
    reconciler, _, lbs, _, _ = _reconciler(
        FakeKube(_ingress()), lbs=FakeLbs(_live_lb()), secrets=secrets
    )
    assert reconciler.delete("ns", "i", _ingress()).action == "deleted"
    assert "delete" in lbs.log
    assert secrets.log == ["query", "delete ref/ours"]


def test_deleting_an_ingress_without_lb_or_tls_makes_no_barbican_call() -> None:
    secrets = FakeSecrets()
    reconciler, _, _, _, _ = _reconciler(FakeKube(_ingress()), secrets=secrets)
    assert reconciler.delete("ns", "i", _ingress()).action == "absent"
    assert secrets.log == []


class FailingTree(FakeTree):
    def apply(self, lb_id: str, listener: Any, tree: Any) -> None:
        self.log.append("apply")
        raise errors.ServerError("Octavia answered 500: boom")


def test_an_openstack_failure_is_a_warning_event_on_the_ingress() -> None:
    kube = FakeKube(_ingress())
    reconciler, recorder, _, _, _ = _reconciler(kube, lbs=FakeLbs(_live_lb()))
    reconciler._tree = FailingTree()  # type: ignore[assignment]  # the one Octavia step that fails here
    with pytest.raises(errors.ServerError):
        reconciler.sync("ns/i")
    [(kind, reason, message)] = recorder.events
    assert (kind, reason) == ("Warning", "Failed")
    assert message.startswith("Failed to create openstack resources for ingress ns/i: ")
    assert "Octavia answered 500: boom" in message
    assert kube.addresses == []  # no status for a half-made tree


def test_an_ingress_that_is_no_longer_ours_loses_its_lb() -> None:
    # The class annotation changed away from openstack (or its IngressClass went): as CPO,
    # the LB made for it is deleted, and no status or event is written for it.
    kube = FakeKube(_ingress({"kubernetes.io/ingress.class": "nginx"}))
    reconciler, recorder, lbs, tree, _ = _reconciler(kube, lbs=FakeLbs(_live_lb()))
    assert reconciler.sync("ns/i").action == "deleted"
    assert "delete" in lbs.log and tree.log == []
    assert kube.addresses == [] and recorder.events == []


# The node sync with managed security groups (beyond CPO: its node sync never touches them).


class MembersTree(FakeTree):
    def sync_members(self, lb_id: str, pools: Any) -> int:
        self.log.append("sync_members")
        return 1


class FakeGroups(Calls):
    def __init__(self) -> None:
        super().__init__()
        self.synced: list[tuple[str, tuple[int, ...], frozenset[str], object]] = []

    def node_ports(self, servers: Any) -> object:
        self.log.append("node_ports")
        return self  # a handle the reconciler passes back unchanged

    def sync(self, namespace: str, name: str, node_ports: Any, servers: Any, ports: object) -> int:
        self.synced.append((f"{namespace}/{name}", tuple(node_ports), servers.members, ports))
        return 2


class ListingKube(FakeKube):
    def __init__(self, *ingresses: Any) -> None:
        super().__init__(ingresses[0])
        self._all = list(ingresses)

    def ingresses(self) -> list[Any]:
        return self._all

    def nodes(self) -> list[Any]:
        member = super().nodes()[0]
        return [{**member, "spec": {"providerID": "openstack:///srv-1"}}]


def _managed_groups_reconciler(
    kube: Any, groups: Any, tree: Any, *, logger: Any = None
) -> IngressReconciler:
    """A reconciler with manage-security-groups on, over the given fakes."""
    return IngressReconciler(
        config=IngressConfig(
            cluster_name="c",
            openstack=AuthOptions(),
            octavia=OctaviaConfig(subnet_id="subnet", manage_security_groups=True),
        ),
        kube=kube,
        lbs=FakeLbs(_live_lb()),  # type: ignore[arg-type]
        tree=tree,
        fips=FakeFips(),  # type: ignore[arg-type]
        secrets=None,
        recorder=FakeRecorder(),
        logger=logger,
        security_groups=groups,
    )


def test_the_node_sync_converges_each_managed_group_over_one_read_of_the_ports() -> None:
    theirs = _ingress({"kubernetes.io/ingress.class": "nginx"})
    second = {**_ingress(), "metadata": {**_ingress()["metadata"], "name": "j"}}
    kube = ListingKube(_ingress(), second, theirs)
    groups, tree = FakeGroups(), MembersTree()
    reconciler = _managed_groups_reconciler(kube, groups, tree)
    assert reconciler.sync_members() == 2 * (1 + 2)
    assert groups.log == ["node_ports"]
    assert groups.synced == [
        ("ns/i", (30080,), frozenset({"srv-1"}), groups),
        ("ns/j", (30080,), frozenset({"srv-1"}), groups),
    ]
    assert tree.log == ["sync_members", "sync_members"]


class RecordingLog:
    def __init__(self) -> None:
        self.warnings: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.warnings.append((event, fields))


REFUSAL = errors.Conflict(
    "port_update failed: HTTP 409: Port security must be enabled and port must "
    "have an IP address in order to use security groups.",
    status=409,
)


class FirstGroupFails(FakeGroups):
    def __init__(self, error: errors.OpenStackError) -> None:
        super().__init__()
        self.error = error

    def sync(self, namespace: str, name: str, node_ports: Any, servers: Any, ports: object) -> int:
        if name == "i":
            raise self.error
        return super().sync(namespace, name, node_ports, servers, ports)


@pytest.mark.parametrize(
    ("error", "landed"),
    [(REFUSAL, 0), (PortsNotConverged("sg", [("p-l2", REFUSAL)], writes=3), 3)],
    ids=["group-step-error", "some-ports-written"],
)
def test_a_failed_group_step_is_a_warning_and_later_ingresses_still_get_members(
    error: errors.OpenStackError, landed: int
) -> None:
    second = {**_ingress(), "metadata": {**_ingress()["metadata"], "name": "j"}}
    kube = ListingKube(_ingress(), second)
    groups, tree, log = FirstGroupFails(error), MembersTree(), RecordingLog()
    reconciler = _managed_groups_reconciler(kube, groups, tree, logger=log)
    # Both member updates (1 each), what landed of the first group and the second's (2).
    assert reconciler.sync_members() == 1 + 1 + landed + 2
    assert tree.log == ["sync_members", "sync_members"]
    assert [who for who, *_ in groups.synced] == ["ns/j"]
    ((event, fields),) = log.warnings
    assert event == "node sync: security group not converged"
    assert fields["ingress"] == "ns/i"
    assert "Port security must be enabled" in fields["error"]
