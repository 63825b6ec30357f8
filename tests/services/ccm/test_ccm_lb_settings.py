"""Table tests of the per-Service load balancer settings: every annotation of CPO §1.4.3 with
its parsing rule, and the precedence annotation / class / config. Expected values come from the
anchor and CPO's user docs (/work/shared/specs/ccm/), not from running the code."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from osk8s_ccm import lb_annotations as ann
from osk8s_ccm.lb_provider import IngressPoint, LoadBalancerService
from osk8s_ccm.lb_settings import (
    ETP_LOCAL_WITHOUT_MONITOR,
    FloatingSubnetSpec,
    ServiceLoadBalancerSettings,
    ingress_for,
    parse_node_selector,
    service_settings,
    wait_lb_active_steps,
)
from osk8s_core.config import LoadBalancerClass, LoadBalancerOptions

CONFIG = LoadBalancerOptions(
    lb_method="LEAST_CONNECTIONS",
    subnet_id="cfg-subnet",
    network_id="cfg-net",
    floating_network_id="cfg-fip-net",
    floating_subnet="cfg-pattern",
    create_monitor=True,
    monitor_delay=timedelta(seconds=7, milliseconds=900),
    monitor_timeout=timedelta(seconds=4),
    monitor_max_retries=2,
    monitor_max_retries_down=5,
    node_selector="role=lb",
    flavor_id="cfg-flavor",
    availability_zone="cfg-az",
    default_tls_container_ref="https://kms/v1/containers/cfg",
    ingress_hostname_suffix="example.net",
)
CLASSES = {
    "dmz": LoadBalancerClass(
        floating_network_id="dmz-fip-net",
        floating_subnet_tags="&a,b",
        network_id="dmz-net",
        subnet_id="dmz-subnet",
        member_subnet_id="dmz-members",
    ),
    "fip-only": LoadBalancerClass(floating_network_id="fo-net"),
}


def svc(annotations: dict[str, str] | None = None, **spec: Any) -> LoadBalancerService:
    return LoadBalancerService(
        namespace="ns", name="web", uid="uid-1", annotations=annotations or {}, **spec
    )


def settings(
    annotations: dict[str, str] | None = None,
    config: LoadBalancerOptions = CONFIG,
    **spec: Any,
) -> ServiceLoadBalancerSettings:
    return service_settings(svc(annotations, **spec), config, CLASSES)


# (annotation, value, field, expected, warned) — the config default applies when warned.
SCALARS = [
    # bool: exactly "true"/"false" (CPO getBoolFromServiceAnnotation), anything else: default
    (ann.INTERNAL, "true", "internal", True, False),
    (ann.INTERNAL, "false", "internal", False, False),
    (ann.INTERNAL, "True", "internal", False, True),
    (ann.INTERNAL, "yes", "internal", False, True),
    (ann.INTERNAL, "", "internal", False, True),
    (ann.KEEP_FLOATING_IP, "true", "keep_floating_ip", True, False),
    (ann.KEEP_FLOATING_IP, "1", "keep_floating_ip", False, True),
    (ann.X_FORWARDED_FOR, "true", "x_forwarded_for", True, False),
    (ann.X_FORWARDED_FOR, "TRUE", "x_forwarded_for", False, True),
    (ann.ENABLE_INGRESS_HOSTNAME, "true", "enable_ingress_hostname", True, False),
    (ann.ENABLE_INGRESS_HOSTNAME, "on", "enable_ingress_hostname", False, True),
    # int: Go Atoi (sign allowed, no spaces, no underscores), error: default
    (ann.CONNECTION_LIMIT, "100", "connection_limit", 100, False),
    (ann.CONNECTION_LIMIT, "-1", "connection_limit", -1, False),
    (ann.CONNECTION_LIMIT, "+7", "connection_limit", 7, False),
    (ann.CONNECTION_LIMIT, " 5", "connection_limit", -1, True),
    (ann.CONNECTION_LIMIT, "1_000", "connection_limit", -1, True),
    (ann.CONNECTION_LIMIT, "ten", "connection_limit", -1, True),
    (ann.CONNECTION_LIMIT, "", "connection_limit", -1, True),
    # strings are taken as given, even empty (an empty annotation beats the config)
    (ann.PORT_ID, "port-1", "port_id", "port-1", False),
    (ann.FLAVOR_ID, "f-ann", "flavor_id", "f-ann", False),
    (ann.FLAVOR_ID, "", "flavor_id", "", False),
    (ann.AVAILABILITY_ZONE, "az-ann", "availability_zone", "az-ann", False),
    (ann.HOSTNAME, "lb.example.com", "hostname", "lb.example.com", False),
    (ann.LOAD_BALANCER_ID, "lb-uuid", "load_balancer_id", "lb-uuid", False),
    (
        ann.DEFAULT_TLS_CONTAINER_REF,
        "https://k/v1/secrets/x",
        "default_tls_container_ref",
        "https://k/v1/secrets/x",
        False,
    ),
    # lb-method: the four Octavia algorithms; others: config value and a warning
    (ann.LB_METHOD, "SOURCE_IP", "lb_method", "SOURCE_IP", False),
    (ann.LB_METHOD, "SOURCE_IP_PORT", "lb_method", "SOURCE_IP_PORT", False),
    (ann.LB_METHOD, "ROUND_ROBIN", "lb_method", "ROUND_ROBIN", False),
    (ann.LB_METHOD, "round_robin", "lb_method", "LEAST_CONNECTIONS", True),
    (ann.LB_METHOD, "RANDOM", "lb_method", "LEAST_CONNECTIONS", True),
    # proxy-protocol: true/v1 -> PROXY, v2 -> PROXYV2, else off
    (ann.PROXY_PROTOCOL, "true", "proxy_protocol", "PROXY", False),
    (ann.PROXY_PROTOCOL, "v1", "proxy_protocol", "PROXY", False),
    (ann.PROXY_PROTOCOL, "v2", "proxy_protocol", "PROXYV2", False),
    (ann.PROXY_PROTOCOL, "false", "proxy_protocol", None, False),
    (ann.PROXY_PROTOCOL, "V2", "proxy_protocol", None, True),
]


@pytest.mark.parametrize(("key", "value", "field", "expected", "warned"), SCALARS)
def test_annotation_parsing(key: str, value: str, field: str, expected: Any, warned: bool) -> None:
    result = settings({key: value})
    assert getattr(result, field) == expected
    warned_keys = [w.key for w in result.warnings]
    assert (key in warned_keys) is warned, result.warnings
    assert result.errors == ()


def test_defaults_without_annotations_come_from_config() -> None:
    result = settings()
    assert result.internal is False
    assert result.connection_limit == -1
    assert result.lb_method == "LEAST_CONNECTIONS"
    assert result.proxy_protocol is None
    assert result.flavor_id == "cfg-flavor"
    assert result.availability_zone == "cfg-az"
    assert result.default_tls_container_ref == "https://kms/v1/containers/cfg"
    assert dict(result.node_selector) == {"role": "lb"}
    assert result.keep_floating_ip is False
    assert result.hostname == ""
    assert result.enable_ingress_hostname is False
    assert result.ingress_hostname_suffix == "example.net"
    assert result.floating_network_id == "cfg-fip-net"
    assert result.floating_subnet == FloatingSubnetSpec(name="cfg-pattern")
    assert (result.network_id, result.subnet_id) == ("cfg-net", "cfg-subnet")
    # member subnet falls back to config subnet-id when member-subnet-id is unset
    assert result.member_subnet_id == "cfg-subnet"
    assert result.warnings == () and result.errors == ()


def test_listener_timeouts_defaults_and_annotations() -> None:
    default = settings().timeouts
    assert (default.client_data, default.member_connect) == (50000, 5000)
    assert (default.member_data, default.tcp_inspect) == (50000, 0)
    result = settings(
        {
            ann.TIMEOUT_CLIENT_DATA: "1000",
            ann.TIMEOUT_MEMBER_CONNECT: "2000",
            ann.TIMEOUT_MEMBER_DATA: "3000",
            ann.TIMEOUT_TCP_INSPECT: "x",
        }
    )
    assert result.timeouts.client_data == 1000
    assert result.timeouts.member_connect == 2000
    assert result.timeouts.member_data == 3000
    assert result.timeouts.tcp_inspect == 0
    assert [w.key for w in result.warnings] == [ann.TIMEOUT_TCP_INSPECT]


def test_health_monitor_defaults_from_config_in_whole_seconds() -> None:
    monitor = settings().health_monitor
    # monitor-delay 7.9s is truncated to 7 (Go int(Duration.Seconds()))
    assert (monitor.enabled, monitor.delay, monitor.timeout) == (True, 7, 4)
    assert (monitor.max_retries, monitor.max_retries_down) == (2, 5)


def test_health_monitor_annotations() -> None:
    result = settings(
        {
            ann.ENABLE_HEALTH_MONITOR: "false",
            ann.HEALTH_MONITOR_DELAY: "30",
            ann.HEALTH_MONITOR_TIMEOUT: "10",
            ann.HEALTH_MONITOR_MAX_RETRIES: "4",
            ann.HEALTH_MONITOR_MAX_RETRIES_DOWN: "bad",
        }
    )
    monitor = result.health_monitor
    assert (monitor.enabled, monitor.delay, monitor.timeout) == (False, 30, 10)
    assert (monitor.max_retries, monitor.max_retries_down) == (4, 5)
    assert [w.key for w in result.warnings] == [ann.HEALTH_MONITOR_MAX_RETRIES_DOWN]


def test_internal_lb_config_forces_internal() -> None:
    forced = LoadBalancerOptions(internal_lb=True)
    assert service_settings(svc({ann.INTERNAL: "false"}), forced, {}).internal is True
    assert service_settings(svc(), forced, {}).internal is True


@pytest.mark.parametrize(
    ("text", "expected", "problems"),
    [
        ("env=production, region=default", {"env": "production", "region": "default"}, 0),
        ("k1=v1,k2", {"k1": "v1", "k2": ""}, 0),
        (" k = v ,, ", {"k": "v"}, 0),
        ("", {}, 0),
        ("a=b=c,ok=1", {"ok": "1"}, 1),
        ("=v", {}, 1),
    ],
)
def test_node_selector(text: str, expected: dict[str, str], problems: int) -> None:
    parsed, found = parse_node_selector(text)
    assert dict(parsed) == expected
    assert len(found) == problems


def test_node_selector_annotation_beats_config_even_empty() -> None:
    assert dict(settings({ann.NODE_SELECTOR: "zone=a"}).node_selector) == {"zone": "a"}
    assert dict(settings({ann.NODE_SELECTOR: ""}).node_selector) == {}


def test_xff_with_proxy_protocol_is_an_error() -> None:
    result = settings({ann.X_FORWARDED_FOR: "true", ann.PROXY_PROTOCOL: "v2"})
    assert len(result.errors) == 1
    assert ann.X_FORWARDED_FOR in result.errors[0]


def test_unknown_class_is_an_error() -> None:
    result = settings({ann.CLASS: "nope"})
    assert result.class_name == "nope"
    assert len(result.errors) == 1 and "nope" in result.errors[0]


def test_empty_class_annotation_means_no_class() -> None:
    result = settings({ann.CLASS: ""})
    assert result.errors == () and result.class_name == ""


PRECEDENCE_ANNOTATIONS = {
    ann.FLOATING_NETWORK_ID: "ann-fip-net",
    ann.FLOATING_SUBNET_ID: "ann-fip-subnet",
    ann.NETWORK_ID: "ann-net",
    ann.SUBNET_ID: "ann-subnet",
    ann.MEMBER_SUBNET_ID: "ann-members",
}


@pytest.mark.parametrize(
    ("class_name", "annotated", "expected"),
    [
        # no class: annotation > config
        (
            None,
            True,
            (
                "ann-fip-net",
                FloatingSubnetSpec(subnet_id="ann-fip-subnet"),
                "ann-net",
                "ann-subnet",
                "ann-members",
            ),
        ),
        (
            None,
            False,
            (
                "cfg-fip-net",
                FloatingSubnetSpec(name="cfg-pattern"),
                "cfg-net",
                "cfg-subnet",
                "cfg-subnet",
            ),
        ),
        # class values beat the annotations (CPO docs), except member-subnet-id (CPO code:
        # annotation > class > config)
        (
            "dmz",
            True,
            (
                "dmz-fip-net",
                FloatingSubnetSpec(tags="&a,b"),
                "dmz-net",
                "dmz-subnet",
                "ann-members",
            ),
        ),
        (
            "dmz",
            False,
            (
                "dmz-fip-net",
                FloatingSubnetSpec(tags="&a,b"),
                "dmz-net",
                "dmz-subnet",
                "dmz-members",
            ),
        ),
        # a class that sets only the floating network: the rest falls through
        (
            "fip-only",
            True,
            (
                "fo-net",
                FloatingSubnetSpec(subnet_id="ann-fip-subnet"),
                "ann-net",
                "ann-subnet",
                "ann-members",
            ),
        ),
        (
            "fip-only",
            False,
            (
                "fo-net",
                FloatingSubnetSpec(name="cfg-pattern"),
                "cfg-net",
                "cfg-subnet",
                "cfg-subnet",
            ),
        ),
    ],
)
def test_precedence(class_name: str | None, annotated: bool, expected: tuple[Any, ...]) -> None:
    annotations = dict(PRECEDENCE_ANNOTATIONS) if annotated else {}
    if class_name is not None:
        annotations[ann.CLASS] = class_name
    result = settings(annotations)
    got = (
        result.floating_network_id,
        result.floating_subnet,
        result.network_id,
        result.subnet_id,
        result.member_subnet_id,
    )
    assert got == expected
    assert result.errors == ()


def test_floating_subnet_spec_is_taken_as_a_group() -> None:
    # tags annotation alone replaces the config's name pattern (not merged with it)
    result = settings({ann.FLOATING_SUBNET_TAGS: "!internal"})
    assert result.floating_subnet == FloatingSubnetSpec(tags="!internal")
    both = settings({ann.FLOATING_SUBNET: "~^pub", ann.FLOATING_SUBNET_TAGS: "x"})
    assert both.floating_subnet == FloatingSubnetSpec(name="~^pub", tags="x")


def test_member_subnet_config_beats_config_subnet() -> None:
    config = LoadBalancerOptions(subnet_id="vip", member_subnet_id="members")
    assert service_settings(svc(), config, {}).member_subnet_id == "members"


@pytest.mark.parametrize(
    ("spec", "annotation", "family", "expected", "errors"),
    [
        ((), None, "IPv4", ("0.0.0.0/0",), 0),
        ((), None, "IPv6", ("::/0",), 0),
        ((), " 10.0.0.0/8 , 192.168.1.0/24", "IPv4", ("10.0.0.0/8", "192.168.1.0/24"), 0),
        (("172.16.0.0/12",), "10.0.0.0/8", "IPv4", ("172.16.0.0/12",), 0),  # spec wins
        ((), "", "IPv4", ("0.0.0.0/0",), 0),
        ((), "10.0.0.0/8,not-a-cidr", "IPv4", ("10.0.0.0/8",), 1),
    ],
)
def test_source_ranges(
    spec: tuple[str, ...],
    annotation: str | None,
    family: str,
    expected: tuple[str, ...],
    errors: int,
) -> None:
    annotations = {} if annotation is None else {ann.SOURCE_RANGES: annotation}
    result = settings(annotations, load_balancer_source_ranges=spec, ip_families=(family,))
    assert result.source_ranges == expected
    # a bad CIDR never widens access to the world: the Service is refused instead
    assert len(result.errors) == errors


def test_etp_local_without_monitor_warns_what_to_set() -> None:
    no_monitor = LoadBalancerOptions(create_monitor=False)
    result = service_settings(svc(external_traffic_policy="Local"), no_monitor, {})
    [warning] = result.warnings
    assert warning.reason == ETP_LOCAL_WITHOUT_MONITOR
    assert f'{ann.ENABLE_HEALTH_MONITOR}: "true"' in warning.message
    assert "create-monitor=true" in warning.message
    monitored = svc({ann.ENABLE_HEALTH_MONITOR: "true"}, external_traffic_policy="Local")
    assert service_settings(monitored, no_monitor, {}).warnings == ()
    assert service_settings(svc(external_traffic_policy="Cluster"), no_monitor, {}).warnings == ()


@pytest.mark.parametrize(
    ("annotations", "config_hostname", "expected"),
    [
        ({}, False, IngressPoint(ip="198.51.100.7", ip_mode="VIP")),
        ({ann.PROXY_PROTOCOL: "true"}, False, IngressPoint(ip="198.51.100.7", ip_mode="Proxy")),
        ({ann.PROXY_PROTOCOL: "v2"}, True, IngressPoint(hostname="198.51.100.7.example.net")),
        # osk8s (CPO #3232): the per-Service annotation overrides the config both ways
        (
            {ann.PROXY_PROTOCOL: "true", ann.ENABLE_INGRESS_HOSTNAME: "false"},
            True,
            IngressPoint(ip="198.51.100.7", ip_mode="Proxy"),
        ),
        (
            {ann.PROXY_PROTOCOL: "true", ann.ENABLE_INGRESS_HOSTNAME: "true"},
            False,
            IngressPoint(hostname="198.51.100.7.example.net"),
        ),
        # without PROXY the hostname hack does not apply
        (
            {ann.ENABLE_INGRESS_HOSTNAME: "true"},
            False,
            IngressPoint(ip="198.51.100.7", ip_mode="VIP"),
        ),
        # the hostname annotation wins over everything, and hides the IP
        (
            {ann.HOSTNAME: "lb.example.com", ann.PROXY_PROTOCOL: "true"},
            True,
            IngressPoint(hostname="lb.example.com"),
        ),
    ],
)
def test_ingress_status(
    annotations: dict[str, str], config_hostname: bool, expected: IngressPoint
) -> None:
    config = LoadBalancerOptions(
        enable_ingress_hostname=config_hostname, ingress_hostname_suffix="example.net"
    )
    result = service_settings(svc(annotations), config, {})
    assert ingress_for("198.51.100.7", result) == (expected,)


def test_ingress_point_json_shape() -> None:
    assert IngressPoint(ip="192.0.2.1", ip_mode="Proxy").to_object() == {
        "ip": "192.0.2.1",
        "ipMode": "Proxy",
    }
    assert IngressPoint(hostname="h.example").to_object() == {"hostname": "h.example"}


@pytest.mark.parametrize(
    ("environ", "steps", "warned"),
    [
        ({}, 23, False),
        ({"OCCM_WAIT_LB_ACTIVE_STEPS": "40"}, 40, False),
        ({"OCCM_WAIT_LB_ACTIVE_STEPS": "0"}, 23, True),
        ({"OCCM_WAIT_LB_ACTIVE_STEPS": "many"}, 23, True),
    ],
)
def test_wait_lb_active_steps(environ: dict[str, str], steps: int, warned: bool) -> None:
    value, warning = wait_lb_active_steps(environ)
    assert value == steps
    assert (warning is not None) is warned


def test_settings_are_frozen() -> None:
    result = settings()
    with pytest.raises(AttributeError):
        result.internal = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.node_selector["x"] = "y"  # type: ignore[index]
