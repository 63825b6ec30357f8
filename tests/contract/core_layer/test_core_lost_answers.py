""" "The create happened but the caller never heard": each create path of the core layer, with
its answer lost by the fault proxy after the real service acted, converges to exactly one
resource (Cinder volume, Nova volume attachment, Barbican secret) or a working session (a
Keystone token issued and lost).

Keystone, Cinder, Nova and Barbican are fronted by one fleet of proxies with catalog
rewriting; the connection is built the production way with a short HTTP timeout, so the
"hang" variant turns the lost answer into a read timeout. What really exists is counted over
an unproxied connection.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from openstack.connection import Connection

from osk8s_core.config.auth import AuthOptions
from osk8s_core.credentials.connection import ClientSettings, build_connection
from osk8s_core.credentials.tls import CaFileStore
from osk8s_core.openstack.secrets import Secrets, secret_id
from osk8s_core.openstack.servers import Servers
from osk8s_core.openstack.volumes import Volumes, VolumeSpec
from osk8s_core.secrets import SecretStr
from osk8s_testing.faultproxy import FaultProxy, LoseAnswer
from osk8s_testing.faultproxy.fixtures import FaultProxyFactory
from osk8s_testing.testcloud.boot import boot_flavor_id, boot_image_id

from ..conftest import TestCloud
from .conftest import Cleanup, Core, require_service

pytestmark = pytest.mark.contract

KEYSTONE = "http://127.0.0.1:5000"
UPSTREAMS = {
    "keystone": KEYSTONE,
    "cinder": "http://127.0.0.1:8776",
    "nova": "http://127.0.0.1:8774",
    "barbican": "http://127.0.0.1:9311",
}
# Short enough for a quick "hang" case, long enough that every other call (Nova's attach, a
# synchronous RPC; Keystone's password auth) answers within it on a loaded CI machine.
SHORT = ClientSettings(component="osk8s-contract-lost", version="0", timeout=8)
LOSSES = [LoseAnswer(after="reset"), LoseAnswer(after="hang", seconds=12)]


@dataclass
class Proxied:
    core: Core
    """The layer under test, every call through the proxies."""
    direct: Core
    """The same project unproxied, to count what really exists."""
    proxies: dict[str, FaultProxy]


@pytest.fixture
def proxied(
    core: Core, core_auth: AuthOptions, fault_proxy: FaultProxyFactory
) -> Iterator[Proxied]:
    fleet = fault_proxy.fleet(UPSTREAMS)
    assert core_auth.auth_url is not None and core_auth.auth_url.startswith(KEYSTONE)
    auth = dataclasses.replace(
        core_auth, auth_url=core_auth.auth_url.replace(KEYSTONE, fleet["keystone"].url)
    )
    store = CaFileStore()
    conn: Connection = build_connection(auth, settings=SHORT, ca_store=store)
    try:
        view = dataclasses.replace(core, client=core.client_for(conn))
        yield Proxied(core=view, direct=core, proxies=fleet)
    finally:
        conn.close()
        store.close()


def _delete_volumes(volumes: Volumes, name: str) -> None:
    for volume in volumes.query(name=name):
        volumes.delete(volume.id, wait=True)


def _delete_secrets(secrets: Secrets, name: str) -> None:
    for secret in secrets.query(name=name):
        secrets.delete(str(secret.secret_ref))


def _lost(proxy: FaultProxy, method: str, path: str) -> list[int | None]:
    """Upstream statuses of the calls whose answers were lost (the service did answer)."""
    return [c.upstream_status for c in proxy.calls.matching(method, path) if c.fault]


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: loss.after)
def test_cinder_volume_create(
    proxied: Proxied, cleanup: Cleanup, name: str, loss: LoseAnswer
) -> None:
    cinder = proxied.proxies["cinder"]
    cinder.inject(loss, method="POST", path=r"/volumes$", first=1)
    volumes = Volumes(proxied.core.client, waiter=proxied.core.waiter)
    direct = Volumes(proxied.direct.client, waiter=proxied.direct.waiter)
    cleanup.add(lambda: _delete_volumes(direct, name))

    volume = volumes.create(VolumeSpec(name=name, size_gb=1))

    assert [v.id for v in direct.query(name=name)] == [volume.id]
    assert _lost(cinder, "POST", r"/volumes$") == [202]
    assert cinder.calls.count("POST", r"/volumes$") == 1  # looked up, never created twice
    assert volumes.create(VolumeSpec(name=name, size_gb=1)).id == volume.id


@pytest.fixture(scope="module")
def server_id(testcloud: TestCloud, core_conn: Connection) -> Iterator[str]:
    """One Nova server for the module's attach cases (booting is the expensive part)."""
    if "compute" not in {entry["type"] for entry in core_conn.service_catalog}:
        pytest.skip("test cloud runs no Nova (`osk8s-testcloud up all`)")
    compute = core_conn.compute
    flavor_id, image_id = boot_flavor_id(core_conn), boot_image_id(core_conn)
    server = compute.create_server(
        name=f"osk8s-lost-answers-{uuid.uuid4().hex[:8]}",
        flavor_id=flavor_id,
        image_id=image_id,
        networks=[{"uuid": testcloud.network["network_id"]}],
    )
    try:
        compute.wait_for_server(server, status="ACTIVE", wait=180)
        yield server.id
    finally:
        compute.delete_server(server.id, ignore_missing=True)


