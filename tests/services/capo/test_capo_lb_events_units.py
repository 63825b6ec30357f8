"""CAPO's load-balancer warnings and events, without a cloud: the provider and flavor chosen
by name (not found: a warning and Octavia's default), allowed CIDRs dropped with
``FailedIPAddressValidation``, the listener/pool/monitor events, the effective provider
deciding the pool algorithm, and warnings told once per change by the event recorder."""

from __future__ import annotations

import types
from typing import Any

import pytest

from osk8s_capo import cluster_endpoint, naming
from osk8s_capo.cluster_network import ClusterRef, NetworkError, managed_network
from osk8s_core import errors
from osk8s_core.crashpoints import NO_CRASH_POINTS
from osk8s_core.k8s.clock import SystemClock
from osk8s_core.k8s.events import EventRecorder, ObjectRef
from osk8s_core.openstack.lb_catalog import LbFlavor

Told = list[tuple[str, str]]


class Catalog:
    """Octavia's providers and flavors; counts the lookups."""

    def __init__(self, providers: list[str], flavors: list[LbFlavor]) -> None:
        self.providers, self.flavor_list = providers, flavors
        self.calls: list[str] = []

    def provider_names(self) -> list[str]:
        self.calls.append("providers")
        return list(self.providers)

    def flavors(self) -> list[LbFlavor]:
        self.calls.append("flavors")
        return list(self.flavor_list)


CATALOG_FLAVORS = [
    LbFlavor(id="f-small", name="small", enabled=True),
    LbFlavor(id="f-off", name="retired", enabled=False),
]


def choose(settings: dict[str, Any]) -> tuple[tuple[str | None, str | None], Told, list[str]]:
    catalog = Catalog(["amphora", "octavia"], CATALOG_FLAVORS)
    warned: Told = []
    chosen = cluster_endpoint.provider_and_flavor(
        catalog, settings, lambda reason, message: warned.append((reason, message))
    )
    return chosen, warned, catalog.calls


def test_provider_and_flavor_found_by_name() -> None:
    chosen, warned, calls = choose({"provider": "amphora", "flavor": "small"})
    assert chosen == ("amphora", "f-small") and warned == []
    assert calls == ["providers", "flavors"]


def test_provider_or_flavor_not_found_warns_and_uses_octavias_default() -> None:
    chosen, warned, _ = choose({"provider": "ovn", "flavor": "retired"})  # disabled = absent
    assert chosen == (None, None)
    assert warned == [
        (
            "OctaviaProviderNotFound",
            "Provider ovn specified for Octavia not found, using the default provider.",
        ),
        (
            "OctaviaFlavorNotFound",
            "Flavor retired specified for Octavia not found, using the default flavor.",
        ),
    ]


def test_nothing_asked_nothing_looked_up() -> None:
    chosen, warned, calls = choose({"allowedCIDRs": ["10.0.0.0/8"]})
    assert chosen == (None, None) and warned == [] and calls == []


def test_allowed_cidrs_drop_invalid_entries_with_capos_warning() -> None:
    network = {"subnets": [{"cidr": "10.6.0.0/24"}]}
    acl, dropped = cluster_endpoint.allowed_cidrs(
        ["198.51.100.7", "bad", "2001:db8::/64", "300.1.1.1"], network, ["192.0.2.1"]
    )
    assert acl == ["10.6.0.0/24", "192.0.2.1/32", "198.51.100.7/32", "2001:db8::/64"]
    assert dropped == ["bad", "300.1.1.1"]
    assert cluster_endpoint.invalid_cidr_warning("bad") == (
        "FailedIPAddressValidation",
        "bad is not a valid IP nor CIDR address and will not get applied to allowed_cidrs",
    )


# -- reconcile_load_balancer over a narrow fake of the Octavia calls it makes ----------------


