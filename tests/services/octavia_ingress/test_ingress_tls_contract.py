"""TLS, floating IPs, listener options and IngressClass selection on the real Octavia,
Neutron and Barbican of the test cloud: one Ingress taken through its life.

It is picked up through the default IngressClass (no annotation), gets a floating IP, allowed
CIDRs and a timeout; then TLS is added, and the listener becomes TERMINATED_HTTPS on the same
load balancer and floating IP (CPO cannot change the protocol); each certificate is a PKCS#12
secret in Barbican, the first the default, all for SNI; a certificate rotated into a new Secret
replaces its Barbican secret on the same listener. TLS removed again goes back to HTTP on
the same LB and floating IP and releases the Barbican secrets. On delete the floating IP is
kept (``keep-floatingip``) and every other object is gone.
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


def _secret(kube: Kube, tmp_path: Path, name: str = "site-tls") -> x509.Certificate:
    (tmp_path / name).mkdir()
    files = self_signed_localhost(tmp_path / name)
    cert = Path(files.cert).read_bytes()
    key = Path(files.key).read_bytes()
    kube.core.create_namespaced_secret(
        "default",
        {
            "metadata": {"name": name},
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
    _secret(kube, tmp_path, "alt-tls")
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

        # TLS added (two certificates, SNI): same LB and floating IP, the listener replaced
        # by TERMINATED_HTTPS:443.
        tls = [
            {"secretName": "site-tls", "hosts": ["site.example.com"]},
            {"secretName": "alt-tls", "hosts": ["alt.example.com"]},
        ]
        kube.net.patch_namespaced_ingress("edge", "default", {"spec": {"tls": tls}})
        assert reconciler.sync("default/edge").action == "ensured"
        assert [x.id for x in lb_api.load_balancers(name=resource)] == [lb.id]
        assert [x.id for x in net.ips(port_id=lb.vip_port_id)] == [fip.id]
        (listener,) = lb_api.listeners(load_balancer_id=lb.id)
        assert (listener.protocol, listener.protocol_port) == ("TERMINATED_HTTPS", 443)
        assert sorted(listener.allowed_cidrs) == ["10.0.0.0/8", "192.168.0.0/16"]
        stored = {s.name: s for s in km.secrets() if str(s.name).startswith(resource)}
        secret = stored[naming.secret_name(cluster, "default", "edge", "site-tls")]
        alt = stored[naming.secret_name(cluster, "default", "edge", "alt-tls")]
        assert len(stored) == 2
        # CPO: the first spec.tls entry is the default certificate, every one is for SNI.
        assert listener.default_tls_container_ref == secret.secret_ref
        assert sorted(listener.sni_container_refs) == sorted([secret.secret_ref, alt.secret_ref])
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

        # Rotation as documented: the new certificate in a new Secret named in spec.tls. The
        # listener switches to its Barbican secret in place; the old one is deleted after.
        rotated = _secret(kube, tmp_path, "alt-tls-2")
        tls[1] = {"secretName": "alt-tls-2", "hosts": ["alt.example.com"]}
        kube.net.patch_namespaced_ingress("edge", "default", {"spec": {"tls": tls}})
        assert reconciler.sync("default/edge").action == "ensured"
        (now,) = lb_api.listeners(load_balancer_id=lb.id)
        assert now.id == listener.id
        stored = {s.name: s for s in km.secrets() if str(s.name).startswith(resource)}
        new = stored[naming.secret_name(cluster, "default", "edge", "alt-tls-2")]
        assert set(stored) == {secret.name, new.name}  # alt-tls's Barbican secret is gone
        assert now.default_tls_container_ref == secret.secret_ref
        assert sorted(now.sni_container_refs) == sorted([secret.secret_ref, new.secret_ref])
        payload = km.get(
            f"/secrets/{new.secret_ref.rsplit('/', 1)[-1]}/payload",
            headers={"Accept": "application/octet-stream"},
        ).content
        bundle = pkcs12.load_pkcs12(payload, None)
        assert bundle.cert is not None and bundle.cert.certificate == rotated

        # TLS removed again: HTTP:80 on the same LB and floating IP; the Barbican secrets the
        # listener no longer names are deleted.
        kube.net.patch_namespaced_ingress("edge", "default", {"spec": {"tls": None}})
        assert reconciler.sync("default/edge").action == "ensured"
        assert [x.id for x in lb_api.load_balancers(name=resource)] == [lb.id]
        assert [x.id for x in net.ips(port_id=lb.vip_port_id)] == [fip.id]
        (listener,) = lb_api.listeners(load_balancer_id=lb.id)
        assert (listener.protocol, listener.protocol_port) == ("HTTP", 80)
        assert not listener.default_tls_container_ref and not listener.sni_container_refs
        assert sorted(listener.allowed_cidrs) == ["10.0.0.0/8", "192.168.0.0/16"]
        assert [s for s in km.secrets() if str(s.name).startswith(resource)] == []
        (policy,) = lb_api.l7_policies(listener_id=listener.id)
        assert {r.rule_value for r in lb_api.l7_rules(policy.id)} == {r"^site\.example\.com(:80)?$"}
        ingress = kube.net.read_namespaced_ingress("edge", "default")
        assert ingress.status.load_balancer.ingress[0].ip == fip.floating_ip_address

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
