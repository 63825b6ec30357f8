"""Pure parts of the Octavia provider: names and markers (§1.4.1), feature gates by API
version and provider (§1.4.2), the wanted listener/pool/member/monitor tree (§1.4.5),
what a listener/pool/monitor update changes, node selection, floating subnet patterns,
managed security group rules (§1.4.9) and the OCCM_WAIT_LB_ACTIVE_STEPS wait.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from osk8s_ccm import lb_annotations as ann
from osk8s_ccm.lb_provider import (
    LoadBalancerError,
    LoadBalancerNode,
    LoadBalancerService,
    NodeAddress,
)
from osk8s_ccm.lb_settings import ServiceLoadBalancerSettings, service_settings
from osk8s_ccm.octavia import naming
from osk8s_ccm.octavia.desired import (
    ListenerSpec,
    NodeTarget,
    PortTarget,
    TreeOptions,
    listener_specs,
)
from osk8s_ccm.octavia.features import OctaviaFeatures, version_from_listing
from osk8s_ccm.octavia.floating import name_matcher
from osk8s_ccm.octavia.nodes import member_targets, node_address
from osk8s_ccm.octavia.provider import (
    OctaviaProvider,
    OctaviaSettings,
    _Sync,
    active_waiter,
    wait_policy_for_steps,
)
from osk8s_ccm.octavia.secgroups import wanted_rules
from osk8s_ccm.octavia.tree import listener_changes, monitor_changes, pool_changes
from osk8s_core import errors
from osk8s_core.config import LoadBalancerOptions
from osk8s_core.logging import get_logger
from osk8s_core.metrics import ApiMetrics
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.openstack.waiting import Waiter

from .conftest import Recorder, annotated, service

LATEST = OctaviaFeatures((2, 27))
NODES = (NodeTarget("n1", "10.0.0.1"), NodeTarget("n2", "10.0.0.2"))


def test_names_and_markers_match_cpo() -> None:
    assert naming.lb_name("kubernetes", "ns", "web") == "kube_service_kubernetes_ns_web"
    assert naming.legacy_lb_name("12345678-90ab-cdef-1234-567890abcdef") == (
        "a1234567890abcdef1234567890abcde"
    )
    lb = naming.lb_name("c", "ns", "web")
    assert naming.listener_name(1, lb) == "listener_1_kube_service_c_ns_web"
    assert naming.pool_name(0, lb) == "pool_0_kube_service_c_ns_web"
    assert naming.monitor_name(2, lb) == "monitor_2_kube_service_c_ns_web"
    assert naming.member_name("node", "10.0.0.1", 30000) == "member_node_10.0.0.1_30000"
    assert naming.fip_description("c", "ns", "web") == (
        "Floating IP for Kubernetes external service ns/web from cluster c"
    )
    assert naming.lb_description("c", "ns", "web") == (
        "Kubernetes external service ns/web from cluster c"
    )
    assert naming.sg_name("uid", "ns", "web") == "lb-sg-uid-ns-web"
    assert naming.sg_description("c", "ns", "web") == (
        "Security Group for ns/web Service LoadBalancer in cluster c"
    )
    assert len(naming.lb_name("c" * 300, "ns", "web")) == 255


def test_cluster_of_and_rename() -> None:
    name = naming.lb_name("old", "ns", "web")
    assert naming.cluster_of(name, "ns", "web") == "old"
    assert naming.cluster_of(name, "ns", "other") is None
    assert naming.cluster_of("my-own-lb", "ns", "web") is None
    assert naming.renamed(f"listener_0_{name}", "old", "new") == (
        "listener_0_kube_service_new_ns_web"
    )


@pytest.mark.parametrize(
    ("version", "provider", "expected"),
    [
        ((2, 0), "amphora", (False, False, False, False, False, False)),
        ((2, 5), "amphora", (True, True, False, False, False, False)),
        ((2, 16), "amphora", (True, True, True, True, True, True)),
        ((2, 27), "ovn", (True, False, False, False, False, False)),
    ],
)
def test_feature_gates(version: tuple[int, int], provider: str, expected: tuple[bool, ...]) -> None:
    f = OctaviaFeatures(version, provider)
    got = (f.tags, f.timeouts, f.flavors, f.vip_acl, f.availability_zones, f.http_monitor_on_udp)
    assert got == expected


def test_version_is_the_last_entry_of_the_listing() -> None:
    listing = {"versions": [{"id": "v2.0"}, {"id": "v2.27"}, {"id": "v2.3"}, {"id": "junk"}]}
    assert version_from_listing(listing) == (2, 3)  # matches CPO: the last, not the highest
    assert version_from_listing({}) == (2, 0)


def _specs(
    opts: TreeOptions, features: OctaviaFeatures = LATEST, protocol: str = "TCP"
) -> list[ListenerSpec]:
    return list(listener_specs([PortTarget(protocol, 80, 30080)], NODES, opts, features))


def test_plain_tcp_tree() -> None:
    [spec] = _specs(TreeOptions(lb_name="lb", allowed_cidrs=("0.0.0.0/0",)))
    assert (spec.name, spec.protocol, spec.port, spec.tags) == ("listener_0_lb", "TCP", 80, ("lb",))
    assert spec.pool.protocol == "TCP" and spec.pool.monitor is None
    assert [(m.name, m.address, m.port) for m in spec.pool.members] == [
        ("n1", "10.0.0.1", 30080),
        ("n2", "10.0.0.2", 30080),
    ]
    assert spec.allowed_cidrs == ("0.0.0.0/0",)
    body = spec.body()
    assert body["default_pool"]["members"][0]["protocol_port"] == 30080


@pytest.mark.parametrize(
    ("opts", "listener", "pool"),
    [
        (TreeOptions(lb_name="lb", proxy_protocol="PROXYV2"), "TCP", "PROXYV2"),
        (TreeOptions(lb_name="lb", x_forwarded_for=True), "HTTP", "HTTP"),
        (TreeOptions(lb_name="lb", tls_container_ref="ref"), "TERMINATED_HTTPS", "HTTP"),
    ],
)
def test_listener_and_pool_protocols(opts: TreeOptions, listener: str, pool: str) -> None:
    [spec] = _specs(opts)
    assert (spec.protocol, spec.pool.protocol) == (listener, pool)


def test_monitor_types() -> None:
    local = TreeOptions(lb_name="lb", health_monitor=True, health_check_node_port=32000)
    [tcp] = _specs(local)
    assert tcp.pool.monitor is not None and tcp.pool.monitor.type == "HTTP"
    assert {m.monitor_port for m in tcp.pool.members} == {32000}
    [udp_old] = _specs(local, OctaviaFeatures((2, 15)), protocol="UDP")
    assert udp_old.pool.monitor is not None and udp_old.pool.monitor.type == "UDP-CONNECT"
    [ovn] = _specs(local, OctaviaFeatures((2, 27), "ovn"))
    assert ovn.pool.monitor is not None and ovn.pool.monitor.type == "TCP"
    assert ovn.timeouts == {} and ovn.allowed_cidrs is None  # ovn: neither
    [none] = _specs(TreeOptions(lb_name="lb"))
    assert none.pool.monitor is None


def test_no_node_port_means_no_members() -> None:
    [spec] = listener_specs([PortTarget("TCP", 80, 0)], NODES, TreeOptions(lb_name="lb"), LATEST)
    assert spec.pool.members == ()


def test_update_diffs() -> None:
    [spec] = _specs(TreeOptions(lb_name="lb", connection_limit=5, allowed_cidrs=("10.0.0.0/8",)))
    same = SimpleNamespace(
        name=spec.name,
        connection_limit=5,
        tags=["other", "lb"],
        allowed_cidrs=["10.0.0.0/8"],
        **{k: v for k, v in spec.timeouts.items()},
    )
    assert listener_changes(same, spec) == {}
    changed = SimpleNamespace(**{**vars(same), "connection_limit": -1, "tags": ["other"]})
    assert listener_changes(changed, spec) == {"connection_limit": 5, "tags": ["other", "lb"]}
    pool = SimpleNamespace(name=spec.pool.name, lb_algorithm="SOURCE_IP", session_persistence=None)
    assert pool_changes(pool, spec.pool) == {"lb_algorithm": "ROUND_ROBIN"}
    [monitored] = _specs(TreeOptions(lb_name="lb", health_monitor=True, monitor_delay=9))
    assert monitored.pool.monitor is not None
    monitor = SimpleNamespace(**{**monitored.pool.monitor.updatable(), "delay": 5})
    assert monitor_changes(monitor, monitored.pool.monitor) == {"delay": 9}


def test_member_address_selection_and_node_selector() -> None:
    both = LoadBalancerNode(
        name="a",
        labels={"role": "lb"},
        addresses=(
            NodeAddress("ExternalIP", "203.0.113.5"),
            NodeAddress("InternalIP", "fd00::5"),
            NodeAddress("InternalIP", "10.0.0.5"),
        ),
    )
    external_only = LoadBalancerNode(
        name="b", addresses=(NodeAddress("ExternalIP", "203.0.113.6"),)
    )
    assert node_address(both, "IPv4") == "10.0.0.5"
    assert node_address(both, "IPv6") == "fd00::5"
    assert node_address(external_only, "IPv4") == "203.0.113.6"
    assert node_address(external_only, "IPv6") is None
    assert [t.name for t in member_targets([both, external_only], {}, "IPv4")] == ["a", "b"]
    assert [t.name for t in member_targets([both, external_only], {"role": ""}, "IPv4")] == ["a"]
    assert member_targets([both], {"role": "web"}, "IPv4") == ()


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("public-*", "public-1", True),
        ("public-*", "private-1", False),
        ("~^pub.*[0-9]$", "public-1", True),
        ("!public-*", "public-1", False),
        ("!~^pub", "private", True),
    ],
)
def test_floating_subnet_patterns(pattern: str, name: str, matches: bool) -> None:
    assert name_matcher(pattern)(name) is matches


def test_security_group_rules() -> None:
    svc = service("web", ("TCP", 80, 30080), ("UDP", 53, 30053), health_check_node_port=32000)
    settings = ServiceLoadBalancerSettings(source_ranges=("198.51.100.0/24",))
    amphora = wanted_rules(svc, settings, LATEST, "10.0.0.0/24")
    assert sorted((r.protocol, r.port_range_min, r.remote_ip_prefix) for r in amphora) == [
        ("tcp", 30080, "10.0.0.0/24"),
        ("tcp", 32000, "10.0.0.0/24"),
        ("udp", 30053, "10.0.0.0/24"),
    ]
    ovn = wanted_rules(svc, settings, OctaviaFeatures((2, 27), "ovn"), "10.0.0.0/24")
    assert ("tcp", 30080, "198.51.100.0/24") in {
        (r.protocol, r.port_range_min, r.remote_ip_prefix) for r in ovn
    }


def test_wait_lb_active_steps() -> None:
    policy = wait_policy_for_steps(23)
    assert policy.interval == 1.0 and policy.factor == 1.2
    assert 320 < policy.timeout < 340  # CPO's backoff: about five and a half minutes
    waiter, warning = active_waiter({"OCCM_WAIT_LB_ACTIVE_STEPS": "5"})
    assert warning is None and waiter.policy.timeout == pytest.approx(sum(1.2**i for i in range(5)))
    _, warning = active_waiter({"OCCM_WAIT_LB_ACTIVE_STEPS": "many"})
    assert warning is not None and "many" in warning


# Warnings the provider gives without a cloud call (§1.1 events): the provider is built over a
# connection that fails the test if touched, and each case calls one step on a resolved sync.


class _Untouchable:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the provider touched the cloud: {name}")


def _provider(**options: Any) -> OctaviaProvider:
    client: OpenStackClient[Any] = OpenStackClient(
        _Untouchable(), metrics=ApiMetrics(CollectorRegistry()), logger=get_logger("test")
    )
    return OctaviaProvider(
        octavia=client,
        network=client,
        settings=OctaviaSettings(options=LoadBalancerOptions(**options)),
        waiter=Waiter(),
    )


def _sync(
    features: OctaviaFeatures, svc: LoadBalancerService, **options: Any
) -> tuple[_Sync, Recorder]:
    recorder = Recorder()
    settings = service_settings(svc, LoadBalancerOptions(**options), {})
    sync = _Sync("c", svc, settings, features, naming.lb_name("c", "default", svc.name), recorder)
    return sync, recorder


@pytest.mark.parametrize(
    ("features", "zone"),
    [
        (OctaviaFeatures((2, 13)), None),
        (OctaviaFeatures((2, 27), "ovn"), None),
        (OctaviaFeatures((2, 14)), "az1"),
    ],
)
def test_unsupported_availability_zone_is_ignored_with_cpos_warning(
    features: OctaviaFeatures, zone: str | None
) -> None:
    svc = service("web", ("TCP", 80, 30080), annotations={ann.AVAILABILITY_ZONE: "az1"})
    sync, recorder = _sync(features, svc)
    assert _provider()._zone(sync) == zone
    assert recorder.reasons() == ([] if zone else ["LoadBalancerAvailabilityZonesIgnored"])
    assert all(type_ == "Warning" for type_, _, _ in recorder.events)


@pytest.mark.parametrize(
    ("features", "manage_groups", "ranges", "ignored"),
    [
        (OctaviaFeatures((2, 11)), False, ("10.0.0.0/8",), True),  # no allowed_cidrs yet
        (OctaviaFeatures((2, 12)), False, ("10.0.0.0/8",), False),  # listener ACL
        (OctaviaFeatures((2, 27), "ovn"), False, ("10.0.0.0/8",), True),
        (OctaviaFeatures((2, 27), "ovn"), True, ("10.0.0.0/8",), False),  # SG rules instead
        (OctaviaFeatures((2, 11)), False, (), False),  # 0.0.0.0/0: nothing to enforce
    ],
)
def test_unenforceable_source_ranges_warn(
    features: OctaviaFeatures, manage_groups: bool, ranges: tuple[str, ...], ignored: bool
) -> None:
    svc = service("web", ("TCP", 80, 30080), load_balancer_source_ranges=ranges)
    sync, recorder = _sync(features, svc, lb_method="SOURCE_IP_PORT")  # fine on ovn too
    provider = _provider(manage_security_groups=manage_groups)
    opts, _, _ = provider._tree_options(sync, "subnet", [])
    assert recorder.reasons() == (["LoadBalancerSourceRangesIgnored"] if ignored else [])
    assert opts.allowed_cidrs == (ranges or ("0.0.0.0/0",))


def test_ovn_forces_source_ip_port_with_a_warning() -> None:
    svc = service("web", ("TCP", 80, 30080))
    sync, recorder = _sync(OctaviaFeatures((2, 27), "ovn"), svc)
    opts, _, _ = _provider(lb_provider="ovn")._tree_options(sync, "subnet", [])
    assert opts.lb_algorithm == "SOURCE_IP_PORT"
    assert recorder.reasons() == ["LoadBalancerLbMethodUnsupported"]
    sync, recorder = _sync(LATEST, svc)
    opts, _, _ = _provider()._tree_options(sync, "subnet", [])
    assert (opts.lb_algorithm, recorder.reasons()) == ("ROUND_ROBIN", [])


@pytest.mark.parametrize("internal", ["false", "true"])
def test_ipv6_vip_skips_the_floating_ip_with_cpos_warning(internal: str) -> None:
    svc = service(
        "web",
        ("TCP", 80, 30080),
        annotations={ann.INTERNAL: internal},
        ip_families=("IPv6", "IPv4"),
    )
    sync, recorder = _sync(LATEST, svc)
    lb = SimpleNamespace(id="lb", vip_address="fd00::5", vip_port_id="port")
    assert _provider()._address(sync, lb, True) == "fd00::5"  # no Neutron call
    [(type_, reason, message)] = recorder.events
    assert (type_, reason) == ("Warning", "LoadBalancerFloatingIPSkipped")
    assert "default/web" in message and "fd00::5" in message


def test_sharing_rules_refuse_before_any_call() -> None:
    """§1.4.7: sharing needs Octavia tags; an internal Service may not share; max-shared-lb
    counts the ``kube_service_`` tags; a Service already tagged, or its own LB under an older
    cluster name (renamed next), passes."""
    provider = _provider(max_shared_lb=2)
    other = naming.lb_name("c", "default", "other")
    shared = SimpleNamespace(id="lb", name=other, tags=[other])
    external = service("web", ("TCP", 80, 30080))
    internal = service("web", ("TCP", 80, 30080), annotations={ann.INTERNAL: "true"})

    def check(features: OctaviaFeatures, svc: LoadBalancerService, lb: Any) -> str | None:
        sync, _ = _sync(features, svc)
        try:
            provider._check_sharing(sync, lb, is_owner=False)
        except LoadBalancerError as exc:
            return exc.reason
        return None

    assert check(LATEST, external, shared) is None
    assert check(OctaviaFeatures((2, 4)), external, shared) == "InvalidConfiguration"
    assert check(LATEST, internal, shared) == "InvalidConfiguration"
    full = SimpleNamespace(id="lb", name=other, tags=[other, naming.lb_name("c", "default", "b")])
    assert check(LATEST, external, full) == "SharedLoadBalancerFull"
    mine = naming.lb_name("c", "default", "web")
    assert (
        check(LATEST, external, SimpleNamespace(id="lb", name=other, tags=[*full.tags, mine]))
        is None
    )
    renamed = SimpleNamespace(id="lb", name=naming.lb_name("old", "default", "web"), tags=[])
    assert check(OctaviaFeatures((2, 4)), internal, renamed) is None


class _Floating:
    """The provider's floating-IP decisions, narrowed to the two lookups ``_address`` makes
    before it creates anything."""

    def __init__(self, network: str | None, error: Exception | None = None) -> None:
        self.network, self.error = network, error

    def on_port(self, port_id: str) -> Any | None:
        return None

    def external_network(self) -> str | None:
        if self.error is not None:
            raise self.error
        return self.network


def test_no_floating_network_forces_internal_and_a_failed_search_warns_and_retries() -> None:
    svc = service("web", ("TCP", 80, 30080))
    lb = SimpleNamespace(id="lb", vip_address="10.0.0.5", vip_port_id="port")
    provider = _provider()
    provider._fips = _Floating(None)  # type: ignore[assignment]
    sync, recorder = _sync(LATEST, svc)
    assert provider._address(sync, lb, True) == "10.0.0.5"
    assert recorder.reasons() == ["LoadBalancerForcedInternal"]

    provider._fips = _Floating(None, errors.ServiceUnavailable("neutron is down"))  # type: ignore[assignment]
    sync, recorder = _sync(LATEST, svc)
    with pytest.raises(errors.ServiceUnavailable):
        provider._address(sync, lb, True)
    [(type_, reason, message)] = recorder.events
    assert (type_, reason) == ("Warning", "LoadBalancerExternalNetworkSearchFailed")
    assert "default/web" in message and "neutron is down" in message


class _Tls:
    def __init__(self) -> None:
        self.checked: list[str] = []

    def validate(self, ref: str) -> None:
        self.checked.append(ref)


@pytest.mark.parametrize(("store", "checked"), [("barbican", True), ("external", False)])
def test_step_1_and_2_checks_before_any_cloud_call(store: str, checked: bool) -> None:
    """§1.4.4 steps 1 and 2: no ports or no nodes refuse; the TLS ref is looked up in Barbican
    only with ``container-store=barbican``. The first cloud call after them (the LB lookup)
    reaches the untouchable connection."""
    provider = _provider(container_store=store, subnet_id="subnet")
    tls = _Tls()
    provider._tls = tls  # type: ignore[assignment]
    ref = "https://kms/v1/containers/x"
    svc = service("web", ("TCP", 80, 30080), annotations={ann.DEFAULT_TLS_CONTAINER_REF: ref})
    nodes = [LoadBalancerNode(name="n1", addresses=(NodeAddress("InternalIP", "10.0.0.1"),))]
    sync, _ = _sync(LATEST, service("web"), subnet_id="subnet")
    with pytest.raises(LoadBalancerError, match="no ports"):
        provider._ensure(sync, nodes)
    sync, _ = _sync(LATEST, svc, subnet_id="subnet")
    with pytest.raises(LoadBalancerError) as caught:
        provider._ensure(sync, [])
    assert caught.value.reason == "NoNodes"
    assert tls.checked == []
    with pytest.raises(AssertionError, match="touched the cloud"):
        provider._ensure(sync, nodes)
    assert tls.checked == ([ref] if checked else [])


class _Lbs:
    """The two LB lookups ``_find`` makes, over a fixed list."""

    def __init__(self, *lbs: Any) -> None:
        self.by_id = {lb.id: lb for lb in lbs}

    def get(self, lb_id: str) -> Any:
        if lb_id not in self.by_id:
            raise errors.NotFound(f"load balancer {lb_id}")
        return self.by_id[lb_id]

    def find_by_name(self, name: str) -> Any | None:
        return next((lb for lb in self.by_id.values() if lb.name == name), None)


def test_find_by_id_then_name_then_legacy_name() -> None:
    """§1.4.1/§1.4.4 step 7: the ``load-balancer-id`` annotation first (a DELETED or
    PENDING_DELETE one, or a missing one, falls through), then the name, then k8s' legacy
    name ``a`` + UID without dashes."""
    uid = "12345678-90ab-cdef-1234-567890abcdef"
    legacy = SimpleNamespace(
        id="old", name=naming.legacy_lb_name(uid), provisioning_status="ACTIVE"
    )
    named = SimpleNamespace(
        id="new", name=naming.lb_name("c", "default", "web"), provisioning_status="ACTIVE"
    )
    going = SimpleNamespace(id="going", name="x", provisioning_status="PENDING_DELETE")
    provider = _provider()
    svc = service("web", ("TCP", 80, 30080), uid=uid)

    def find(*lbs: Any, lb_id: str = "") -> Any:
        provider._lbs = _Lbs(*lbs)  # type: ignore[assignment]
        annotated = service(
            "web", ("TCP", 80, 30080), uid=uid, annotations={ann.LOAD_BALANCER_ID: lb_id}
        )
        target = annotated if lb_id else svc
        settings = service_settings(target, LoadBalancerOptions(), {})
        found = provider._find("c", target, settings)
        return found.id if found is not None else None

    assert find(legacy) == "old"
    assert find(legacy, named) == "new"
    assert find(legacy, named, going, lb_id="going") == "new"
    assert find(legacy, named, lb_id="gone") == "new"
    assert find(legacy, going, lb_id="old") == "old"
    assert find() is None


def test_only_the_owner_may_attach_a_floating_ip() -> None:
    """§1.4.6: a sharing Service finding no floating IP on the LB may not make one."""
    svc = service("web", ("TCP", 80, 30080))
    lb = SimpleNamespace(id="lb", vip_address="10.0.0.5", vip_port_id="port")
    provider = _provider()
    provider._fips = _Floating("ext-net")  # type: ignore[assignment]
    sync, _ = _sync(LATEST, svc)
    with pytest.raises(LoadBalancerError, match="only its owner") as caught:
        provider._address(sync, lb, False)
    assert caught.value.reason == "InvalidConfiguration"


class _Creator:
    """The LB creates ``_create`` makes: fully populated, or bare in serial mode."""

    def __init__(self) -> None:
        self.made: list[tuple[str, Any, int]] = []

    def create_populated(self, spec: Any, listeners: list[Any], **_: Any) -> Any:
        self.made.append(("populated", spec, len(listeners)))
        return SimpleNamespace(id="lb-1")

    def create(self, spec: Any, **_: Any) -> Any:
        self.made.append(("bare", spec, 0))
        return SimpleNamespace(id="lb-1")

    def wait_active(self, lb_id: str) -> Any:
        return SimpleNamespace(id=lb_id, provisioning_status="ACTIVE")


@pytest.mark.parametrize("serial", [False, True])
def test_create_spec_vip_address_flavor_zone_tags_and_serial_mode(serial: bool) -> None:
    """§1.4.4 step 7: ``loadBalancerIP`` is the VIP address only for an internal (or IPv6)
    Service; flavor (≥2.6), AZ (≥2.14) and tags (≥2.5) only where Octavia has them; serial
    mode creates the LB bare, else one fully populated create; the id is recorded before
    the wait."""
    creator = _Creator()
    provider = _provider(provider_requires_serial_api_calls=serial)
    provider._updates = creator  # type: ignore[assignment]
    provider._lbs = creator  # type: ignore[assignment]
    extras = {ann.FLAVOR_ID: "small", ann.AVAILABILITY_ZONE: "az1"}
    internal = service(
        "web",
        ("TCP", 80, 30080),
        annotations={ann.INTERNAL: "true", **extras},
        load_balancer_ip="10.0.0.9",
    )
    external = annotated(internal, {ann.INTERNAL: "false"})
    for svc, features in ((internal, LATEST), (external, OctaviaFeatures((2, 4)))):
        sync, recorder = _sync(features, svc)
        wanted = provider._wanted(sync, [], "subnet")
        lb = provider._create(sync, "", "subnet", wanted)
        assert lb.provisioning_status == "ACTIVE"
        assert recorder.annotations[ann.LOAD_BALANCER_ID] == "lb-1"
    (kind, spec, children), (_, old_spec, _) = creator.made
    assert kind == ("bare" if serial else "populated")
    assert children == (0 if serial else 1)
    assert (spec.vip_address, spec.vip_subnet_id, spec.flavor_id, spec.availability_zone) == (
        "10.0.0.9",
        "subnet",
        "small",
        "az1",
    )
    assert list(spec.tags) == [naming.lb_name("c", "default", "web")]
    assert (old_spec.vip_address, old_spec.flavor_id, old_spec.availability_zone) == (
        None,
        None,
        None,
    )
    assert list(old_spec.tags) == []


class _BornInError(_Creator):
    """Octavia takes the create, then the LB goes to ERROR before it is ever ACTIVE."""

    def __init__(self) -> None:
        super().__init__()
        self.deleted: list[tuple[str, bool]] = []

    def wait_active(self, lb_id: str) -> Any:
        raise errors.ResourceError(f"load balancer {lb_id} went to ERROR")

    def delete(self, lb_id: str, *, cascade: bool = False, **_: Any) -> None:
        self.deleted.append((lb_id, cascade))


def test_lb_born_in_error_is_deleted_and_the_sync_fails_to_be_retried() -> None:
    """§1.4.4 step 7: an LB that goes to ERROR on creation is deleted (cascade, so no child
    is left behind) and the sync fails, so the controller retries with a fresh create; its
    id was recorded first, so a crash during the wait still finds it."""
    creator = _BornInError()
    provider = _provider()
    provider._updates = creator  # type: ignore[assignment]
    provider._lbs = creator  # type: ignore[assignment]
    sync, recorder = _sync(LATEST, service("web", ("TCP", 80, 30080)))
    wanted = provider._wanted(sync, [], "subnet")
    with pytest.raises(LoadBalancerError, match="went to ERROR on creation") as caught:
        provider._create(sync, "", "subnet", wanted)
    assert caught.value.reason == "OctaviaError"
    assert creator.deleted == [("lb-1", True)]
    assert recorder.annotations[ann.LOAD_BALANCER_ID] == "lb-1"