class FakeOctavia:
    """The LB tree of one cluster in memory: find-by-name and create, as the core's modules."""

    def __init__(self, default_provider: str = "amphora") -> None:
        self.default_provider = default_provider
        self.lbs: dict[str, Any] = {}
        self.children: dict[str, Any] = {}
        self.created: list[str] = []
        self.lb_specs: list[Any] = []

    # load_balancers
    def find_by_name(self, name: str) -> Any:
        return self.lbs.get(name)

    def create(self, spec: Any) -> Any:
        if spec.name not in self.lbs:
            self.lb_specs.append(spec)
            self.lbs[spec.name] = types.SimpleNamespace(
                id="lb-1",
                name=spec.name,
                vip_address="10.6.0.9",
                vip_port_id="vip-port",
                provider=spec.provider or self.default_provider,
            )
        return self.lbs[spec.name]

    @property
    def api(self) -> Any:
        return self

    def wait_active(self, lb_id: str) -> Any:
        return self.lbs

    def update_listener(self, listener_id: str, **attrs: Any) -> None:
        listener = next(c for c in self.children.values() if c.id == listener_id)
        vars(listener).update(attrs)

    # lb_children
    def _make(self, kind: str, name: str, **attrs: Any) -> Any:
        made = types.SimpleNamespace(id=f"{kind}-{len(self.created) + 1}", name=name, **attrs)
        self.children[f"{kind} {name}"] = made
        self.created.append(kind)
        return made

    def find_listener(self, lb_id: str, name: str) -> Any:
        return self.children.get(f"listener {name}")

    def create_listener(self, lb_id: str, name: str, **attrs: Any) -> Any:
        return self._make("listener", name, **attrs)

    def find_pool(self, lb_id: str, name: str) -> Any:
        return self.children.get(f"pool {name}")

    def create_pool(self, lb_id: str, name: str, **attrs: Any) -> Any:
        return self._make("pool", name, **attrs)

    def find_health_monitor(self, pool_id: str) -> Any:
        return next(
            (m for m in self.children.values() if getattr(m, "pool_id", "") == pool_id), None
        )

    def create_health_monitor(self, lb_id: str, pool_id: str, **attrs: Any) -> Any:
        name = str(attrs.pop("name"))
        return self._make("monitor", name, pool_id=pool_id, **attrs)

    def update_health_monitor(self, monitor_id: str, **attrs: Any) -> None:
        monitor = next(c for c in self.children.values() if c.id == monitor_id)
        vars(monitor).update(attrs)


def reconcile(octavia: FakeOctavia, catalog: Catalog, settings: dict[str, Any]) -> Any:
    scope = types.SimpleNamespace(
        client=types.SimpleNamespace(call=lambda label, fn, *a, **k: fn(*a, **k)),
        load_balancers=octavia,
        lb_children=octavia,
        lb_catalog=catalog,
        crash_points=NO_CRASH_POINTS,
    )
    told: Told = []
    warned: Told = []
    spec = {"apiServer": {"managedLoadBalancer": settings}}
    network = {"id": "net-1", "name": "net", "subnets": [{"id": "sub-1", "cidr": "10.6.0.0/24"}]}
    status = cluster_endpoint.reconcile_load_balancer(
        scope,  # type: ignore[arg-type]
        ClusterRef("ns", "c1"),
        spec,
        network=network,
        external=None,
        previous={},
        save=lambda partial: None,
        tell=lambda reason, message: told.append((reason, message)),
        warn=lambda reason, message: warned.append((reason, message)),
    )
    return status, told, warned


def test_load_balancer_falls_back_to_the_default_provider_and_tells_each_step() -> None:
    octavia = FakeOctavia()
    catalog = Catalog(["amphora"], [])
    settings = {"provider": "ovn", "allowedCIDRs": ["192.0.2.0/24", "bad"]}
    status, told, warned = reconcile(octavia, catalog, settings)
    assert octavia.lb_specs[0].provider is None  # Octavia's default, not the missing "ovn"
    # The LB's real provider decides: amphora takes VIP ACLs and ROUND_ROBIN (ovn would not).
    assert status["allowedCIDRs"] == ["10.6.0.0/24", "192.0.2.0/24"]
    child = naming.lb_port_name(naming.load_balancer_name("ns", "c1"), 6443)
    pool = octavia.children[f"pool {child}"]
    assert pool.lb_algorithm == "ROUND_ROBIN"
    assert octavia.children[f"listener {child}"].allowed_cidrs == status["allowedCIDRs"]
    assert [r for r, _ in warned] == ["OctaviaProviderNotFound", "FailedIPAddressValidation"]
    assert told == [
        ("SuccessfulCreateListener", f"Created listener {child} with id listener-1"),
        ("SuccessfulCreatePool", f"Created pool {child} with id pool-2"),
        ("SuccessfulCreateMonitor", f"Created monitor {child} with id monitor-3"),
    ]
    # The next pass: nothing made, nothing told; the dropped entry is found again (the
    # controller tells it once), the provider is not looked up for an existing LB.
    catalog.calls.clear()
    _, told, warned = reconcile(octavia, catalog, settings)
    assert told == [] and catalog.calls == []
    assert [r for r, _ in warned] == ["FailedIPAddressValidation"]
    # A changed list updates the listener in place, told as CAPO (Go's list format).
    _, told, warned = reconcile(octavia, catalog, {**settings, "allowedCIDRs": ["203.0.113.0/24"]})
    assert octavia.children[f"listener {child}"].allowed_cidrs == ["10.6.0.0/24", "203.0.113.0/24"]
    assert warned == []
    assert told == [
        (
            "SuccessfulUpdateListener",
            f"Updated allowed_cidrs [10.6.0.0/24 203.0.113.0/24] for listener {child} "
            "with id listener-1",
        )
    ]


