"""Failures on the test cloud's real Manila: 5xx, 429, timeouts and lost answers on share
create, access rule grant and delete converge with no duplicate share or rule (Keystone and
Manila behind fault proxies with catalog rewriting); a share that goes to ``error`` is deleted
and reported with the code Manila's user message implies; a rule in ``error`` is a clear error.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import openstack
import pytest
from openstack.config.loader import OpenStackConfig

from osk8s_core.grpc.csi import FailedPrecondition
from osk8s_core.openstack.shares import AccessRuleSpec
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.proto.csi import csi_pb2
from osk8s_manila_csi.adapters import NfsAdapter
from osk8s_manila_csi.provision import ensure_rules
from osk8s_testing.csi.checks import unique
from osk8s_testing.csi.fakes import converge
from osk8s_testing.csi.requests import MNMW, create_req, status_of
from osk8s_testing.faultproxy.rules import Hang, LoseAnswer, Respond, error, rate_limited
from osk8s_testing.faultproxy.server import FaultProxy
from osk8s_testing.testcloud.layout import Layout, resolve_dir

from .manila_harness import FAST, Driver, start

pytestmark = pytest.mark.contract

# Every proxied call (Keystone's password auth included) must answer within the client timeout
# on a loaded CI machine; only the held one may not (the timeout cases hold it longer).
CLIENT_TIMEOUT = 8.0
HANG = Hang(CLIENT_TIMEOUT + 4)

_ACTION = r"/shares/[0-9a-f-]{36}/action$"


class Faulty:
    def __init__(self, driver: Driver, manila: FaultProxy, direct: Driver) -> None:
        self.driver = driver
        self.manila = manila
        self.direct = direct

    def create(self, name: str, **params: str) -> Any:
        request = create_req(name, mode=MNMW, secrets=self.driver.secrets, parameters=params)
        return self.driver.controller.CreateVolume(request)

    def shares(self, name: str) -> list[Any]:
        return [s for s in self.direct.view().shares.query(name=name) if s.name == name]

    def delete_all(self, name: str) -> None:
        for share in self.shares(name):
            self.direct.view().shares.delete(share.id, wait=True)


@pytest.fixture(scope="module")
def direct(demo_secrets: dict[str, str]) -> Iterator[Driver]:
    with start(demo_secrets) as driver:
        yield driver


@pytest.fixture
def faulty(fault_proxy: Any, demo_secrets: dict[str, str], direct: Driver) -> Iterator[Faulty]:
    fleet = fault_proxy.fleet(
        {"keystone": "http://127.0.0.1:5000", "manila": "http://127.0.0.1:8786"}
    )
    secrets = {**demo_secrets, "os-authURL": f"{fleet['keystone'].url}/v3"}
    with start(secrets, client_timeout=CLIENT_TIMEOUT) as driver:
        yield Faulty(driver, fleet["manila"], direct)


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(error(503), id="503"),
        pytest.param(rate_limited(1), id="429"),
        pytest.param(HANG, id="timeout"),
        pytest.param(LoseAnswer(), id="lost-answer"),
    ],
)
def test_share_create_converges_to_one_share(faulty: Faulty, fault: Any) -> None:
    name = unique()
    faulty.manila.inject(fault, method="POST", path=r"/shares$", first=1)
    try:
        converge(lambda: faulty.create(name))
        [share] = faulty.shares(name)
        [rule] = faulty.direct.view().shares.access_rules(share.id)
        assert rule.state == "active"
        # One faulted attempt, then one that landed (or none, when the lost answer's share
        # was found by name): never a third create.
        assert faulty.manila.calls.count("POST", r"/shares$") <= 2
    finally:
        faulty.delete_all(name)


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(error(500), id="500"),
        pytest.param(rate_limited(1), id="429"),
        pytest.param(HANG, id="timeout"),
        pytest.param(LoseAnswer(), id="lost-answer"),
    ],
)
def test_access_grant_converges_to_one_rule(faulty: Faulty, fault: Any) -> None:
    name = unique()
    faulty.manila.inject(fault, method="POST", path=_ACTION, first=1)
    try:
        converge(lambda: faulty.create(name, **{"nfs-shareClient": "10.1.0.0/16"}))
        [share] = faulty.shares(name)
        rules = faulty.direct.view().shares.access_rules(share.id)
        assert [(r.access_to, r.state) for r in rules] == [("10.1.0.0/16", "active")]
    finally:
        faulty.delete_all(name)


@pytest.mark.parametrize(
    "fault", [pytest.param(error(503), id="503"), pytest.param(HANG, id="timeout")]
)
def test_delete_converges(faulty: Faulty, fault: Any) -> None:
    name = unique()
    volume = faulty.create(name).volume
    faulty.manila.inject(fault, method="DELETE", path=r"/shares/[0-9a-f-]{36}$", first=1)
    request = csi_pb2.DeleteVolumeRequest(volume_id=volume.volume_id, secrets=faulty.driver.secrets)
    try:
        converge(lambda: faulty.driver.controller.DeleteVolume(request))
        assert faulty.shares(name) == []
        faulty.driver.controller.DeleteVolume(request)  # gone: still success
    finally:
        faulty.delete_all(name)


# errors Manila reports asynchronously ------------------------------------------------------


@pytest.fixture(scope="module")
def unschedulable_type() -> Iterator[str]:
    """A public share type no back end of the test cloud can host (no such back end name)."""
    layout = Layout(resolve_dir(None, os.environ))
    config = OpenStackConfig(config_files=[str(layout.clouds_yaml)], load_envvars=False)
    admin = openstack.connection.Connection(config=config.get_one(cloud="osk8s-admin"))
    name = f"osk8s-csi-nohost-{uuid.uuid4().hex[:6]}"
    headers = {"X-OpenStack-Manila-API-Version": "2.50"}
    body = {
        "share_type": {
            "name": name,
            "share_type_access:is_public": True,
            "extra_specs": {
                "driver_handles_share_servers": "False",
                "share_backend_name": "osk8s-no-such-backend",
            },
        }
    }
    sfs = admin.shared_file_system
    created = sfs.post("/types", json=body, headers=headers)
    assert created.status_code == 200, created.text
    type_id = created.json()["share_type"]["id"]
    try:
        yield name
    finally:
        sfs.delete(f"/types/{type_id}", headers=headers)
        admin.close()


def test_share_in_error_is_deleted_and_explained(direct: Driver, unschedulable_type: str) -> None:
    name = unique()
    request = create_req(
        name, mode=MNMW, secrets=direct.secrets, parameters={"type": unschedulable_type}
    )
    failure = status_of(direct.controller.CreateVolume, request)
    assert failure.code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert "went into status error" in failure.details
    assert "No storage could be allocated" in failure.details
    assert [s for s in direct.view().shares.query(name=name) if s.name == name] == []


def test_rule_in_error_is_a_clear_error(direct: Driver) -> None:
    volume = direct.controller.CreateVolume(
        create_req(unique(), mode=MNMW, secrets=direct.secrets)
    ).volume
    manila = direct.view()
    try:
        # The dummy back end refuses cephx on an NFS share: the rule goes to ``error``.
        with pytest.raises(FailedPrecondition, match=r"cephx:alice .*went into status error"):
            ensure_rules(
                manila,
                volume.volume_id,
                NfsAdapter(),
                [AccessRuleSpec("cephx", "alice")],
                Waiter(policy=FAST),
            )
    finally:
        manila.shares.delete(volume.volume_id, wait=True)


def test_a_manila_older_than_2_37_is_refused(
    fault_proxy: Any, demo_secrets: dict[str, str]
) -> None:
    """The version document says 2.0-2.30: every RPC fails clearly before any share call."""
    fleet = fault_proxy.fleet(
        {"keystone": "http://127.0.0.1:5000", "manila": "http://127.0.0.1:8786"}
    )
    manila = fleet["manila"]
    version = {
        "id": "v2.0",
        "status": "CURRENT",
        "version": "2.30",
        "min_version": "2.0",
        "links": [{"href": f"{manila.url}/v2/", "rel": "self"}],
    }
    body = json.dumps({"versions": [version], "version": version})
    manila.inject(Respond(status=200, body=body.encode()), method="GET", path=r"^/(v2/?)?$")
    manila.inject(
        Respond(status=200, body=body.encode()), method="GET", path=r"^/v2/[0-9a-f]{32}/?$"
    )
    secrets = {**demo_secrets, "os-authURL": f"{fleet['keystone'].url}/v3"}
    with start(secrets) as driver:
        request = create_req(unique(), mode=MNMW, secrets=secrets)
        failure = status_of(driver.controller.CreateVolume, request)
        assert failure.code == grpc.StatusCode.FAILED_PRECONDITION, failure
        assert "2.37 is outside the server's range 2.0-2.30" in failure.details
        assert manila.calls.count("POST", r"/shares") == 0
