"""Octavia TLS listeners backed by Barbican, end to end: a TERMINATED_HTTPS listener whose
certificate is a PKCS12 secret (what CPO's ingress stores) or a legacy certificate container
becomes a real ACTIVE object; Octavia reads it as its service user after granting itself read
access through the secret's ACL, as on a real cloud; a ref that is not there is a 400.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from openstack import exceptions
from openstack.connection import Connection

from osk8s_testing.tls import self_signed_localhost

from .conftest import TestCloud

pytestmark = pytest.mark.contract


@pytest.fixture(scope="module")
def key_and_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, x509.Certificate]:
    """A throw-away key and certificate (the tooling's self-signed pair), loaded."""
    files = self_signed_localhost(tmp_path_factory.mktemp("tls"))
    key = serialization.load_pem_private_key(Path(files.key).read_bytes(), password=None)
    return key, x509.load_pem_x509_certificate(Path(files.cert).read_bytes())


def _secret_id(ref: str) -> str:
    return ref.rstrip("/").rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def tls_lb(demo_conn: Connection, testcloud: TestCloud) -> Iterator[Any]:
    """One load balancer for the module's listeners (each listener on its own port)."""
    lb_api: Any = demo_conn.load_balancer
    lb = lb_api.create_load_balancer(
        name=f"osk8s-contract-tls-{uuid.uuid4().hex[:8]}",
        vip_subnet_id=testcloud.network["subnet_id"],
    )
    try:
        yield lb_api.wait_for_load_balancer(lb.id, status="ACTIVE", failures=["ERROR"], wait=180)
    finally:
        lb_api.delete_load_balancer(lb.id, cascade=True, ignore_missing=True)
        lb_api.wait_for_delete(lb, wait=180)


@pytest.fixture(scope="module")
def octavia_user_id(admin_conn: Connection) -> str:
    identity: Any = admin_conn.identity
    user_id: str = identity.find_user("octavia", domain_id="default", ignore_missing=False).id
    return user_id


@dataclass
class Made:
    """What a test made: listeners go before the certificates they use (Octavia re-reads
    every listener's certificate on each change of the load balancer)."""

    lb: Any
    listeners: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)


@pytest.fixture
def made(demo_conn: Connection, tls_lb: Any) -> Iterator[Made]:
    record = Made(lb=tls_lb)
    yield record
    lb_api: Any = demo_conn.load_balancer
    km: Any = demo_conn.key_manager
    for listener_id in record.listeners:
        lb_api.delete_listener(listener_id, ignore_missing=True)
        lb_api.wait_for_load_balancer(tls_lb.id, status="ACTIVE", failures=["ERROR"], wait=120)
    for ref in reversed(record.refs):
        if "/containers/" in ref:
            km.delete_container(_secret_id(ref), ignore_missing=True)
        else:
            km.delete_secret(_secret_id(ref), ignore_missing=True)


def _tls_listener(demo_conn: Connection, lb: Any, made: Made, port: int, ref: str) -> Any:
    lb_api: Any = demo_conn.load_balancer
    listener = lb_api.create_listener(
        name=f"osk8s-contract-tls-{port}",
        loadbalancer_id=lb.id,
        protocol="TERMINATED_HTTPS",
        protocol_port=port,
        default_tls_container_ref=ref,
        sni_container_refs=[ref],
    )
    made.listeners.append(listener.id)
    lb_api.wait_for_load_balancer(lb.id, status="ACTIVE", failures=["ERROR"], wait=120)
    return lb_api.get_listener(listener.id)


def test_terminated_https_listener_with_pkcs12_secret(
    demo_conn: Connection,
    octavia_user_id: str,
    made: Made,
    name: str,
    key_and_cert: tuple[Any, x509.Certificate],
) -> None:
    key, cert = key_and_cert
    bundle = pkcs12.serialize_key_and_certificates(
        name.encode(), key, cert, None, serialization.NoEncryption()
    )
    km: Any = demo_conn.key_manager
    secret = km.create_secret(
        name=name,
        payload=base64.b64encode(bundle).decode(),
        payload_content_type="application/octet-stream",
        payload_content_encoding="base64",
        secret_type="opaque",
    )
    made.refs.append(secret.secret_ref)
    listener = _tls_listener(demo_conn, made.lb, made, 443, secret.secret_ref)
    assert listener.provisioning_status == "ACTIVE"
    assert listener.protocol == "TERMINATED_HTTPS"
    assert listener.default_tls_container_ref == secret.secret_ref
    assert listener.sni_container_refs == [secret.secret_ref]
    # Octavia granted its own service user read access with the caller's token.
    acl = km.get(f"/secrets/{_secret_id(secret.secret_ref)}/acl").json()
    assert octavia_user_id in acl["read"]["users"]


def test_terminated_https_listener_with_certificate_container(
    demo_conn: Connection,
    made: Made,
    name: str,
    key_and_cert: tuple[Any, x509.Certificate],
) -> None:
    key, cert = key_and_cert
    km: Any = demo_conn.key_manager
    pem = {
        "certificate": cert.public_bytes(serialization.Encoding.PEM),
        "private_key": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    }
    refs = []
    for part, data in pem.items():
        secret = km.create_secret(
            name=f"{name}-{part}",
            payload=data.decode(),
            payload_content_type="text/plain",
            secret_type="certificate" if part == "certificate" else "private",
        )
        made.refs.append(secret.secret_ref)
        refs.append({"name": part, "secret_ref": secret.secret_ref})
    container = km.create_container(name=name, type="certificate", secret_refs=refs)
    made.refs.append(container.container_ref)
    listener = _tls_listener(demo_conn, made.lb, made, 8443, container.container_ref)
    assert listener.provisioning_status == "ACTIVE"
    assert listener.default_tls_container_ref == container.container_ref


def test_tls_ref_that_does_not_exist_is_refused(
    demo_conn: Connection, tls_lb: Any, name: str
) -> None:
    lb_api: Any = demo_conn.load_balancer
    missing = "http://127.0.0.1:9311/v1/secrets/00000000-0000-4000-8000-000000000000"
    with pytest.raises(exceptions.BadRequestException, match="Could not retrieve certificate"):
        lb_api.create_listener(
            name=name,
            loadbalancer_id=tls_lb.id,
            protocol="TERMINATED_HTTPS",
            protocol_port=9443,
            default_tls_container_ref=missing,
        )
    assert not [li for li in lb_api.listeners(loadbalancer_id=tls_lb.id) if li.name == name]