def test_nova_volume_attach(proxied: Proxied, cleanup: Cleanup, name: str, server_id: str) -> None:
    require_service(proxied.direct.conn, "compute")
    direct_volumes = Volumes(proxied.direct.client, waiter=proxied.direct.waiter)
    direct_servers = Servers(proxied.direct.client, waiter=proxied.direct.waiter)
    volume = direct_volumes.create(VolumeSpec(name=name, size_gb=1))
    cleanup.add(lambda: direct_volumes.delete(volume.id, wait=True))
    cleanup.add(lambda: _detach(proxied.direct, direct_servers, server_id, volume.id))
    nova = proxied.proxies["nova"]
    path = rf"/servers/{server_id}/os-volume_attachments$"
    nova.inject(LoseAnswer(), method="POST", path=path, first=1)

    attachment = Servers(proxied.core.client, waiter=proxied.core.waiter).attach_volume(
        server_id, volume.id
    )

    assert attachment.volume_id == volume.id
    assert [a.volume_id for a in direct_servers.volume_attachments(server_id)].count(volume.id) == 1
    assert _lost(nova, "POST", path) == [200]
    assert nova.calls.count("POST", path) == 1


def _detach(core: Core, servers: Servers, server_id: str, volume_id: str) -> None:
    # Nova attaches asynchronously: a detach while the attach is still running is refused.
    core.waiter.until(
        lambda: Volumes(core.client).get(volume_id),
        target="in-use",
        describe=f"attach of {volume_id}",
    )
    servers.detach_volume(server_id, volume_id)
    core.waiter.until(
        lambda: Volumes(core.client).get(volume_id),
        target="available",
        describe=f"detach of {volume_id}",
    )


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: loss.after)
def test_barbican_secret_store(
    proxied: Proxied, cleanup: Cleanup, name: str, loss: LoseAnswer
) -> None:
    barbican = proxied.proxies["barbican"]
    barbican.inject(loss, method="POST", path=r"/secrets/?$", first=1)
    direct = Secrets(proxied.direct.client)
    cleanup.add(lambda: _delete_secrets(direct, name))

    ref = Secrets(proxied.core.client).store_text(name, SecretStr("lost-answer-payload"))

    assert [secret_id(str(s.secret_ref)) for s in direct.query(name=name)] == [secret_id(ref)]
    assert _lost(barbican, "POST", r"/secrets/?$") == [201]
    assert direct.payload_text(ref).reveal() == "lost-answer-payload"


def test_keystone_token_issue(proxied: Proxied, name: str) -> None:
    keystone = proxied.proxies["keystone"]
    keystone.inject(LoseAnswer(), method="POST", path=r"/v3/auth/tokens$", first=1)

    found = Volumes(proxied.core.client).query(name=name)  # authenticates inside the call

    assert found == []
    # The first token was issued and lost; the call layer retried and authenticated again.
    assert _lost(keystone, "POST", r"/v3/auth/tokens$") == [201]
    assert keystone.calls.count("POST", r"/v3/auth/tokens$") == 2