def test_a_found_ovn_provider_gets_source_ip_port_and_no_acl() -> None:
    octavia = FakeOctavia()
    status, _, warned = reconcile(
        octavia, Catalog(["amphora", "ovn"], []), {"provider": "ovn", "allowedCIDRs": ["bad"]}
    )
    assert octavia.lb_specs[0].provider == "ovn" and warned == []
    assert "allowedCIDRs" not in status
    child = naming.lb_port_name(naming.load_balancer_name("ns", "c1"), 6443)
    assert octavia.children[f"pool {child}"].lb_algorithm == "SOURCE_IP_PORT"


# -- the recorder: a warning found on every pass is written once --------------------------


class EventsApi:
    """The two calls ``EventRecorder`` makes, recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def create_namespaced_event(self, namespace: str, body: Any) -> Any:
        self.calls.append(("create", body.message))
        return body

    def patch_namespaced_event(self, name: str, namespace: str, body: dict[str, Any]) -> Any:
        self.calls.append(("patch", str(body["count"])))
        return body


def test_event_once_writes_a_repeated_warning_once_and_a_changed_one_again() -> None:
    api = EventsApi()
    recorder = EventRecorder(api, component="openstack-controller", clock=SystemClock())
    ref = ObjectRef(kind="OpenStackCluster", name="c1", namespace="ns", uid="u1")
    reason, message = cluster_endpoint.invalid_cidr_warning("bad")
    assert recorder.event_once(ref, "Warning", reason, message) is True
    assert recorder.event_once(ref, "Warning", reason, message) is False
    assert api.calls == [("create", message)]  # no count bump, no second Event
    other = cluster_endpoint.invalid_cidr_warning("worse")
    assert recorder.event_once(ref, "Warning", *other) is True
    other_object = ObjectRef(kind="OpenStackCluster", name="c2", namespace="ns", uid="u2")
    assert recorder.event_once(other_object, "Warning", reason, message) is True
    assert [c for c, _ in api.calls] == ["create", "create", "create"]
    recorder.event(ref, "Warning", reason, message)  # plain events still aggregate
    assert api.calls[-1] == ("patch", "2")


# -- failures: the condition keeps our reason, the Warning event is CAPO's ------------------


class BrokenOctavia(FakeOctavia):
    """Octavia refusing one kind of create."""

    def __init__(self, broken: str, status: int = 409) -> None:
        super().__init__()
        self.broken, self.status = broken, status

    def create(self, spec: Any) -> Any:
        if self.broken == "loadbalancer":
            raise errors.OpenStackError("quota exceeded", status=403)
        return super().create(spec)

    def _make(self, kind: str, name: str, **attrs: Any) -> Any:
        if kind == self.broken:
            raise errors.ServerError(f"{kind} refused", status=self.status)
        return super()._make(kind, name, **attrs)


@pytest.mark.parametrize(
    ("broken", "event"),
    [
        ("loadbalancer", "FailedCreateLoadBalancer"),
        ("listener", "FailedCreateListener"),
        ("pool", "FailedCreatePool"),
        ("monitor", "FailedCreateMonitor"),
    ],
)
def test_load_balancer_failures_are_told_as_capos_events(broken: str, event: str) -> None:
    with pytest.raises(NetworkError) as info:
        reconcile(BrokenOctavia(broken), Catalog([], []), {})
    exc = info.value
    assert (exc.reason, exc.condition, exc.event) == (
        "LoadBalancerFailed",
        "APIEndpointReady",
        event,
    )
    lb_name = naming.load_balancer_name("ns", "c1")
    assert str(exc).startswith(f"load balancer {lb_name}: ")


def test_network_failures_are_told_as_capos_events() -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise errors.OpenStackError("network quota exceeded", status=409)

    scope = types.SimpleNamespace(networking=types.SimpleNamespace(create_network=refuse))
    spec = {"managedSubnets": [{"cidr": "10.6.0.0/24"}]}
    with pytest.raises(NetworkError) as info:
        managed_network(scope, ClusterRef("ns", "c1"), spec, [])  # type: ignore[arg-type]
    assert (info.value.reason, info.value.event) == ("NetworkCreateFailed", "FailedCreateNetwork")
    assert "network quota exceeded" in str(info.value)
    # A step with no CAPO event of its own is told by its condition reason.
    assert NetworkError("ExternalNetworkNotFound", "none").event == "ExternalNetworkNotFound"


def test_changed_monitor_timings_are_updated_and_told_as_capos_update() -> None:
    """CAPO's ensureMonitor: ``SuccessfulUpdateMonitor`` "Updated monitor <name> with id <id>"
    after an update; an unchanged monitor again tells nothing."""
    octavia = FakeOctavia()
    reconcile(octavia, Catalog([], []), {})
    child = naming.lb_port_name(naming.load_balancer_name("ns", "c1"), 6443)
    settings = {"monitor": {"delay": 20, "maxRetriesDown": 4}}
    _, told, warned = reconcile(octavia, Catalog([], []), settings)
    made = octavia.children[f"monitor {child}"]
    assert (made.delay, made.timeout, made.max_retries, made.max_retries_down) == (20, 5, 5, 4)
    assert told == [("SuccessfulUpdateMonitor", f"Updated monitor {child} with id monitor-3")]
    assert warned == [] and octavia.created == ["listener", "pool", "monitor"]
    _, told, _ = reconcile(octavia, Catalog([], []), settings)
    assert told == []


def test_a_refused_monitor_update_is_told_as_failed_update_not_create() -> None:
    class RefusingUpdates(FakeOctavia):
        def update_health_monitor(self, monitor_id: str, **attrs: Any) -> None:
            raise errors.ServerError("monitor update refused", status=500)

    octavia = RefusingUpdates()
    reconcile(octavia, Catalog([], []), {})
    with pytest.raises(NetworkError) as info:
        reconcile(octavia, Catalog([], []), {"monitor": {"timeout": 7}})
    assert (info.value.reason, info.value.event) == ("LoadBalancerFailed", "FailedUpdateMonitor")
    assert "monitor update refused" in str(info.value)


def test_a_provider_without_health_monitors_is_a_warning_only() -> None:
    """capo.md §2.3: "not implemented" (501) from the provider: no monitor, a warning."""
    octavia = BrokenOctavia("monitor", status=501)
    status, told, warned = reconcile(octavia, Catalog([], []), {})
    assert status["id"] == "lb-1" and octavia.created == ["listener", "pool"]
    assert [r for r, _ in told] == ["SuccessfulCreateListener", "SuccessfulCreatePool"]
    assert warned == [
        (
            "SkippedCreateMonitor",
            "Health Monitor is not created as it's not implemented with the current Octavia "
            "provider.",
        )
    ]


def test_deletions_are_told_and_their_failures_warned() -> None:
    """capo.md §2.10: ``SuccessfulDelete<Kind>``, or ``FailedDelete<Kind>`` with the
    OpenStack message (the error still goes to the work queue)."""
    from osk8s_capo import cluster_delete

    def groups(refuse: str) -> Any:
        def delete(group_id: str) -> None:
            if group_id == refuse:
                raise errors.Conflict("group in use", status=409)

        return types.SimpleNamespace(
            find_by_name=lambda name: types.SimpleNamespace(id=f"id-{name[-6:]}", name=name),
            delete=delete,
        )

    told: Told = []
    warned: Told = []

    def run(refuse: str) -> None:
        cluster_delete.delete_security_groups(
            types.SimpleNamespace(security_groups=groups(refuse)),  # type: ignore[arg-type]
            ClusterRef("ns", "c1"),
            tell=lambda reason, message: told.append((reason, message)),
            warn=lambda reason, message: warned.append((reason, message)),
        )

    run(refuse="")
    assert [r for r, _ in told] == ["SuccessfulDeleteSecurityGroup"] * 3 and warned == []
    worker = naming.security_group_name("ns", "c1", "worker")
    assert told[1] == (
        "SuccessfulDeleteSecurityGroup",
        f"Deleted security group {worker} with id id-worker",
    )
    told.clear()
    with pytest.raises(errors.Conflict):
        run(refuse="id-worker")
    assert [r for r, _ in told] == ["SuccessfulDeleteSecurityGroup"]  # the first, then stop
    assert warned == [
        (
            "FailedDeleteSecurityGroup",
            f"Failed to delete security group {worker} with id id-worker: group in use",
        )
    ]
