"""TLS, floating IPs, listener options and IngressClass selection on the real Octavia,
Neutron and Barbican of the test cloud: one Ingress taken through its life.

It is picked up through the default IngressClass (no annotation), gets a floating IP, allowed
CIDRs and a timeout; then TLS is added, and the listener becomes TERMINATED_HTTPS on the same
load balancer and floating IP (CPO cannot change the protocol); the certificate is a PKCS#12
secret in Barbican. On delete the floating IP is kept (``keep-floatingip``) and every other
object is gone.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from openstack.connection import Connection

from osk8s_octavia_ingress import naming
from osk8s_octavia_ingress.selection import CONTROLLER_NAME
from osk8s_testing.tls import self_signed_localhost

from .conftest import Builder, Kube, delete_lbs

pytestmark = pytest.mark.contract

P = "octavia.ingress.kubernetes.io/"


def _secret(kube: Kube, tmp_path: Path) -> x509.Certificate:
    files = self_signed_localhost(tmp_path)
    cert = Path(files.cert).read_bytes()
    key = Path(files.key).read_bytes()
    kube.core.create_namespaced_secret(
        "default",
        {
            "metadata": {"name": "site-tls"},
            "type": "kubernetes.io/tls",
            "data": {
                "tls.crt": base64.b64encode(cert).decode(),
                "tls.key": base64.b64encode(key).decode(),
            },
        },
    )
    return x509.load_pem_x509_certificate(cert)


def test_tls_added_later_keeps_lb_and_floating_ip(  # noqa: PLR0915 (one life, in order)
    kube: Kube,
    make_reconciler: Builder,
    ingress_conn: Connection,
    cluster: str,
    tmp_path: Path,
) -> None:
    kube.node("tls-node", "10.22.0.11")
    kube.service("site", [{"port": 443, "nodePort": 30443}])
    cert = _secret(kube, tmp_path)
    kube.net.create_ingress_class(
        {
            "metadata": {
                "name": "octavia",
                "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"},
            },
            "spec": {"controller": CONTROLLER_NAME},
        }
    )
    reconciler, _ = make_reconciler(cluster, floating=True)
    resource = naming.resource_name(cluster, "default", "edge")
    lb_api: Any = ingress_conn.load_balancer
    net: Any = ingress_conn.network
    km: Any = ingress_conn.key_manager
    rule = {
        "host": "site.example.com",
        "http": {
            "paths": [
                {
                    "path": "/",
                    "pathType": "Prefix",
                    "backend": {"service": {"name": "site", "port": {"number": 443}}},
                }
            ]
        },
    }
    kube.net.create_namespaced_ingress(
        "default",
        {
            "metadata": {
                "name": "edge",
                "annotations": {
                    P + "internal": "false",
                    P + "keep-floatingip": "true",
                    P + "whitelist-source-range": "10.0.0.0/8,192.168.0.0/16",
                    P + "timeout-client-data": "60000",
                },
            },
            "spec": {"rules": [rule]},
        },
    )
    kept: list[str] = []
    try:
        assert reconciler.sync("default/edge").action == "ensured"
        lb = next(iter(lb_api.load_balancers(name=resource)))
        (listener,) = lb_api.listeners(load_balancer_id=lb.id)
        assert (listener.protocol, listener.protocol_port) == ("HTTP", 80)
        assert sorted(listener.allowed_cidrs) == ["10.0.0.0/8", "192.168.0.0/16"]
        assert listener.timeout_client_data == 60000
        (fip,) = net.ips(port_id=lb.vip_port_id)
        kept.append(fip.id)
        assert fip.description == (
            f"Floating IP for Kubernetes ingress edge in namespace default from cluster {cluster}"
        )
        ingress: Any = kube.net.read_namespaced_ingress("edge", "default")
        assert ingress.status.load_balancer.ingress[0].ip == fip.floating_ip_address

        # TLS added: same LB and floating IP, the listener replaced by TERMINATED_HTTPS:443.
        kube.net.patch_namespaced_ingress(
            "edge", "default", {"spec": {"tls": [{"secretName": "site-tls"}]}}
        )
        assert reconciler.sync("default/edge").action == "ensured"
        assert [x.id for x in lb_api.load_balancers(name=resource)] == [lb.id]
        assert [x.id for x in net.ips(port_id=lb.vip_port_id)] == [fip.id]
        (listener,) = lb_api.listeners(load_balancer_id=lb.id)
        assert (listener.protocol, listener.protocol_port) == ("TERMINATED_HTTPS", 443)
        assert sorted(listener.allowed_cidrs) == ["10.0.0.0/8", "192.168.0.0/16"]
        (secret,) = [
            s
            for s in km.secrets()
            if s.name == naming.secret_name(cluster, "default", "edge", "site-tls")
        ]
        assert listener.default_tls_container_ref == secret.secret_ref
        assert listener.sni_container_refs == [secret.secret_ref]
        payload = km.get(
            f"/secrets/{secret.secret_ref.rsplit('/', 1)[-1]}/payload",
            headers={"Accept": "application/octet-stream"},
        ).content
        bundle = pkcs12.load_pkcs12(payload, None)
        assert bundle.cert is not None and bundle.cert.certificate == cert
        (policy,) = lb_api.l7_policies(listener_id=listener.id)
        values = {r.rule_value for r in lb_api.l7_rules(policy.id)}
        assert values == {r"^site\.example\.com(:443)?$"}
        ingress = kube.net.read_namespaced_ingress("edge", "default")
        assert ingress.status.load_balancer.ingress[0].ip == fip.floating_ip_address
        assert reconciler.sync("default/edge").action == "skipped"

        # Delete: the floating IP stays (keep-floatingip), free; the rest is gone.
        kube.net.delete_namespaced_ingress("edge", "default")
        assert reconciler.sync("default/edge").action == "deleted"
        assert list(lb_api.load_balancers(name=resource)) == []
        kept_fip = net.get_ip(fip.id)
        assert kept_fip.port_id is None
        assert [s for s in km.secrets() if str(s.name).startswith(resource)] == []
        assert list(net.ports(id=lb.vip_port_id)) == []
    finally:
        delete_lbs(ingress_conn, resource)
        for fip_id in kept:
            net.delete_ip(fip_id, ignore_missing=True)
        for s in km.secrets():
            if str(s.name).startswith(resource):
                km.delete_secret(s, ignore_missing=True)
