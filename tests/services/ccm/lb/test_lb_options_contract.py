"""Per-Service options on one real Octavia LB, changed in place (CPO §1.4.3/§1.4.5): PROXY v2,
timeouts, connection limit, lb-method, session affinity, allowed CIDRs, an HTTP health
monitor for ``externalTrafficPolicy: Local``; then X-Forwarded-For (an HTTP listener replaces
the TCP one); then a Barbican TLS ref (TERMINATED_HTTPS); a TLS ref that is not in Barbican
is refused before anything is created.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from osk8s_ccm import lb_annotations as ann
from osk8s_ccm.lb_provider import LoadBalancerError
from osk8s_testing.tls import self_signed_localhost

from .conftest import Octavia, Recorder, annotated, nodes_at, service

pytestmark = pytest.mark.contract

OPTIONS = {
    ann.INTERNAL: "true",
    ann.PROXY_PROTOCOL: "v2",
    ann.TIMEOUT_CLIENT_DATA: "40000",
    ann.TIMEOUT_MEMBER_CONNECT: "4000",
    ann.TIMEOUT_MEMBER_DATA: "41000",
    ann.TIMEOUT_TCP_INSPECT: "100",
    ann.CONNECTION_LIMIT: "100",
    ann.LB_METHOD: "LEAST_CONNECTIONS",
    ann.ENABLE_HEALTH_MONITOR: "true",
    ann.HEALTH_MONITOR_DELAY: "7",
    ann.HEALTH_MONITOR_TIMEOUT: "4",
    ann.HEALTH_MONITOR_MAX_RETRIES: "2",
    ann.HEALTH_MONITOR_MAX_RETRIES_DOWN: "4",
}


@pytest.fixture(scope="module")
def tls_ref(octavia: Octavia, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    files = self_signed_localhost(tmp_path_factory.mktemp("tls"))
    key: Any = serialization.load_pem_private_key(Path(files.key).read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate(Path(files.cert).read_bytes())
    bundle = pkcs12.serialize_key_and_certificates(
        b"ccm", key, cert, None, serialization.NoEncryption()
    )
    km: Any = octavia.conn.key_manager
    secret = km.create_secret(
        name=f"osk8s-ccm-{octavia.cluster}",
        payload=base64.b64encode(bundle).decode(),
        payload_content_type="application/octet-stream",
        payload_content_encoding="base64",
        secret_type="opaque",
    )
    try:
        yield str(secret.secret_ref)
    finally:
        octavia.sweep()  # listeners go before the certificate they use
        km.delete_secret(str(secret.secret_ref).rsplit("/", 1)[-1], ignore_missing=True)


def _tree(octavia: Octavia, lb_id: str) -> tuple[Any, Any, list[Any], Any]:
    [listener] = octavia.listeners(lb_id)
    [pool] = octavia.pools(lb_id)
    members = list(octavia.conn.load_balancer.members(pool.id))
    monitor = (
        octavia.conn.load_balancer.get_health_monitor(pool.health_monitor_id)
        if pool.health_monitor_id
        else None
    )
    return listener, pool, members, monitor


def test_options_then_changes_in_place(
    octavia: Octavia, tls_ref: str, testcloud_network: dict[str, str]
) -> None:
    # A VIP port the user made (``port-id``): the LB takes it instead of making its own.
    vip_port = octavia.conn.network.create_port(
        network_id=testcloud_network["network_id"], name=f"{octavia.cluster}-vip"
    )
    try:
        _options_then_changes(octavia, tls_ref, vip_port)
    finally:
        octavia.sweep()
        octavia.conn.network.delete_port(vip_port.id, ignore_missing=True)


def _options_then_changes(octavia: Octavia, tls_ref: str, vip_port: Any) -> None:
    provider = octavia.harness().provider
    nodes = nodes_at(31, 32)
    svc = service(
        "opts",
        ("TCP", 80, 30480),
        annotations={**OPTIONS, ann.PORT_ID: vip_port.id},
        external_traffic_policy="Local",
        health_check_node_port=32100,
        session_affinity="ClientIP",
        load_balancer_source_ranges=("10.0.0.0/8", "172.16.0.0/12"),
    )
    recorder = Recorder()
    status = provider.ensure_load_balancer(octavia.cluster, svc, nodes, recorder)
    [lb] = octavia.lbs()
    assert lb.vip_port_id == vip_port.id
    assert lb.vip_address == vip_port.fixed_ips[0]["ip_address"]
    assert [(p.ip, p.ip_mode) for p in status.ingress] == [(lb.vip_address, "Proxy")]
    listener, pool, members, monitor = _tree(octavia, lb.id)
    assert (listener.protocol, listener.connection_limit) == ("TCP", 100)
    assert (
        listener.timeout_client_data,
        listener.timeout_member_connect,
        listener.timeout_member_data,
        listener.timeout_tcp_inspect,
    ) == (40000, 4000, 41000, 100)
    assert sorted(listener.allowed_cidrs) == ["10.0.0.0/8", "172.16.0.0/12"]
    assert (pool.protocol, pool.lb_algorithm) == ("PROXYV2", "LEAST_CONNECTIONS")
    assert pool.session_persistence["type"] == "SOURCE_IP"
    assert sorted((m.address, m.protocol_port, m.monitor_port) for m in members) == [
        ("192.0.2.31", 30480, 32100),
        ("192.0.2.32", 30480, 32100),
    ]
    assert (monitor.type, monitor.url_path, monitor.expected_codes) == ("HTTP", "/healthz", "200")
    assert (monitor.delay, monitor.timeout, monitor.max_retries) == (7, 4, 2)
    assert monitor.max_retries_down == 4

    # X-Forwarded-For instead of PROXY, no monitor, no source ranges, round robin.
    svc = dataclasses.replace(
        annotated(svc, recorder.annotations),
        annotations={
            **{k: v for k, v in recorder.annotations.items()},
            ann.INTERNAL: "true",
            ann.X_FORWARDED_FOR: "true",
        },
        load_balancer_source_ranges=(),
        session_affinity="None",
    )
    harness = octavia.harness()
    status = harness.provider.ensure_load_balancer(octavia.cluster, svc, nodes, recorder)
    assert [(p.ip, p.ip_mode) for p in status.ingress] == [(lb.vip_address, "VIP")]
    listener, pool, members, monitor = _tree(octavia, lb.id)
    assert listener.protocol == "HTTP" and listener.insert_headers == {"X-Forwarded-For": "true"}
    assert listener.allowed_cidrs in (["0.0.0.0/0"], None)
    assert (pool.protocol, pool.lb_algorithm, monitor) == ("HTTP", "ROUND_ROBIN", None)
    assert [m.monitor_port for m in members] == [None, None]
    assert harness.writes().get("loadbalancer_listener_delete") == 1

    # A TLS ref validated in Barbican: TERMINATED_HTTPS listener, HTTP pool.
    svc = annotated(svc, {ann.DEFAULT_TLS_CONTAINER_REF: tls_ref})
    provider.ensure_load_balancer(octavia.cluster, svc, nodes, recorder)
    listener, pool, _, _ = _tree(octavia, lb.id)
    assert (listener.protocol, listener.default_tls_container_ref) == ("TERMINATED_HTTPS", tls_ref)
    assert pool.protocol == "HTTP"

    # cascade-delete=false: monitor, pool and listener one by one, then the LB.
    harness = octavia.harness(cascade_delete=False)
    harness.provider.ensure_load_balancer_deleted(octavia.cluster, svc, recorder)
    writes = harness.writes()
    assert writes.get("loadbalancer_listener_delete") == 1, writes
    assert writes.get("loadbalancer_pool_delete") == 1, writes
    assert writes.get("loadbalancer_delete") == 1, writes
    assert octavia.inventory() == {
        "lbs": [],
        "listeners": [],
        "pools": [],
        "fips": [],
        "security_groups": [],
    }


def test_tls_ref_missing_in_barbican_is_refused_before_any_create(octavia: Octavia) -> None:
    harness = octavia.harness()
    missing = "http://127.0.0.1:9311/v1/secrets/00000000-0000-4000-8000-000000000000"
    svc = service(
        "notls", ("TCP", 443, 30443), annotations={ann.DEFAULT_TLS_CONTAINER_REF: missing}
    )
    with pytest.raises(LoadBalancerError, match="does not exist in Barbican") as caught:
        harness.provider.ensure_load_balancer(octavia.cluster, svc, nodes_at(33), Recorder())
    assert caught.value.reason == "InvalidTlsRef"
    assert harness.writes() == {}
    assert [lb for lb in octavia.lbs() if lb.name.endswith("_notls")] == []
